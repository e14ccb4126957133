"""What every benchmark shares: a bridge (store, both real connectors, the shipped mapping) wired to the
sandbox process, the store side of the fast seeding path, and the small table / JSON output.

The benchmarks use the production code paths end to end — :func:`bridge.sync.cycle.run_cycle`, the real
:class:`~bridge.connectors.jira.JiraConnector` and :class:`~bridge.connectors.servicenow.ServiceNowConnector`
over HTTP on 127.0.0.1 — so a figure here is what an operator would see, minus the network.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench._sandboxes import JIRA_PROJECT, REPO, SandboxProcess, issue_version, link_plan
from bridge.connectors.http import HttpOptions
from bridge.connectors.jira import JiraConnector
from bridge.connectors.servicenow import ServiceNowConnector
from bridge.logging import configure_logging
from bridge.mapping.loader import load_mapping_file
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_TOKEN
from bridge.sandbox.servicenow import API_PASSWORD, API_USER
from bridge.store import Store
from bridge.sync.actions import SyncedUpdate
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine, EngineOptions

MAPPING_FILE = REPO / "mappings" / "incident-to-bug.yaml"


def shipped_mapping() -> MappingSpec:
    """The shipped incident → Bug mapping, pointed at the sandbox's project (the sandbox has OPS and DEV)."""
    result = load_mapping_file(MAPPING_FILE)
    if result.errors or not result.mappings:
        raise SystemExit(f"{MAPPING_FILE} does not load: {[str(p) for p in result.errors]}")
    data = result.mappings[0].mapping.model_dump(mode="json", exclude_none=True, by_alias=True)
    data["target"]["project"] = JIRA_PROJECT
    # The priority rule only: every seeded incident is in the mapping's group, and a dot-walked reference
    # condition would cost the ServiceNow query a join the figures should not depend on.
    data["route"]["where"] = {"field": "priority", "lte": 3}
    return MappingSpec.model_validate(data)


def http_options(url: str, *, rate: float = 10_000.0, burst: int = 10_000) -> HttpOptions:
    """The connectors' HTTP options; ``rate`` is bridge's own client-side budget (requests per second)."""
    return HttpOptions(base_url=url, requests_per_second=rate, burst=burst, read_timeout=120.0,
                       max_attempts=8, backoff_base=0.2, max_backoff=30.0)


@dataclass
class Bridge:
    """One bridge process: store in a temp dir, both connectors on the sandboxes, an engine, the mapping."""

    sandboxes: SandboxProcess
    rate: float = 10_000.0
    burst: int = 10_000
    parallel_sides: bool = False
    workers_per_side: int = 1
    #: ``engine.cycle_budget`` (``None``: a cycle applies everything it plans)
    cycle_budget: int | None = None
    #: ``engine.cycle_seconds`` (``None``: no time bound)
    cycle_seconds: float | None = None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bridge-bench-")))
    spec: MappingSpec = field(default_factory=shipped_mapping)

    def __post_init__(self) -> None:
        self.store = Store.open(f"sqlite:///{self.directory / 'bridge.sqlite3'}")
        self.jira = JiraConnector(
            self.sandboxes.jira_url, deployment="cloud", token=SecretStr(BRIDGE_TOKEN), email=BRIDGE_EMAIL,
            http=http_options(self.sandboxes.jira_url, rate=self.rate, burst=self.burst),
            itsm_base_url=self.sandboxes.snow_url,
        )
        self.itsm = ServiceNowConnector(
            self.sandboxes.snow_url, user=API_USER, password=SecretStr(API_PASSWORD),
            options=http_options(self.sandboxes.snow_url, rate=self.rate, burst=self.burst),
        )
        # backoff_base small: a transient failure in a benchmark is retried on the next cycle, not in 30 s
        options = EngineOptions(backoff_base=1.0, parallel_sides=self.parallel_sides,
                                workers_per_side=self.workers_per_side, cycle_budget=self.cycle_budget,
                                cycle_seconds=self.cycle_seconds)
        self.engine = Engine(self.store, self.itsm, self.jira, [self.spec], options=options)

    def cycle(self) -> CycleReport:
        return run_cycle(self.engine, self.spec.name)

    def calls(self) -> dict[str, int]:
        return {"itsm": self.itsm.calls.total, "jira": self.jira.calls.total}

    def close(self) -> None:
        self.engine.close()


def seed_store_links(store: Store, mapping: str, count: int, base: datetime, jira_url: str, snow_url: str) -> None:
    """The store side of :func:`bench._sandboxes.seed_links`: each link with both items' synced values and
    the versions the connectors will read, and both cursors just past the seeds, as after a long quiet run."""
    with store.transaction():
        for index in range(count):
            seeded = link_plan(index, base)
            issue = Ref(Side.JIRA, "issue", seeded.issue_id, seeded.issue_key, f"{jira_url}/browse/{seeded.issue_key}")
            record = Ref(Side.ITSM, "incident", seeded.sys_id, seeded.number,
                         f"{snow_url}/incident.do?sys_id={seeded.sys_id}")
            link = store.create_link(mapping, issue, [record], created=base)
            # the mapping's projection, as the create would have stored it (both items hold Jira's vocabulary)
            synced = {
                "summary": f"{seeded.number}: Seeded incident {index}",
                "description": f"\n\nServiceNow incident {seeded.number}: {record.url}",
                "priority": "Medium",
                "ServiceNow number": seeded.number,
            }
            store.record_synced(link.id, SyncedUpdate(Side.ITSM, record.id, synced, "2"))
            store.record_synced(link.id, SyncedUpdate(Side.JIRA, issue.id, synced, "In Progress"))
            store.mark_seen(link.id, Side.ITSM, record.id, "1", base)
            store.mark_seen(link.id, Side.JIRA, issue.id, issue_version(seeded),
                            datetime.fromtimestamp(seeded.issue_updated_ms / 1000, UTC))
        cursor = base + timedelta(minutes=30)  # seeds are an hour old: well outside the overlap window
        store.set_cursor(mapping, Side.ITSM, cursor)
        store.set_cursor(mapping, Side.JIRA, cursor)


def quiet_logs() -> None:
    """Warnings only: a benchmark prints its own table, and logging 10,000 actions would be measured too."""
    configure_logging(level="WARNING", fmt="console", stream=sys.stderr)


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Wall and CPU seconds of the block (CPU: this process only — bridge, not the sandbox process)."""
    out: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["wall"] = time.perf_counter() - wall
        out["cpu"] = time.process_time() - cpu


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    lines = [title, "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row, raw in zip(cells, rows, strict=True):
        lines.append("  ".join(c.rjust(w) if isinstance(v, int | float) else c.ljust(w)
                               for c, w, v in zip(row, widths, raw, strict=True)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")


def emit(text: str, figures: dict[str, Any], path: Path | None) -> None:
    print(text)
    if path is not None:
        figures = {"machine_cpus": _cpus(), "python": sys.version.split()[0], **figures}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        print(f"figures written to {path}")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
