"""Latency: seconds from a change on one side to its mirror on the other, under the daemon's scheduler.

bridge polls: a change waits for the next cycle (at most one interval) and then for that cycle to reach
it. The daemon (:class:`bridge.daemon.Daemon`, APScheduler) runs with ``--interval`` seconds (default 30,
the shipped default); changes are made at random moments of the interval, alternating a ServiceNow work
note (→ a Jira comment) and a Jira comment (→ a work note), and the mirror is polled for every 100 ms
through the sandboxes' scripting surface. Target: every change mirrored within interval + 5 s.

    python -m bench.latency                          # 30 s interval, 6 changes (about 3 minutes)
    python -m bench.latency --interval 2 --samples 4 --json latency.json
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from typing import Any

from bench._common import Bridge, common_arguments, emit, quiet_logs, seed_store_links, table
from bench._sandboxes import SandboxProcess, link_plan
from bridge.daemon import Daemon

POLL = 0.1
SLACK = 5.0


def _wait_for(check: Any, deadline: float) -> float | None:
    """Poll ``check()`` until true; the monotonic time it became true, or None past ``deadline``."""
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(POLL)
    return None


def run(interval: float, samples: int, seed: int) -> dict[str, Any]:
    chooser = random.Random(seed)
    with SandboxProcess(links=samples) as sandboxes:
        bridge = Bridge(sandboxes)
        seed_store_links(bridge.store, bridge.spec.name, samples, sandboxes.base, sandboxes.jira_url,
                         sandboxes.snow_url)
        daemon = Daemon(bridge.engine, interval_seconds=interval)
        runner = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
        runner.start()
        measured: list[dict[str, Any]] = []
        try:
            time.sleep(min(interval, 5.0))  # the first cycle (reads /myself and /field) is not measured
            for k in range(samples):
                time.sleep(chooser.uniform(0, interval))
                seeded = link_plan(k, sandboxes.base)
                text = f"Latency probe {k}"
                made = time.monotonic()
                if k % 2 == 0:
                    sandboxes.snow_note(seeded.sys_id, text)
                    direction = "itsm → jira"

                    def arrived(key: str = seeded.issue_key, text: str = text) -> bool:
                        issue = next(i for i in sandboxes.jira_issues() if i["key"] == key)
                        return any(text in c["body"] for c in issue["comments"])
                else:
                    sandboxes.jira_comment(seeded.issue_key, text)
                    direction = "jira → itsm"

                    def arrived(sys_id: str = seeded.sys_id, text: str = text) -> bool:
                        return any(text in row["value"] for row in sandboxes.snow_journal(sys_id))

                seen = _wait_for(arrived, made + 2 * interval + 60)
                measured.append({"direction": direction, "seconds": None if seen is None else seen - made})
        finally:
            daemon.request_stop()
            runner.join(timeout=120)
            bridge.close()
    values = [m["seconds"] for m in measured if m["seconds"] is not None]
    return {
        "interval_seconds": interval,
        "target_seconds": interval + SLACK,
        "samples": measured,
        "missed": sum(1 for m in measured if m["seconds"] is None),
        "max_seconds": max(values) if values else None,
        "median_seconds": statistics.median(values) if values else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=30.0, help="the daemon's interval, seconds")
    parser.add_argument("--samples", type=int, default=6, help="changes made, alternating sides")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the moments the changes are made")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    r = run(args.interval, max(1, args.samples), args.seed)
    rows: list[tuple[Any, ...]] = []
    for direction in ("itsm → jira", "jira → itsm"):
        values = [m["seconds"] for m in r["samples"] if m["direction"] == direction and m["seconds"] is not None]
        if values:
            rows.append((direction, len(values), min(values), statistics.median(values), max(values)))
    rows.append(("not mirrored in time", r["missed"], "", "", ""))
    text = table(f"Change → mirror, daemon interval {r['interval_seconds']:g} s — target <= {r['target_seconds']:g} s",
                 ["direction", "changes", "min s", "median s", "max s"], rows)
    emit(text, {"benchmark": "latency", **r}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
