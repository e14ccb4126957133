"""Both sandboxes in ONE child process, seeded directly in memory, so the benchmark process holds bridge only.

Why a child process: the figures must be bridge's own — its memory (``bench/memory.py`` reads the peak RSS of
the benchmark process) and its CPU time — not the fake vendors'. And a real vendor answers a search from an
index, while the sandboxes scan every stored issue: keeping them in their own process lets the benchmarks
report bridge's CPU time apart from the wall time that includes that scan.

Why a direct seeding path: 100,000 links cannot be made through the vendor APIs in a benchmark's time.
:func:`seed_links` writes the records and issues straight into the sandboxes' state with the same helpers
the sandboxes use for their own writes (so the data is exactly what the API would have stored), and
:func:`link_plan` computes, from the same deterministic ids, what the state store must hold for those
links. Both sides of the seeding are pure functions of ``(index, base time)``, so the parent and the child
agree without exchanging 100,000 ids.

Run as ``python -m bench._sandboxes --links N --records M`` (the benchmarks do this through
:class:`SandboxProcess`): prints one JSON line with both base URLs when serving, stops on SIGTERM/stdin EOF.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

#: The instant seeded data was "last changed": an hour before the run, well before any cursor's overlap.
SEED_AGE = timedelta(hours=1)
JIRA_PROJECT = "OPS"
JIRA_LABEL = "bridge"
GROUP = "Application Support L3"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class SeededLink:
    """What one seeded link is, on both sides (ids are deterministic functions of ``index``)."""

    index: int
    sys_id: str
    number: str
    issue_id: str
    issue_key: str
    issue_updated_ms: int
    record_updated: str  # ServiceNow's "yyyy-MM-dd HH:mm:ss" UTC


def link_plan(index: int, base: datetime) -> SeededLink:
    """The seeded link number ``index`` (0-based) for a run whose seeds are dated ``base``."""
    updated = base + timedelta(milliseconds=index)
    return SeededLink(
        index=index,
        sys_id=f"{index + 1:032x}",
        number=f"INC{9_000_000 + index:07d}",
        issue_id=str(100_000 + index),
        issue_key=f"{JIRA_PROJECT}-{index + 1}",
        issue_updated_ms=int(updated.timestamp() * 1000),
        record_updated=base.strftime("%Y-%m-%d %H:%M:%S"),
    )


def issue_version(seeded: SeededLink) -> str:
    """The version the Jira connector computes for the seeded issue (UTC ``updated`` with millis)."""
    when = datetime.fromtimestamp(seeded.issue_updated_ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds")


def seed_links(jira: Any, snow: Any, count: int, base: datetime, jira_url: str, snow_url: str) -> None:
    """Store ``count`` linked pairs (an In Progress incident and its In Progress Bug) in the sandboxes."""
    base_ms = int(base.timestamp() * 1000)
    with jira.lock, snow.lock:
        # The sandbox draws each new issue's id from its counter before the issue is re-keyed under the
        # seeded id (100000 + index): start the counter above every seeded id, or from the 90,000th issue on
        # the drawn ids are seeded ones and each build overwrote, then deleted, an issue seeded before it.
        jira.state["counters"]["issue"] = max(jira.state["counters"]["issue"], 100_000 + count)
        for index in range(count):
            seeded = link_plan(index, base)
            record = snow.write(
                "incident",
                None,
                {
                    "short_description": f"Seeded incident {index}",
                    "assignment_group": GROUP,
                    "priority": "3",
                    "state": "2",
                    "number": seeded.number,
                    "correlation_id": seeded.issue_key,
                    "correlation_display": f"{jira_url}/browse/{seeded.issue_key}",
                },
                "svc.bridge",
            )
            # re-key the row under the deterministic sys_id and date it in the past
            table = snow.state["tables"]["incident"]
            del table[record["sys_id"]]
            record.update(sys_id=seeded.sys_id, sys_updated_on=seeded.record_updated,
                          sys_created_on=seeded.record_updated, sys_mod_count="1")
            table[seeded.sys_id] = record
            issue = jira._build_issue(
                {
                    "project": {"key": JIRA_PROJECT},
                    "issuetype": {"name": "Bug"},
                    "summary": f"{seeded.number}: Seeded incident {index}",
                    "priority": {"name": "Medium"},
                    "labels": [JIRA_LABEL, "servicenow", f"itsm-{seeded.sys_id}"],
                },
                "bridge",
            )
            del jira.state["issues"][issue["id"]]
            issue.update(id=seeded.issue_id, key=seeded.issue_key, status="10001",
                         created=base_ms, updated=seeded.issue_updated_ms)
            jira.state["issues"][seeded.issue_id] = issue
        jira.state["counters"][JIRA_PROJECT] = max(jira.state["counters"][JIRA_PROJECT], count)
        jira.state["counters"]["issue"] = max(jira.state["counters"]["issue"], 100_000 + count)


def seed_new_incidents(snow: Any, count: int, base: datetime) -> None:
    """``count`` new incidents the mapping selects, none linked yet (the backlog after an outage)."""
    stamp = base.strftime("%Y-%m-%d %H:%M:%S")
    with snow.lock:
        for index in range(count):
            record = snow.write(
                "incident",
                None,
                {"short_description": f"Backlog incident {index}", "assignment_group": GROUP, "priority": "3",
                 "description": "Raised while bridge was down"},
                "sam.support",
            )
            record.update(sys_updated_on=stamp, sys_created_on=stamp)


# ------------------------------------------------------------------------------------- child process


def serve(links: int, records: int, base: datetime) -> None:
    from bridge.sandbox.jira import JiraSandbox
    from bridge.sandbox.server import SandboxServer
    from bridge.sandbox.servicenow import ServiceNowSandbox

    jira = JiraSandbox(mode="cloud")
    snow = ServiceNowSandbox()
    jira_server = SandboxServer(jira).start()
    snow_server = SandboxServer(snow).start()
    for server in (jira_server, snow_server):
        server.httpd.request_queue_size = 64
    # the connectors send Host: 127.0.0.1:port, and the sandbox builds its self URLs from it
    jira.base_url = jira_server.url
    seed_links(jira, snow, links, base, jira_server.url, snow_server.url)
    seed_new_incidents(snow, records, base)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()  # parent gone: stop
    print(json.dumps({"jira": jira_server.url, "servicenow": snow_server.url}), flush=True)
    stop.wait()
    jira_server.stop()
    snow_server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._sandboxes", description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=0)
    parser.add_argument("--records", type=int, default=0)
    parser.add_argument("--base", type=float, required=True, help="seed time, POSIX seconds")
    args = parser.parse_args(argv)
    serve(args.links, args.records, datetime.fromtimestamp(args.base, UTC))
    return 0


# ------------------------------------------------------------------------------------- parent side


class SandboxProcess:
    """The child process: start it seeded, script people's actions over the admin HTTP surface, stop it."""

    def __init__(self, *, links: int = 0, records: int = 0, base: datetime | None = None,
                 start_timeout: float = 900.0) -> None:
        self.base = base or (datetime.now(UTC) - SEED_AGE).replace(microsecond=0)
        self.links = links
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._sandboxes", "--links", str(links), "--records", str(records),
             "--base", str(self.base.timestamp())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + start_timeout
        line = self.process.stdout.readline()
        if not line or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError("the sandbox process did not start (see its stderr above)")
        urls = json.loads(line)
        self.jira_url: str = urls["jira"]
        self.snow_url: str = urls["servicenow"]
        self.session = requests.Session()

    # -- admin surface (the frame's and the vendors')

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        response = self.session.request(method, url, json=body, timeout=60)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox admin call {method} {url} failed: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def stats(self) -> dict[str, dict[str, int]]:
        return {side: self._call("GET", f"{url}/_sandbox/stats")
                for side, url in (("jira", self.jira_url), ("servicenow", self.snow_url))}

    def throttle(self, *, latency: float, limit: int | None, window: float = 1.0) -> None:
        """Per-call latency and a fixed-window rate limit with 429 + Retry-After beyond it, on both sides."""
        for url in (self.jira_url, self.snow_url):
            self._call("POST", f"{url}/_sandbox/latency", {"seconds": latency})
            self._call("POST", f"{url}/_sandbox/rate-limit", {"limit": limit, "window": window})

    def snow_edit(self, sys_id: str, **fields: Any) -> Any:
        return self._call("PATCH", f"{self.snow_url}/_sandbox/servicenow/incident/{sys_id}", fields)["result"]

    def snow_state(self, sys_id: str, state: str, **fields: Any) -> Any:
        return self._call("POST", f"{self.snow_url}/_sandbox/servicenow/incident/{sys_id}/state",
                          {"state": state, "fields": fields})["result"]

    def snow_note(self, sys_id: str, text: str) -> Any:
        return self._call("POST", f"{self.snow_url}/_sandbox/servicenow/incident/{sys_id}/journal",
                          {"element": "work_notes", "text": text})["result"]

    def snow_incident(self, short_description: str) -> dict[str, str]:
        return self._call("POST", f"{self.snow_url}/_sandbox/servicenow/incidents",
                          {"short_description": short_description, "assignment_group": GROUP, "priority": 3})["result"]

    def snow_record(self, sys_id: str) -> dict[str, str]:
        return self._call("GET", f"{self.snow_url}/_sandbox/servicenow/incident/{sys_id}")["result"]

    def snow_journal(self, sys_id: str) -> list[dict[str, str]]:
        return self._call("GET", f"{self.snow_url}/_sandbox/servicenow/incident/{sys_id}/journal")["result"]

    def jira_edit(self, key: str, fields: dict[str, Any]) -> None:
        self._call("PUT", f"{self.jira_url}/_sandbox/jira/issues/{key}", {"fields": fields})

    def jira_comment(self, key: str, body: str) -> Any:
        return self._call("POST", f"{self.jira_url}/_sandbox/jira/issues/{key}/comments", {"body": body})

    def jira_transition(self, key: str, status: str) -> Any:
        return self._call("POST", f"{self.jira_url}/_sandbox/jira/issues/{key}/transition", {"status": status})

    def jira_issues(self) -> list[dict[str, Any]]:
        return list(self._call("GET", f"{self.jira_url}/_sandbox/jira/issues")["issues"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.session.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
