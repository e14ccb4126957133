"""SQL statements and commits the state store makes per mirrored change.

bridge's own CPU per change is mostly the SQLite store's, so this counts what the store does: every
statement the engine sends (SQLAlchemy's ``before_cursor_execute`` event) and every commit, per change
mirrored, on a SQLite file in WAL mode as shipped. The vendors are the in-memory connectors (no HTTP):
the store's work does not depend on how the vendors are reached, and the figures stay exact.

Three phases, each one cycle over ``--changes`` records: new records (each becomes an issue, a link and
its synced values), a field change on each (mirrored to Jira), and a comment on each (mirrored).

    .venv/bin/python -m bench.sql_cost [--changes 200] [--url postgresql+psycopg://…]

``--url``: an empty PostgreSQL database instead (the same statements, each a round trip to the server;
the state's size is then its tables' with their indexes and TOAST).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench._common import emit, quiet_logs, table
from bridge.connectors.memory import ManualClock, MemoryItsm, MemoryJira
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref
from bridge.store import Store
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine

TARGET = 10.0

MAPPING: dict[str, Any] = {
    "name": "incidents",
    "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {
        "summary": {"template": "{{ record.key }}: {{ short_description }}"},
        "priority": {"itsm": "priority", "map": {"1": "Highest", "2": "High", "3": "Medium", "4": "Low"},
                     "default": "Medium", "itsm_default": "3", "direction": "both"},
    },
    "status": {"to_jira": {"2": "In Progress"}, "to_itsm": {"In Progress": "2"}},
}


class Counter:
    """Statements and commits on one engine."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def attach(self, store: Store) -> None:
        def statement(*_: Any) -> None:
            self.statements += 1

        def commit(*_: Any) -> None:
            self.commits += 1

        event.listen(store.engine, "before_cursor_execute", statement)
        event.listen(store.engine, "commit", commit)


@contextmanager
def world(directory: Path, url: str | None = None) -> Iterator[tuple[Engine, MemoryItsm, ManualClock, Counter]]:
    clock = ManualClock()
    itsm, jira = MemoryItsm(clock=clock), MemoryJira(clock=clock)
    store = Store.open(url or f"sqlite:///{directory / 'bridge.sqlite3'}")
    counter = Counter()
    counter.attach(store)
    spec = MappingSpec.model_validate(MAPPING)
    engine = Engine(store, itsm, jira, [spec], clock=clock)  # type: ignore[arg-type]
    try:
        yield engine, itsm, clock, counter
    finally:
        store.close()


def phase(engine: Engine, clock: ManualClock, counter: Counter, change: Callable[[], None]) -> dict[str, Any]:
    change()
    clock.advance(5)  # type: ignore[call-arg]
    before = (counter.statements, counter.commits)
    report: CycleReport = run_cycle(engine, MAPPING["name"])
    statements, commits = counter.statements - before[0], counter.commits - before[1]
    done = sum(1 for o in report.outcomes if o.status.value == "done")
    return {"actions": done, "statements": statements, "commits": commits}


def state_size(engine: Engine, directory: Path) -> int:
    """Bytes of the database file after a checkpoint (the WAL folded in); on PostgreSQL, of the tables in
    the current schema with their indexes and TOAST."""
    with engine.store.engine.connect() as connection:
        if engine.store.dialect == "postgresql":
            return int(connection.exec_driver_sql(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            ).scalar_one())
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in directory.glob("bridge.sqlite3*"))


def run(changes: int, url: str | None = None) -> tuple[list[dict[str, Any]], float]:
    """The phases' figures, and the state's bytes per link at the end."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, world(Path(tmp), url) as (engine, itsm, clock, counter):
        refs: list[Ref] = []

        def create() -> None:
            for n in range(changes):
                refs.append(itsm.create_record(
                    "incident", {"short_description": f"Printer {n} on fire", "category": "software",
                                 "priority": "3"}, state="1"))

        def edit() -> None:
            for ref in refs:
                itsm.edit(ref, priority="2")

        def comment() -> None:
            for ref in refs:
                itsm.comment(ref, "Restarted the spooler, still failing.", channel="comments")

        for name, change in (("new record", create), ("field change", edit), ("comment", comment)):
            figures = phase(engine, clock, counter, change)
            rows.append({"phase": name, "changes": changes, **figures,
                         "statements_per_change": figures["statements"] / changes,
                         "commits_per_change": figures["commits"] / changes})
        return rows, state_size(engine, Path(tmp)) / changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.sql_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200, help="changes per phase (default 200)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--url", default=None, help="an empty PostgreSQL database (default: a new SQLite file)")
    args = parser.parse_args(argv)
    quiet_logs()
    rows, per_link = run(args.changes, args.url)
    where = "PostgreSQL" if args.url and args.url.startswith("postgresql") else "SQLite, WAL"
    total_changes = sum(r["changes"] for r in rows)
    average = sum(r["statements"] for r in rows) / total_changes
    text = table(f"SQL per mirrored change ({where}) — target: ≤ {TARGET:g} statements on average",
                 ["phase", "changes", "actions", "statements", "commits", "stmts/change", "commits/change"],
                 [[r["phase"], r["changes"], r["actions"], r["statements"], r["commits"],
                   f"{r['statements_per_change']:.1f}", f"{r['commits_per_change']:.1f}"] for r in rows])
    text += f"\naverage: {average:.1f} statements per change; state: {per_link / 1024:.1f} KB per link"
    emit(text, {"rows": rows, "average_statements_per_change": average, "target": TARGET,
                "state_bytes_per_link": per_link}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
