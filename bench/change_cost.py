"""The cost of a change: vendor calls per mirrored change, by kind, amortised over many changes.

Six kinds of change, made as people make them (through the sandboxes' scripting surface), each on links
of its own so they do not mix: a new incident (→ a new Bug, linked both ways), an ITSM field edit
(priority → Jira), a work note (→ Jira comment), a Jira comment (→ work note), an ITSM status change
(Resolved → Done) and a Jira status change (Done → Resolved). Changes of one kind are made in batches of
``--batch`` (what accumulates between two cycles), then bridge runs cycles until nothing is left to do;
every vendor call of those cycles — the searches, the reads, the writes and the echo of bridge's own
writes — is charged to that kind.

The figure that counts is the calls a cycle makes **beyond an idle cycle** (one search per side, which
the daemon pays every interval whether anything changed or not), divided by the changes mirrored: an
idle cycle is measured after the warm-up and its calls are subtracted from every cycle. ``--batch`` takes
several sizes (default 1, 10, 50 and 200: one change per cycle is the daemon's usual case, 200 a busy
hour), each run on fresh sandboxes with the shipped engine settings (:class:`bridge.settings.EngineSettings`).

Baseline: the naive strategy — each cycle, read every linked issue and its comments and every linked
record and its journal (4 calls per link), then write what differs. Its reads are run for real once per
cycle against the same sandboxes (to measure, not assume, their count); its writes are taken as equal to
bridge's, which favours the baseline.

    python -m bench.change_cost                      # batches of 1, 10, 50, 200
    python -m bench.change_cost --batch 1 --changes 60 --json change.json
    python -m bench.change_cost --batch 1 --warm     # cold and warm (the store kept what a first run learnt)
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench._common import Bridge, common_arguments, emit, quiet_logs, seed_store_links, table
from bench._sandboxes import SandboxProcess, link_plan
from bridge.commands._vendor_cache import keep_vendor_facts, prime_vendor_facts
from bridge.settings import EngineSettings
from bridge.sync.cycle import CycleReport

BATCHES = (1, 10, 50, 200)
KINDS = ("new_record", "itsm_field", "itsm_comment", "jira_comment", "itsm_status", "jira_status")
TARGET = 1.5
MAX_SETTLE_CYCLES = 8


def settle(bridge: Bridge) -> list[CycleReport]:
    """Cycles until one plans nothing and leaves nothing pending (bounded)."""
    reports = []
    for _ in range(MAX_SETTLE_CYCLES):
        report = bridge.cycle()
        reports.append(report)
        if not report.actions and not report.pending:
            return reports
    raise SystemExit(f"no quiescence after {MAX_SETTLE_CYCLES} cycles: {[r.actions_by_kind for r in reports]}")


def naive_read_calls(bridge: Bridge, links: int) -> int:
    """One naive cycle, run for real: GET each linked issue, its comments, each record, its journal."""
    before = bridge.calls()
    for link in bridge.store.links(bridge.spec.name, limit=links):
        bridge.jira.get(link.issue, ["summary", "priority"])
        bridge.jira.comments_since([link.issue], None)
        for record in link.records:
            bridge.itsm.get(record, ["priority", "short_description"])
            bridge.itsm.comments_since([record], None)
    after = bridge.calls()
    return sum(after.values()) - sum(before.values())


def run(changes: int, batch: int, *, warm: bool = False) -> dict[str, Any]:
    """``changes`` of the six kinds, ``batch`` at a time. ``warm``: a first bridge process makes one change
    of each kind and keeps what it learnt in the store (bridge.commands._vendor_cache), then a NEW engine
    over the same store is measured — as a cron run or a restarted daemon after an earlier one."""
    per_kind = max(1, changes // len(KINDS))
    # links for every kind but new_record, which makes its own
    pools = {kind: range(i * per_kind, (i + 1) * per_kind) for i, kind in enumerate(KINDS[1:])}
    seeded_links = per_kind * (len(KINDS) - 1)
    # warm: one more link per kind for the first process's changes
    spare = {kind: seeded_links + i for i, kind in enumerate(KINDS[1:])}
    shipped = EngineSettings()
    with SandboxProcess(links=seeded_links + (len(spare) if warm else 0)) as sandboxes:
        bridge = Bridge(sandboxes, parallel_sides=shipped.parallel_sides, workers_per_side=shipped.workers_per_side)
        try:
            seed_store_links(bridge.store, bridge.spec.name, seeded_links + (len(spare) if warm else 0),
                             sandboxes.base, sandboxes.jira_url, sandboxes.snow_url)
            primed = prime_vendor_facts(bridge.engine)
            settle(bridge)  # warm-up: /myself, /field, sessions
            base = sandboxes.base

            def seeded(index: int) -> tuple[str, str]:
                plan = link_plan(index, base)
                return plan.sys_id, plan.issue_key

            makers: dict[str, Callable[[int, int], object]] = {
                "new_record": lambda _, n: sandboxes.snow_incident(f"Benchmark incident {n}") and None,
                "itsm_field": lambda i, _: sandboxes.snow_edit(seeded(i)[0], priority="2") and None,
                "itsm_comment": lambda i, n: sandboxes.snow_note(seeded(i)[0], f"Work note {n}") and None,
                "jira_comment": lambda i, n: sandboxes.jira_comment(seeded(i)[1], f"Developer comment {n}") and None,
                "itsm_status": lambda i, _: sandboxes.snow_state(
                    seeded(i)[0], "6", close_code="Solved (Permanently)", close_notes="Fixed") and None,
                "jira_status": lambda i, _: sandboxes.jira_transition(seeded(i)[1], "Done") and None,
            }
            if warm:
                for kind in KINDS:
                    makers[kind](spare.get(kind, 0), -1)
                    settle(bridge)
                keep_vendor_facts(bridge.engine, primed)
                bridge.close()
                bridge = Bridge(sandboxes, parallel_sides=shipped.parallel_sides,
                                workers_per_side=shipped.workers_per_side, directory=bridge.directory)
                prime_vendor_facts(bridge.engine)
                settle(bridge)
            idle = sum(sum(by_endpoint.values()) for by_endpoint in bridge.cycle().calls.values())
            results: dict[str, dict[str, Any]] = {}
            total_cycles = 0
            for kind in KINDS:
                indices = list(pools.get(kind, range(per_kind)))
                calls: Counter[str] = Counter()
                endpoints: Counter[str] = Counter()
                cycles = beyond_idle = 0
                for start in range(0, per_kind, batch):
                    for n, index in enumerate(indices[start:start + batch], start=start):
                        makers[kind](index, n)
                    for report in settle(bridge):
                        cycles += 1
                        beyond_idle += sum(sum(by_endpoint.values()) for by_endpoint in report.calls.values()) - idle
                        for side, by_endpoint in report.calls.items():
                            calls[side] += sum(by_endpoint.values())
                            endpoints.update({f"{side} {k}": v for k, v in by_endpoint.items()})
                total_cycles += cycles
                results[kind] = {
                    "changes": per_kind,
                    "cycles": cycles,
                    "calls_itsm": calls["itsm"],
                    "calls_jira": calls["jira"],
                    "calls_per_change": (calls["itsm"] + calls["jira"]) / per_kind,
                    "calls_beyond_idle": beyond_idle,
                    "beyond_idle_per_change": beyond_idle / per_kind,
                    "writes": sum(v for k, v in endpoints.items() if not _is_read(k)),
                    "endpoints": dict(endpoints.most_common()),
                }
            links_now = bridge.store.link_count(bridge.spec.name)
            naive_per_cycle = naive_read_calls(bridge, links_now)
        finally:
            bridge.close()
    total_changes = per_kind * len(KINDS)
    total_calls = sum(r["calls_itsm"] + r["calls_jira"] for r in results.values())
    writes = sum(r["writes"] for r in results.values())
    naive_total = naive_per_cycle * total_cycles + writes
    beyond = sum(r["calls_beyond_idle"] for r in results.values())
    return {
        "changes": total_changes,
        "batch": batch,
        "warm": warm,
        "parallel_sides": shipped.parallel_sides,
        "workers_per_side": shipped.workers_per_side,
        "idle_cycle_calls": idle,
        "calls_beyond_idle": beyond,
        "beyond_idle_per_change": beyond / total_changes,
        "links_at_end": links_now,
        "cycles": total_cycles,
        "calls": total_calls,
        "calls_per_change": total_calls / total_changes,
        "target_calls_per_change": TARGET,
        "naive_read_calls_per_cycle": naive_per_cycle,
        "naive_calls": naive_total,
        "naive_calls_per_change": naive_total / total_changes,
        "by_kind": results,
    }


def _is_read(endpoint: str) -> bool:
    method = endpoint.split()[1]
    return method == "GET" or endpoint.endswith("/search/jql")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.change_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=None,
                        help="changes in all per batch size, split evenly over the kinds (default: 6 × batch, "
                             "at least 60)")
    parser.add_argument("--batch", type=int, nargs="+", default=list(BATCHES),
                        help="changes of one kind made between two cycles; several sizes make a table")
    parser.add_argument("--warm", action="store_true",
                        help="also measure each batch size warm: after a first process made one change of each "
                             "kind and kept what it learnt in the store, with a new engine over that store")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    runs = []
    for batch in (max(1, b) for b in args.batch):
        changes = args.changes if args.changes is not None else max(60, 6 * batch)
        runs.append(run(max(len(KINDS), changes), batch))
        if args.warm:
            runs.append(run(max(len(KINDS), changes), batch, warm=True))
    text = ""
    for result in runs:
        rows: list[tuple[Any, ...]] = [
            (kind, r["changes"], r["cycles"], r["calls_itsm"], r["calls_jira"], r["calls_per_change"],
             r["beyond_idle_per_change"])
            for kind, r in result["by_kind"].items()
        ]
        rows.append(("ALL", result["changes"], result["cycles"], "", "", result["calls_per_change"],
                     result["beyond_idle_per_change"]))
        rows.append(("naive baseline", result["changes"], result["cycles"], "", "", result["naive_calls_per_change"],
                     ""))
        text += table(
            f"Vendor calls per mirrored change (batches of {result['batch']}{', warm' if result['warm'] else ''}, "
            f"{result['links_at_end']} links "
            f"at the end, idle cycle {result['idle_cycle_calls']} calls) — target <= {TARGET} beyond idle",
            ["kind", "changes", "cycles", "calls itsm", "calls jira", "calls/change", "beyond idle/change"],
            rows,
        ) + "\n\n"
    if len(runs) > 1:
        summary = [(r["batch"], "warm" if r["warm"] else "cold", r["changes"], r["cycles"], r["calls_per_change"],
                    r["beyond_idle_per_change"], "yes" if r["beyond_idle_per_change"] <= TARGET else "no")
                   for r in runs]
        text += table(f"Calls per change by batch size — target <= {TARGET} beyond an idle cycle",
                      ["batch", "store", "changes", "cycles", "calls/change", "beyond idle/change", "met"],
                      summary) + "\n\n"
    detail = [
        (f"{result['batch']}{' warm' if result['warm'] else ''}", kind, endpoint, count, count / r["changes"])
        for result in runs
        for kind, r in result["by_kind"].items()
        for endpoint, count in r["endpoints"].items()
    ]
    text += table("Where the calls go", ["batch", "kind", "endpoint", "calls", "per change"], detail)
    emit(text, {"benchmark": "change_cost", **runs[-1], "by_batch": runs}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["KINDS", "run"]
