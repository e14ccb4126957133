"""Catching up a backlog: 10,000 new incidents against slow, rate-limited vendors.

The situation after an outage: ``--records`` incidents the mapping selects were raised while bridge was
down. Both sandboxes add ``--latency`` (100 ms) to every call and allow ``--rate`` (10) requests per
second, answering 429 with Retry-After beyond it. bridge runs cycles back to back (as the daemon does
when a cycle outlasts its interval) until one finds nothing to do.

Reported: time to fully synced, calls per side, 429s received, that nothing was left pending or on the
error list, and that the result has no duplicates (one issue per incident, each incident pointing at its
own issue). Two floors, both sides working at once: the **rate-limit floor** (bridge's own calls on the
busiest side ÷ the allowed rate) and the **floor of required writes** (the writes the backlog cannot do
without — one bulk create per 50 issues and one remote link per issue on Jira, one back-reference per
record on the ITSM — ÷ the allowed rate), which does not flatter bridge for reads it makes. The baseline is
the same work one call per create, no bulk (``naive`` column: what the calls would have been with one
POST + one GET per new issue). bridge runs with the shipped engine settings (``engine.parallel_sides``,
``engine.workers_per_side``: :class:`bridge.settings.EngineSettings`' defaults), as the daemon would.

    python -m bench.backlog                          # 10,000 incidents (about half an hour)
    python -m bench.backlog --records 500 --json backlog.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

from bench._common import Bridge, common_arguments, emit, quiet_logs, stopwatch, table
from bench._sandboxes import SandboxProcess
from bridge.connectors.jira import JiraConnector
from bridge.settings import EngineSettings
from bridge.sync.executor import Outcome

#: cycles at the least, and per record (the shipped cycle budget takes a few dozen records a cycle)
MAX_CYCLES = 60
MAX_CYCLES_PER_RECORD = 0.1
PROGRESS_EVERY = 10
CLIENT_SHARE = 0.95
TARGET_RATIO = 1.15  # against the floor of required writes


def run(records: int, latency: float, rate: int) -> dict[str, Any]:
    shipped = EngineSettings()
    parallel, workers = shipped.parallel_sides, shipped.workers_per_side
    budget, seconds = shipped.cycle_budget or None, shipped.cycle_seconds or None
    with SandboxProcess(records=records) as sandboxes:
        sandboxes.throttle(latency=latency, limit=rate)
        # bridge's own budget just under the vendors' documented rate, evenly spaced (burst 1), as an operator
        # would configure it: a token bucket and the vendor's fixed window disagree at window edges
        bridge = Bridge(sandboxes, rate=rate * CLIENT_SHARE, burst=1, parallel_sides=parallel,
                        workers_per_side=workers, cycle_budget=budget, cycle_seconds=seconds)
        cycles: list[dict[str, Any]] = []
        writes: list[float] = []  # monotonic time of every applied action of the current cycle
        bridge.engine.progress = lambda mapping, done, total: writes.append(time.monotonic())
        began_all = time.monotonic()
        try:
            with stopwatch() as took:
                for _ in range(max(MAX_CYCLES, int(records * MAX_CYCLES_PER_RECORD))):
                    writes.clear()
                    began = time.monotonic()
                    report = bridge.cycle()
                    ended = time.monotonic()
                    cycles.append({"actions": report.actions_by_kind, "outcomes": report.outcomes_by_status,
                                   "seconds": report.duration, "deferred": report.deferred,
                                   "calls": {side: sum(c.values()) for side, c in report.calls.items()},
                                   "reads": {side: _reads(c) for side, c in report.calls.items()},
                                   # the phases: reading and planning (to the first applied action), writing, the tail
                                   "before_first_write": (writes[0] if writes else ended) - began,
                                   "writing": (writes[-1] - writes[0]) if writes else 0.0,
                                   "after_last_write": ended - (writes[-1] if writes else ended)})
                    if len(cycles) % PROGRESS_EVERY == 0:  # a long run leaves a trace before its table
                        print(f"cycle {len(cycles)}: {time.monotonic() - began_all:.0f} s, "
                              f"{sum(c['actions'].get('create_issue', 0) for c in cycles)} created, "
                              f"{report.deferred} left", file=sys.stderr, flush=True)
                    idle = not report.actions and all(o.status == Outcome.BLOCKED for o in report.reconciled)
                    if idle and not report.pending:
                        break
            stats = sandboxes.stats()
            issues = sandboxes.jira_issues()
            links = bridge.store.links(bridge.spec.name)
            pending = bridge.store.journal_counts(bridge.spec.name).get("pending", 0)
            errors = bridge.store.open_error_count(bridge.spec.name)
            statuses = {side: dict(c.calls.statuses()) for side, c in (("itsm", bridge.itsm), ("jira", bridge.jira))}
            calls = {"itsm": bridge.itsm.calls.snapshot(), "jira": bridge.jira.calls.snapshot()}
            sample = [sandboxes.snow_record(link.records[0].id) for link in links[:: max(1, len(links) // 50)]]
        finally:
            bridge.close()
    markers = Counter(label for issue in issues for label in issue["labels"] if label.startswith("itsm-"))
    by_key = {link.issue.key: link for link in links}
    duplicates = sum(n - 1 for n in markers.values() if n > 1)
    wrong_back_reference = sum(
        1 for row in sample
        if row["correlation_id"] not in by_key or by_key[row["correlation_id"]].records[0].id != row["sys_id"]
    )
    totals = {side: sum(v.values()) for side, v in calls.items()}
    busiest = max(totals.values())
    floor = busiest / rate
    refused = {side: sum(n for (_, status), n in s.items() if status == 429) for side, s in statuses.items()}
    creates = sum(c["actions"].get("create_issue", 0) for c in cycles)
    required = required_writes(creates)
    required_floor = max(required.values()) / rate
    return {
        "records": records,
        "latency_seconds": latency,
        "rate_per_second": rate,
        "parallel_sides": parallel,
        "workers_per_side": workers,
        "cycle_budget": budget,
        "cycle_seconds": seconds,
        "cycles": len(cycles),
        "per_cycle": cycles,
        "phase_seconds": {phase: sum(c[phase] for c in cycles)
                          for phase in ("before_first_write", "writing", "after_last_write")},
        "seconds_to_synced": took["wall"],
        "calls": totals,
        "calls_by_endpoint": calls,
        "floor_seconds": floor,
        "ratio_to_floor": took["wall"] / floor if floor else None,
        "required_writes": required,
        "required_writes_floor_seconds": required_floor,
        "ratio_to_required_writes_floor": took["wall"] / required_floor if required_floor else None,
        "target_ratio": TARGET_RATIO,
        "429_received": refused,
        "429_sent_by_sandboxes": {side: s["refused_429"] for side, s in stats.items()},
        "pending_at_end": pending,
        "error_list": errors,
        "issues": len(issues),
        "links": len(links),
        "duplicate_issues": duplicates,
        "records_without_issue": records - len(markers),
        "wrong_back_references_in_sample": wrong_back_reference,
        "back_references_checked": len(sample),
        "creates": creates,
        "naive_jira_calls": totals["jira"] - _bulk_calls(calls["jira"]) + 2 * creates,
    }


def _reads(calls: dict[str, int]) -> int:
    """The calls that read (GETs and Jira's search, a POST)."""
    return sum(n for k, n in calls.items() if k.startswith("GET ") or k.endswith("/search/jql"))


def required_writes(creates: int) -> dict[str, int]:
    """The writes ``creates`` new records need at the least, per side: on Jira one bulk create per
    :attr:`JiraConnector.create_batch_size` issues and one remote link each, on the ITSM one back-reference
    PATCH each (neither API has a bulk form for the last two)."""
    batch = JiraConnector.create_batch_size
    return {"jira": -(-creates // batch) + creates, "itsm": creates}


def _bulk_calls(jira: dict[str, int]) -> int:
    """The calls the bulk create spent: its POSTs and the read-back searches (all but the first search)."""
    bulk = sum(n for k, n in jira.items() if k.endswith("/issue/bulk"))
    searches = sum(n for k, n in jira.items() if k.endswith("/search/jql"))
    return bulk + max(0, searches - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backlog", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the sandboxes add to every call")
    parser.add_argument("--rate", type=int, default=10, help="requests per second each sandbox allows")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    r = run(args.records, args.latency, args.rate)
    rows: list[tuple[Any, ...]] = [
        ("time to fully synced, s", r["seconds_to_synced"], ""),
        ("floor of required writes, s", r["required_writes_floor_seconds"],
         f"jira {r['required_writes']['jira']} / itsm {r['required_writes']['itsm']} writes"),
        ("ratio to the required-writes floor", r["ratio_to_required_writes_floor"], f"target <= {TARGET_RATIO}"),
        ("rate-limit floor, s", r["floor_seconds"], "bridge's own calls on the busiest side"),
        ("ratio to the rate-limit floor", r["ratio_to_floor"], ""),
        ("cycles", r["cycles"], f"budget {r['cycle_budget']} actions, {r['cycle_seconds']} s"),
        ("phases: to first write / writing / after, s",
         " / ".join(f"{v:.0f}" for v in r["phase_seconds"].values()), "summed over the cycles"),
        ("calls itsm", r["calls"]["itsm"], ""),
        ("calls jira", r["calls"]["jira"], f"naive (no bulk create) {r['naive_jira_calls']}"),
        ("429 received itsm / jira", f"{r['429_received']['itsm']} / {r['429_received']['jira']}", ""),
        ("pending / error list at the end", f"{r['pending_at_end']} / {r['error_list']}", "target 0 / 0"),
        ("issues / links", f"{r['issues']} / {r['links']}", f"of {r['records']} incidents"),
        ("duplicate issues", r["duplicate_issues"], "target 0"),
        ("incidents without an issue", r["records_without_issue"], "target 0"),
        ("wrong back-references (sample)", f"{r['wrong_back_references_in_sample']} of "
         f"{r['back_references_checked']}", "target 0"),
    ]
    mode = (f"shipped defaults: both sides at once, {r['workers_per_side']} lane(s) each" if r["parallel_sides"]
            else "shipped defaults: one side at a time")
    text = table(f"Backlog of {r['records']} new incidents, {r['latency_seconds'] * 1000:.0f} ms per call, "
                 f"{r['rate_per_second']} requests/s per side ({mode})", ["", "value", "note"], rows)
    emit(text, {"benchmark": "backlog", **r}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
