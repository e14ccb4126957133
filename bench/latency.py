"""Latency: seconds from a change on one side to its mirror on the other, under the daemon's scheduler.

bridge polls: a change waits for the next cycle (at most one interval) and then for that cycle to reach
it. The daemon (:class:`bridge.daemon.Daemon`, APScheduler) runs with ``--interval`` seconds (default 30,
the shipped default); changes are made at random moments of the interval, alternating a ServiceNow work
note (→ a Jira comment) and a Jira comment (→ a work note), and the mirror is polled for every 100 ms
through the sandboxes' scripting surface. Target: every change mirrored within interval + 5 s.

``--hints``: the daemon also listens for webhook hints (:mod:`bridge.hints`, on a free loopback port),
and right after each change the benchmark sends the webhook the vendor would send — the Jira one signed
with the webhook secret (``X-Hub-Signature``), the ServiceNow one with the bearer token — so the figure
is change → hint → mini-cycle → mirror (the vendors' own webhook delivery delay is not in it). Polling
stays on at ``--interval``. ``--latency`` adds that many seconds to every sandbox call. Targets: p95 ≤ 3 s
and p99 ≤ 5 s at 100 ms vendor latency.

``--backlog N``: fairness while a backlog drains. N new incidents (default 2000) wait in ServiceNow when
the daemon starts — the situation after an outage, as :mod:`bench.backlog` seeds it — with the same vendors
(100 ms per call unless ``--latency`` says otherwise, ``--rate`` 10 requests/s per side, 429 beyond it)
and the shipped engine settings (:class:`bridge.settings.EngineSettings`: both sides at once, the cycle
budget). The changes are made while the daemon drains it, at random moments, both directions as above;
the table says how much of the backlog was still waiting when each change was made. Target: interval +
5 s, as without a backlog.

    python -m bench.latency                          # 30 s interval, 6 changes (about 3 minutes)
    python -m bench.latency --interval 2 --samples 4 --json latency.json
    python -m bench.latency --hints --latency 0.1 --samples 40
    python -m bench.latency --backlog 2000 --samples 10  # while 2,000 new incidents drain (about 8 minutes)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import random
import statistics
import threading
import time
from datetime import timedelta
from typing import Any

import requests
from pydantic import SecretStr

from bench._common import Bridge, common_arguments, emit, quiet_logs, seed_store_links, table
from bench._sandboxes import SandboxProcess, link_plan
from bridge.daemon import Daemon
from bridge.hints.config import HintsSettings
from bridge.model import Side
from bridge.settings import EngineSettings

POLL = 0.05
#: with a backlog the Jira side's listing holds thousands of issues: look less often (still 1 % of the target)
BACKLOG_POLL = 0.3
#: bridge's own budget against the vendors' rate limit with a backlog (as :mod:`bench.backlog`)
CLIENT_SHARE = 0.95
SLACK = 5.0
HINT_P95 = 3.0
HINT_P99 = 5.0
#: the webhook secrets of the run (the daemon's settings and the "vendor" share them)
JIRA_SECRET = "bench-jira-webhook-secret"
ITSM_TOKEN = "bench-itsm-token"


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1); ``None`` for no values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


def _send_hint(url: str, side: str, body: dict[str, Any]) -> None:
    """What the vendor's webhook does: the Jira one signed with the secret, the ITSM one with a token."""
    raw = json.dumps(body).encode()
    if side == "jira":
        headers = {"X-Hub-Signature": "sha256=" + hmac.new(JIRA_SECRET.encode(), raw, hashlib.sha256).hexdigest()}
        target = f"{url}/hooks/jira"
    else:
        headers = {"Authorization": f"Bearer {ITSM_TOKEN}"}
        target = f"{url}/hooks/itsm"
    answer = requests.post(target, data=raw, headers={**headers, "Content-Type": "application/json"}, timeout=10)
    if answer.status_code != 202:
        raise RuntimeError(f"hint refused: {answer.status_code} {answer.text}")


def _wait_for(check: Any, deadline: float, poll: float = POLL) -> float | None:
    """Poll ``check()`` until true; the monotonic time it became true, or None past ``deadline``."""
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(poll)
    return None


def run(interval: float, samples: int, seed: int, *, hints: bool = False, latency: float = 0.0,
        backlog: int = 0, rate: int = 10) -> dict[str, Any]:
    chooser = random.Random(seed)
    poll = BACKLOG_POLL if backlog else POLL
    with SandboxProcess(links=samples, records=backlog) as sandboxes:
        if backlog:
            shipped = EngineSettings()
            bridge = Bridge(sandboxes, rate=rate * CLIENT_SHARE, burst=1, parallel_sides=shipped.parallel_sides,
                            workers_per_side=shipped.workers_per_side, cycle_budget=shipped.cycle_budget or None,
                            cycle_seconds=shipped.cycle_seconds or None)
        else:
            bridge = Bridge(sandboxes)
        seed_store_links(bridge.store, bridge.spec.name, samples, sandboxes.base, sandboxes.jira_url,
                         sandboxes.snow_url)
        if backlog:
            # the new incidents are dated at the seeds' time: the ITSM cursor goes back before them (an outage)
            bridge.store.set_cursor(bridge.spec.name, Side.ITSM, sandboxes.base - timedelta(minutes=1))
            sandboxes.throttle(latency=latency, limit=rate)
        elif latency:
            sandboxes.throttle(latency=latency, limit=None)
        daemon = Daemon(bridge.engine, interval_seconds=interval)
        if hints:
            daemon.enable_hints(HintsSettings(bind="127.0.0.1:0", jira_secret=SecretStr(JIRA_SECRET),
                                              itsm_token=SecretStr(ITSM_TOKEN), debounce_seconds=0.05))
        runner = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False}, daemon=True)
        runner.start()
        measured: list[dict[str, Any]] = []
        try:
            time.sleep(min(interval, 5.0))  # the first cycle (reads /myself and /field) is not measured
            hint_url = daemon.hint_server.url if daemon.hint_server is not None else None
            if hints and hint_url is None:
                raise RuntimeError("the hint listener did not start")
            for k in range(samples):
                time.sleep(chooser.uniform(0, interval))
                seeded = link_plan(k, sandboxes.base)
                text = f"Latency probe {k}"
                waiting = backlog - (len(sandboxes.jira_issues()) - samples) if backlog else 0
                made = time.monotonic()
                if k % 2 == 0:
                    sandboxes.snow_note(seeded.sys_id, text)
                    direction = "itsm → jira"
                    if hint_url is not None:
                        _send_hint(hint_url, "itsm", {"table": "incident", "sys_id": seeded.sys_id,
                                                      "number": seeded.number})

                    def arrived(key: str = seeded.issue_key, text: str = text) -> bool:
                        issue = next(i for i in sandboxes.jira_issues() if i["key"] == key)
                        return any(text in c["body"] for c in issue["comments"])
                else:
                    sandboxes.jira_comment(seeded.issue_key, text)
                    direction = "jira → itsm"
                    if hint_url is not None:
                        _send_hint(hint_url, "jira", {"webhookEvent": "comment_created",
                                                      "issue": {"id": seeded.issue_id, "key": seeded.issue_key}})

                    def arrived(sys_id: str = seeded.sys_id, text: str = text) -> bool:
                        return any(text in row["value"] for row in sandboxes.snow_journal(sys_id))

                seen = _wait_for(arrived, made + 2 * interval + 60, poll)
                measured.append({"direction": direction, "seconds": None if seen is None else seen - made,
                                 **({"backlog_waiting": waiting} if backlog else {})})
            drained = backlog - (len(sandboxes.jira_issues()) - samples) if backlog else 0
        finally:
            daemon.request_stop()
            runner.join(timeout=120)
            bridge.close()
    values = [m["seconds"] for m in measured if m["seconds"] is not None]
    return {
        "interval_seconds": interval,
        "hints": hints,
        "backlog": backlog,
        "backlog_waiting_at_end": drained,
        "rate_per_second": rate if backlog else None,
        "vendor_latency_seconds": latency,
        "target_seconds": HINT_P95 if hints else interval + SLACK,
        "p50_seconds": percentile(values, 0.50),
        "p95_seconds": percentile(values, 0.95),
        "p99_seconds": percentile(values, 0.99),
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
    parser.add_argument("--hints", action="store_true", help="send the vendors' webhooks to the daemon's hint listener")
    parser.add_argument("--latency", type=float, default=None,
                        help="seconds added to every sandbox call (0; 0.1 with --backlog)")
    parser.add_argument("--backlog", type=int, default=0, metavar="N",
                        help="N new incidents waiting when the daemon starts (fairness while they drain)")
    parser.add_argument("--rate", type=int, default=10, help="with --backlog: requests per second each sandbox allows")
    common_arguments(parser)
    args = parser.parse_args(argv)
    quiet_logs()
    latency = args.latency if args.latency is not None else (0.1 if args.backlog else 0.0)
    r = run(args.interval, max(1, args.samples), args.seed, hints=args.hints, latency=latency,
            backlog=max(0, args.backlog), rate=args.rate)
    rows: list[tuple[Any, ...]] = []
    for direction in ("itsm → jira", "jira → itsm"):
        values = [m["seconds"] for m in r["samples"] if m["direction"] == direction and m["seconds"] is not None]
        if values:
            rows.append((direction, len(values), min(values), statistics.median(values), max(values)))
    rows.append(("not mirrored in time", r["missed"], "", "", ""))
    if r["p50_seconds"] is not None:
        rows.append(("all: p50 / p95 / p99", "", r["p50_seconds"], r["p95_seconds"], r["p99_seconds"]))
    if r["backlog"]:
        waiting = [m["backlog_waiting"] for m in r["samples"]]
        rows.append(("backlog waiting at the changes", "", min(waiting), statistics.median(waiting), max(waiting)))
        rows.append(("backlog waiting at the end", r["backlog_waiting_at_end"], "", "", ""))
    how = "with webhook hints, " if r["hints"] else ""
    if r["backlog"]:
        how += f"while {r['backlog']} new incidents drain ({r['rate_per_second']} requests/s per side), "
    target = (f"p95 <= {HINT_P95:g} s, p99 <= {HINT_P99:g} s" if r["hints"] else f"<= {r['target_seconds']:g} s")
    text = table(f"Change → mirror, {how}daemon interval {r['interval_seconds']:g} s, vendor latency "
                 f"{r['vendor_latency_seconds']:g} s — target {target}",
                 ["direction", "changes", "min s", "median s", "max s"], rows)
    emit(text, {"benchmark": "latency", **r}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
