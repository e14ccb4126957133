"""Two ``bridge run`` replicas on one PostgreSQL share the work, and losing the leader loses nothing.

Real processes (``python -m bridge run``), a real PostgreSQL (``postgres_url``), the Jira and ServiceNow
sandboxes over real HTTP (in this test's process, with latency so a cycle takes seconds). The leader is
``kill -9``-ed in the middle of a cycle, or cut off from the database; the standby must finish the work
with no duplicate issue, no duplicate comment, and no action applied twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_TOKEN, JiraSandbox
from bridge.sandbox.server import SandboxServer
from bridge.sandbox.servicenow import API_PASSWORD, API_USER, ServiceNowSandbox
from bridge.store import Store
from bridge.store.diagnostics import lock_holders
from tests.fixtures.store import _reset_postgres

pytestmark = pytest.mark.integration

MAPPING: dict[str, Any] = {
    "name": "incidents",
    "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {
        "summary": {"template": "{{ number }}: {{ short_description }}"},
        "priority": {"itsm": "priority", "map": {"1": "Highest", "2": "High", "3": "Medium", "4": "Low"},
                     "default": "Medium"},
    },
    "status": {"to_jira": {"2": "In Progress"}, "to_itsm": {"In Progress": "2"}},
}
RECORDS = 8
#: seconds every vendor request takes: a cycle over the seeded records takes several seconds
LATENCY = 0.12
ROOT = Path(__file__).resolve().parents[2]
Span = tuple[datetime, datetime]


@dataclass
class Sides:
    jira: JiraSandbox
    snow: ServiceNowSandbox
    servers: list[SandboxServer] = field(default_factory=list)


@pytest.fixture
def sides() -> Iterator[Sides]:
    jira, snow = JiraSandbox(mode="cloud"), ServiceNowSandbox()
    found = Sides(jira, snow, [SandboxServer(jira).start(), SandboxServer(snow).start()])
    yield found
    for server in found.servers:
        server.stop()


@pytest.fixture
def database(postgres_url: str) -> str:
    _reset_postgres(postgres_url)
    return postgres_url


class Replica:
    """One ``bridge run`` process; its JSON log lines go to a file the test reads."""

    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = root / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "--config", str(root / "config.yaml"), "run"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def said(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event") == event]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def replicas(tmp_path: Path, sides: Sides, database: str) -> Iterator[Callable[[str], Replica]]:
    (tmp_path / "mappings").mkdir()
    with (tmp_path / "mappings" / "incidents.yaml").open("w") as out:
        YAML(typ="safe", pure=True).dump(MAPPING, out)
    jira_url, snow_url = (server.url for server in sides.servers)
    (tmp_path / "config.yaml").write_text(
        f"jira:\n  url: {jira_url}\n  deployment: cloud\n  email: {BRIDGE_EMAIL}\n  requests_per_second: 100\n"
        f"itsm:\n  kind: servicenow\n  url: {snow_url}\n  username: {API_USER}\n  requests_per_second: 100\n"
        "schedule:\n  interval_seconds: 1\n"
        "mappings:\n  directory: mappings\n"
        "logging:\n  format: json\n  level: INFO\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
        "BRIDGE_JIRA__TOKEN": BRIDGE_TOKEN,
        "BRIDGE_ITSM__PASSWORD": API_PASSWORD,
        "BRIDGE_STATE__URL": database,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("NOTIFY_SOCKET", None)
    started: list[Replica] = []

    def start(name: str) -> Replica:
        replica = Replica(name, tmp_path, env)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def quiet_cycle(replica: Replica) -> bool:
    """A cycle that planned and applied nothing: the work is done and stays done."""
    return any(e.get("event") == "cycle finished" and not e.get("actions") and not e.get("outcomes")
               for e in replica.events())


def holder_pid(database: str) -> int | None:
    store = Store.open(database, migrate_schema=False)
    try:
        holder = lock_holders(store, ["incidents"])["incidents"]
    finally:
        store.close()
    if not holder.held or not holder.application:
        return None
    return int(holder.application.rsplit(":", 1)[1])


def cycle_spans(replica: Replica, mapping: str, *, killed_at: datetime | None = None) -> list[Span]:
    """The replica's cycles of ``mapping``, from its log; a cycle cut short by kill -9 ends at the kill."""
    spans: list[Span] = []
    started: datetime | None = None
    for event in replica.events():
        if event.get("mapping") != mapping or event.get("event") not in ("cycle started", "cycle ended"):
            continue
        at = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
        if event["event"] == "cycle started":
            assert started is None, f"{replica.name}: two cycles of {mapping} started at once"
            started = at
        else:
            assert started is not None
            spans.append((started, at))
            started = None
    if started is not None:
        spans.append((started, killed_at or datetime.now(UTC)))
    return spans


def lost_lock(replica: Replica) -> list[dict[str, object]]:
    return [e for e in replica.events() if str(e.get("event", "")).startswith("lost the lock of the mapping")]


def assert_one_leader_at_a_time(first: list[Span], second: list[Span]) -> None:
    overlaps = [(a, b) for a in first for b in second if a[0] < b[1] and b[0] < a[1]]
    assert not overlaps, f"two replicas cycled the mapping at the same time: {overlaps[:3]}"


def seed(sides: Sides) -> list[dict[str, str]]:
    records = []
    for n in range(RECORDS):
        record = sides.snow.create_incident(f"Outage {n}", priority=3, state=2, category="software")
        sides.snow.add_work_note("incident", record["sys_id"], f"first analysis of outage {n}")
        records.append(record)
    sides.jira.latency = LATENCY
    sides.snow.latency = LATENCY
    return records


def assert_synced_exactly_once(sides: Sides, records: list[dict[str, str]], database: str) -> None:
    issues = sides.jira.snapshot()
    summaries = Counter(issue["summary"] for issue in issues)
    assert len(issues) == RECORDS, f"expected one issue per record, got {sorted(summaries.elements())}"
    assert all(count == 1 for count in summaries.values()), summaries
    for issue in issues:
        bodies = [c["body"] for c in issue["comments"]]
        assert len(bodies) == 1, f"{issue['key']} has comments {bodies}"  # the work note, once
        assert "first analysis" in bodies[0]
        assert issue["status"] == "In Progress"
    for record in records:
        stored = sides.snow.record("incident", record["sys_id"])
        assert stored["correlation_id"] in {issue["key"] for issue in issues}
        notes = [r for r in sides.snow.journal("incident", record["sys_id"]) if r["element"] == "work_notes"]
        assert len(notes) == 1  # nothing mirrored back to its origin
    store = Store.open(database, migrate_schema=False)
    try:
        counts = store.journal_counts("incidents")
        assert counts.get("pending", 0) == 0
        assert counts.get("failed", 0) == 0
        assert store.open_error_count() == 0
        assert store.link_count("incidents") == RECORDS
    finally:
        store.close()


def test_standby_finishes_the_work_after_the_leader_is_killed_mid_cycle(
    sides: Sides, replicas: Callable[[str], Replica], database: str
) -> None:
    records = seed(sides)
    leader = replicas("a")
    wait_for(lambda: holder_pid(database) == leader.pid, 30, "replica a to lead")
    standby = replicas("b")
    wait_for(lambda: standby.said("daemon started"), 30, "replica b to start")
    assert standby.said("daemon started")[0]["standby"] == ["incidents"]
    # mid-cycle: some of the work done, not all of it (creates go to Jira in one bulk request, so every
    # issue may exist already while their follow-ups, such as the mirrored comments, are still to come)
    wait_for(lambda: len(sides.jira.snapshot()) >= 2, 60, "the leader's first issues")
    snapshot = sides.jira.snapshot()
    unfinished = len(snapshot) < RECORDS or not all(len(i["comments"]) >= 1 for i in snapshot)
    assert unfinished, "the cycle finished before the kill: raise RECORDS or LATENCY"
    os.kill(leader.pid, signal.SIGKILL)
    killed_wall = datetime.now(UTC)
    leader.process.wait(timeout=10)
    killed_at = time.monotonic()
    wait_for(lambda: holder_pid(database) == standby.pid, 15, "replica b to take the lock over")
    took_over = time.monotonic() - killed_at
    assert took_over < 5, f"takeover took {took_over:.1f}s with a 1 s interval"
    wait_for(lambda: standby.said("took over the mapping: now syncing it"), 30, "replica b to sync")
    wait_for(lambda: len(sides.jira.snapshot()) == RECORDS and all(
        len(i["comments"]) >= 1 for i in sides.jira.snapshot()), 90, "the standby to finish the work")
    wait_for(lambda: quiet_cycle(standby), 60, "a quiet cycle on the standby")
    assert_one_leader_at_a_time(cycle_spans(leader, "incidents", killed_at=killed_wall),
                                cycle_spans(standby, "incidents"))
    assert_synced_exactly_once(sides, records, database)


def test_a_leader_cut_off_from_the_database_stops_writing_at_once(
    sides: Sides, replicas: Callable[[str], Replica], database: str
) -> None:
    records = seed(sides)
    leader = replicas("a")
    wait_for(lambda: holder_pid(database) == leader.pid, 30, "replica a to lead")
    standby = replicas("b")
    wait_for(lambda: standby.said("daemon started"), 30, "replica b to start")
    wait_for(lambda: len(sides.jira.snapshot()) >= 2, 60, "the leader's first issues")
    # The leader's lock connection dies (a database restart, a network cut): the lock goes with it.
    store = Store.open(database, migrate_schema=False)
    try:
        with store.engine.connect() as connection:
            from sqlalchemy import text

            killed = connection.execute(
                text("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                     "WHERE l.locktype = 'advisory' AND a.application_name LIKE :name"),
                {"name": f"%:{leader.pid}"},
            ).scalars().all()
    finally:
        store.close()
    assert killed == [True]
    lost = wait_for(
        lambda: [e for e in leader.events() if "lost the database connection" in str(e.get("error", ""))],
        30, "the leader to notice",
    )
    wait_for(lambda: holder_pid(database) == standby.pid, 15, "replica b to take the lock over")
    wait_for(lambda: len(sides.jira.snapshot()) == RECORDS and all(
        len(i["comments"]) >= 1 for i in sides.jira.snapshot()), 90, "the standby to finish the work")
    wait_for(lambda: quiet_cycle(standby), 60, "a quiet cycle on the standby")
    # after noticing, the cut-off leader applied nothing more: it went on standby
    events = leader.events()
    noticed = events.index(lost[0])
    assert not [e for e in events[noticed:] if e.get("event") == "action applied"]
    assert leader.process.poll() is None  # still running, now a standby itself
    assert_one_leader_at_a_time(cycle_spans(leader, "incidents"), cycle_spans(standby, "incidents"))
    assert_synced_exactly_once(sides, records, database)
