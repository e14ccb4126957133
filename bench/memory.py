"""Peak memory of a cycle with 100,000 links: the idle cycle, and the worst case — a full re-read.

The benchmark process holds bridge only: the sandboxes run in their own process and the state store is
seeded by a separate process, so the peak resident set size (``getrusage``, ``ru_maxrss``) is what a
bridge daemon with that many links would reach. Two cycles are measured, in order (the peak only grows):

1. an idle cycle (nothing changed: one search per side);
2. a backfill over everything (``run_cycle(since=…)`` before every change): both sides page through all
   100,000 items, the store loads all 100,000 links' states, the planner sees them all — what a first
   run over existing links or a long outage costs at most.

``--tracemalloc`` also reports the peak of Python allocations during the full read (slower).

``--first-sync``: instead, 100,000 (``--records``) NEW incidents the route selects and no link, and the
first cycles of a bridge that has never run, with the shipped cycle budget (``engine.cycle_budget``,
:mod:`bridge.sync.budget`): each cycle reads every new record and escalates the budget's worth, so the
peak of the first ``--cycles`` cycles is the peak of the whole first sync.

    python -m bench.memory                           # 100,000 links
    python -m bench.memory --links 1000 --json memory.json
    python -m bench.memory --first-sync --records 100000 --cycles 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import Bridge, common_arguments, emit, peak_rss_mb, quiet_logs, seed_store_links, stopwatch, table
from bench._sandboxes import SandboxProcess
from bridge.settings.schema import EngineSettings
from bridge.store import Store
from bridge.sync.cycle import run_cycle

TARGET_MB = 150.0


def _seed(url: str, mapping: str, links: int, base: datetime, jira_url: str, snow_url: str) -> None:
    store = Store.open(url)
    try:
        seed_store_links(store, mapping, links, base, jira_url, snow_url)
    finally:
        store.close()


def run(links: int, *, trace: bool, full_read: bool = True, seeded: Path | None = None,
        base: datetime | None = None) -> dict[str, Any]:
    """``seeded``: a copy of a store an earlier run seeded for the same ``links`` and ``base`` (seeding
    100,000 links takes long on a shared machine); its cursors may have moved, which an idle cycle and a
    full read (from a day before ``base``) do not notice."""
    directory = Path(tempfile.mkdtemp(prefix="bridge-bench-memory-"))
    if seeded is not None:
        shutil.copyfile(seeded, directory / "bridge.sqlite3")
    with SandboxProcess(links=links, base=base) as sandboxes:
        bridge = Bridge(sandboxes, directory=directory)
        try:
            if seeded is None:
                seeder = multiprocessing.get_context("spawn").Process(
                    target=_seed,
                    args=(f"sqlite:///{directory / 'bridge.sqlite3'}", bridge.spec.name, links, sandboxes.base,
                          sandboxes.jira_url, sandboxes.snow_url),
                )
                seeder.start()
                seeder.join()
                if seeder.exitcode != 0:
                    raise SystemExit("seeding the store failed")
            at_start = peak_rss_mb()
            with stopwatch() as idle_time:
                idle = bridge.cycle()
            after_idle = peak_rss_mb()
            full = None
            traced = None
            full_time = {"wall": 0.0}
            if full_read:
                if trace:
                    tracemalloc.start()
                with stopwatch() as full_time:
                    full = run_cycle(bridge.engine, bridge.spec.name, since=sandboxes.base - timedelta(days=1))
                traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
                if trace:
                    tracemalloc.stop()
            after_full = peak_rss_mb()
        finally:
            bridge.close()
    if full is not None and (full.records_seen != links or full.issues_seen != links or full.actions):
        raise SystemExit(f"the full read saw {full.records_seen}/{full.issues_seen} items, planned {len(full.actions)}")
    return {
        "links": links,
        "peak_rss_mb_before_cycles": at_start,
        "peak_rss_mb_idle_cycle": after_idle,
        "peak_rss_mb_full_read_cycle": after_full if full is not None else None,
        "traced_python_peak_mb_full_read": traced,
        "idle_calls": {side: sum(v.values()) for side, v in idle.calls.items()},
        "full_read_calls": {side: sum(v.values()) for side, v in full.calls.items()} if full is not None else None,
        "idle_seconds": idle_time["wall"],
        "full_read_seconds": full_time["wall"],
        "target_mb": TARGET_MB,
    }


def run_first_sync(records: int, cycles: int) -> dict[str, Any]:
    """The first cycles over ``records`` new incidents, with the shipped cycle budget and time bound (the
    budget of a cycle after a budgeted one is sized by that cycle's pace and the bound)."""
    shipped = EngineSettings()
    budget = shipped.cycle_budget
    with SandboxProcess(records=records) as sandboxes:
        bridge = Bridge(sandboxes)
        bridge.engine.options = replace(bridge.engine.options, cycle_budget=budget,
                                        cycle_seconds=shipped.cycle_seconds)
        try:
            at_start = peak_rss_mb()
            reports = []
            with stopwatch() as took:
                for _ in range(cycles):
                    reports.append(bridge.cycle())
            after = peak_rss_mb()
        finally:
            bridge.close()
    created = sum(r.actions_by_kind.get("create_issue", 0) for r in reports)
    if created == 0 or reports[0].records_seen != records:
        raise SystemExit(f"the first sync saw {reports[0].records_seen} of {records} records, created {created}")
    return {
        "records": records,
        "cycles": cycles,
        "cycle_budget": budget,
        "issues_created": created,
        "deferred_after": reports[-1].deferred,
        "peak_rss_mb_before_cycles": at_start,
        "peak_rss_mb_first_sync": after,
        "seconds": took["wall"],
        "calls": {side: sum(sum(r.calls.get(side, {}).values()) for r in reports) for side in ("itsm", "jira")},
        "target_mb": TARGET_MB,
    }


def main_first_sync(args: argparse.Namespace) -> int:
    r = run_first_sync(args.records, max(1, args.cycles))
    rows: list[tuple[Any, ...]] = [
        ("process ready (imports, store, sessions)", r["peak_rss_mb_before_cycles"], "", ""),
        (f"after {r['cycles']} first-sync cycle(s): {r['issues_created']} issues", r["peak_rss_mb_first_sync"],
         r["seconds"], r["calls"]["itsm"] + r["calls"]["jira"]),
    ]
    text = table(f"Peak RSS of a first sync of {r['records']} new records (cycle budget {r['cycle_budget']}) "
                 f"— target < {TARGET_MB:.0f} MB", ["", "peak RSS MB", "seconds", "calls"], rows)
    emit(text, {"benchmark": "memory-first-sync", **r}, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--no-full-read", action="store_true",
                        help="measure the idle cycle only (the sandboxes page a full read of 100,000 items slowly)")
    parser.add_argument("--seeded-store", type=Path, default=None,
                        help="reuse (a copy of) the store of an earlier run with the same --links and --base")
    parser.add_argument("--base", type=datetime.fromisoformat, default=None,
                        help="the seeds' time (ISO, UTC) of that earlier run: its links' 'created'")
    parser.add_argument("--first-sync", action="store_true", help="new records and no links: a first sync")
    parser.add_argument("--records", type=int, default=100_000, help="with --first-sync: new incidents")
    parser.add_argument("--cycles", type=int, default=2, help="with --first-sync: cycles measured")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    if args.first_sync:
        return main_first_sync(args)
    base = args.base.replace(tzinfo=UTC) if args.base is not None and args.base.tzinfo is None else args.base
    r = run(args.links, trace=args.tracemalloc, full_read=not args.no_full_read, seeded=args.seeded_store, base=base)
    rows: list[tuple[Any, ...]] = [
        ("process ready (imports, store, sessions)", r["peak_rss_mb_before_cycles"], "", ""),
        ("after the first (idle) cycle", r["peak_rss_mb_idle_cycle"], r["idle_seconds"],
         r["idle_calls"]["itsm"] + r["idle_calls"]["jira"]),
    ]
    if r["full_read_calls"] is not None:
        rows.append(("after a full re-read of every link", r["peak_rss_mb_full_read_cycle"], r["full_read_seconds"],
                     r["full_read_calls"]["itsm"] + r["full_read_calls"]["jira"]))
    if r["traced_python_peak_mb_full_read"] is not None:
        rows.append(("  Python allocations at peak (tracemalloc)", r["traced_python_peak_mb_full_read"], "", ""))
    text = table(f"Peak RSS with {r['links']} links — target < {TARGET_MB:.0f} MB",
                 ["", "peak RSS MB", "seconds", "calls"], rows)
    emit(text, {"benchmark": "memory", **r}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
