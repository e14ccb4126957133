"""The cost of an idle cycle: vendor calls and time with 10 … 100,000 links and nothing changed.

An idle bridge should cost one search per side per mapping whatever the number of links (the cycle reads
changes since its cursor, never every link). The baseline is the naive strategy many sync scripts use:
read every linked issue and record on each cycle — its calls are counted, not run (at 100,000 links it
would be 200,000 calls per cycle; its figure is ``2 × links`` with one GET per item, or
``links ÷ page size`` per side if it paged through everything in bulk).

Wall time includes the sandboxes answering, and they scan every stored item for each search where a
vendor uses an index; "bridge CPU" is this process's CPU time alone, which is what bridge itself costs.

    python -m bench.idle_cost                       # 10, 1000, 10000, 100000 links
    python -m bench.idle_cost --links 10 1000 --cycles 3 --json idle.json
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench._common import Bridge, common_arguments, emit, quiet_logs, seed_store_links, stopwatch, table
from bench._sandboxes import SandboxProcess
from bridge.model import Side

DEFAULT_SIZES = (10, 1_000, 10_000, 100_000)


def measure(links: int, cycles: int) -> dict[str, Any]:
    """Seed ``links`` links, run one warm-up cycle, then ``cycles`` idle cycles; their median figures."""
    with SandboxProcess(links=links) as sandboxes:
        bridge = Bridge(sandboxes)
        try:
            with stopwatch() as seeding:
                seed_store_links(bridge.store, bridge.spec.name, links, sandboxes.base,
                                 sandboxes.jira_url, sandboxes.snow_url)
            bridge.cycle()  # warm-up: reads /myself once (the account's zone), opens the sessions
            runs = []
            for _ in range(cycles):
                with stopwatch() as took:
                    report = bridge.cycle()
                if report.actions or report.records_changed or report.issues_changed:
                    raise SystemExit(f"the cycle with {links} links was not idle: {report.actions_by_kind}")
                runs.append((report.calls_total(Side.ITSM), report.calls_total(Side.JIRA), took["wall"], took["cpu"]))
        finally:
            bridge.close()
    return {
        "links": links,
        "calls_itsm": max(r[0] for r in runs),
        "calls_jira": max(r[1] for r in runs),
        "wall_seconds": statistics.median(r[2] for r in runs),
        "bridge_cpu_seconds": statistics.median(r[3] for r in runs),
        "naive_calls_per_cycle": 2 * links,
        "store_seed_seconds": seeding["wall"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--cycles", type=int, default=5, help="idle cycles measured per size (median reported)")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    results = [measure(n, max(1, args.cycles)) for n in args.links]
    rows = [
        (r["links"], r["calls_itsm"], r["calls_jira"], r["calls_itsm"] + r["calls_jira"], r["naive_calls_per_cycle"],
         r["wall_seconds"], r["bridge_cpu_seconds"])
        for r in results
    ]
    text = table(
        "Idle cycle (one mapping, nothing changed) — target: 1 call per side, flat time",
        ["links", "calls itsm", "calls jira", "bridge total", "naive total", "wall s", "bridge CPU s"],
        rows,
    )
    emit(text, {"benchmark": "idle_cost", "results": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
