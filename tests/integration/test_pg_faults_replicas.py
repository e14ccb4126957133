"""PostgreSQL faults with two real ``bridge run`` replicas (issue 15, item 10): the leader's lock
connection killed while it idles, ``kill -9`` of the leader of two mappings, PostgreSQL restarted in
the middle of a cycle. In each: no duplicate issue or comment, nothing lost, and never two replicas in
a cycle of one mapping at the same time — measured from the replicas' JSON logs ("cycle started" and
"cycle ended", each with its timestamp and mapping).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from ruamel.yaml import YAML

from bridge.store import Store
from bridge.store.diagnostics import lock_holders
from tests.conftest import find_postgres_bin
from tests.integration.test_pg_faults_fencing import terminate_lock_connection
from tests.integration.test_replicas import (
    MAPPING,
    RECORDS,
    Replica,
    Sides,
    assert_one_leader_at_a_time,
    assert_synced_exactly_once,
    cycle_spans,
    lost_lock,
    quiet_cycle,
    seed,
    wait_for,
)

# the fixtures of test_replicas.py, imported by name so that pytest finds them here
from tests.integration.test_replicas import database as database
from tests.integration.test_replicas import replicas as replicas
from tests.integration.test_replicas import sides as sides

pytestmark = pytest.mark.integration

def holder(url: str, mapping: str = "incidents") -> int | None:
    """The pid of the process holding the mapping's lock, as PostgreSQL sees it (what `bridge doctor` shows)."""
    store = Store.open(url, migrate_schema=False)
    try:
        found = lock_holders(store, [mapping])[mapping]
    finally:
        store.close()
    if not found.held or not found.application:
        return None
    return int(found.application.rsplit(":", 1)[1])


def add_mapping(root: Path, name: str, category: str) -> dict[str, object]:
    spec = {**MAPPING, "name": name, "route": {"record_type": "incident",
                                                "where": {"field": "category", "equals": category}}}
    with (root / "mappings" / f"{name}.yaml").open("w") as out:
        YAML(typ="safe", pure=True).dump(spec, out)
    return spec


def restart_postgres(url: str) -> None:
    """``pg_ctl restart -m fast`` of the test cluster: every session ends, as in a database failover."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            data = Path(str(connection.execute(sqlalchemy.text("SHOW data_directory")).scalar()))
    finally:
        engine.dispose()
    bindir = find_postgres_bin()
    assert bindir is not None
    owner = data.stat()
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:
        run_as = {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
    result = subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "-l",
         str(data.parent / "restart.log"), "restart"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(data.parent)},
        cwd=data.parent, capture_output=True, text=True, timeout=120, check=False,
        **run_as,  # type: ignore[arg-type]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_leader_whose_lock_connection_dies_while_idle_stops_cycling(
    sides: Sides, replicas: Callable[[str], Replica], database: str
) -> None:
    records = seed(sides)
    leader = replicas("a")
    wait_for(lambda: holder(database) == leader.pid, 30, "replica a to lead")
    wait_for(lambda: quiet_cycle(leader), 120, "replica a to finish the work")
    standby = replicas("b")
    wait_for(lambda: standby.said("daemon started"), 30, "replica b to start")
    assert standby.said("daemon started")[0]["standby"] == ["incidents"]
    time.sleep(2)  # a few idle cycles of the leader
    terminate_lock_connection(database, "incidents")
    killed = time.monotonic()
    wait_for(lambda: lost_lock(leader), 10, "the idle leader to notice")
    noticed = time.monotonic() - killed
    assert noticed < 3, f"an idle leader noticed its lost lock after {noticed:.1f}s with a 1 s interval"
    wait_for(lambda: holder(database) == standby.pid, 15, "replica b to take the lock over")
    wait_for(lambda: standby.said("took over the mapping: now syncing it"), 15, "replica b to sync")
    wait_for(lambda: quiet_cycle(standby), 60, "a quiet cycle on the standby")
    time.sleep(3)  # both keep running: the old leader must stay on standby
    assert holder(database) == standby.pid
    assert leader.process.poll() is None
    assert len(lost_lock(leader)) == 1
    assert_one_leader_at_a_time(cycle_spans(leader, "incidents"), cycle_spans(standby, "incidents"))
    assert_synced_exactly_once(sides, records, database)


def test_kill_9_of_the_leader_of_two_mappings_hands_both_over_within_one_interval(
    tmp_path: Path, sides: Sides, replicas: Callable[[str], Replica], database: str
) -> None:
    add_mapping(tmp_path, "network", "network")
    records = seed(sides)
    for n in range(3):
        sides.snow.create_incident(f"Switch {n} down", priority=3, state=2, category="network")
    leader = replicas("a")
    wait_for(lambda: holder(database) == leader.pid and holder(database, "network") == leader.pid, 30,
             "replica a to lead both mappings")
    standby = replicas("b")
    wait_for(lambda: standby.said("daemon started"), 30, "replica b to start")
    wait_for(lambda: len(sides.jira.snapshot()) >= 2, 60, "the leader's first issues")
    os.kill(leader.pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    leader.process.wait(timeout=10)
    killed = time.monotonic()
    wait_for(lambda: holder(database) == standby.pid and holder(database, "network") == standby.pid, 15,
             "replica b to take both mappings over")
    took = time.monotonic() - killed
    # one interval (1 s) to notice, one grace (1 s) for both mappings side by side, scheduling slack
    assert took < 4, f"taking two mappings over took {took:.1f}s"
    first_cycles = wait_for(
        lambda: {e["mapping"] for e in standby.said("cycle started")} >= {"incidents", "network"} or None,
        30, "replica b to cycle both mappings")
    assert first_cycles
    wait_for(lambda: len(sides.jira.snapshot()) == RECORDS + 3 and all(
        len(i["comments"]) >= 1 for i in sides.jira.snapshot() if i["summary"].startswith("INC")
        and "Outage" in i["summary"]), 120, "the standby to finish the work")
    wait_for(lambda: sum(1 for e in standby.events() if e.get("event") == "cycle finished" and not e.get("actions")
                         and e.get("mapping") == "network") > 0 and quiet_cycle(standby), 60, "quiet cycles")
    summaries = Counter(issue["summary"] for issue in sides.jira.snapshot())
    assert all(count == 1 for count in summaries.values()), summaries
    for name in ("incidents", "network"):
        assert_one_leader_at_a_time(cycle_spans(leader, name, killed_at=killed_at), cycle_spans(standby, name))
    store = Store.open(database, migrate_schema=False)
    try:
        assert store.journal_counts().get("pending", 0) == 0
        assert store.link_count("incidents") == RECORDS
        assert store.link_count("network") == 3
    finally:
        store.close()
    for issue in sides.jira.snapshot():
        if "Outage" in issue["summary"]:
            assert len(issue["comments"]) == 1, issue
    assert len(records) == RECORDS


def test_postgresql_restarted_mid_cycle_loses_and_repeats_nothing(
    sides: Sides, replicas: Callable[[str], Replica], database: str
) -> None:
    records = seed(sides)
    first = replicas("a")
    wait_for(lambda: holder(database) == first.pid, 30, "replica a to lead")
    second = replicas("b")
    wait_for(lambda: second.said("daemon started"), 30, "replica b to start")
    wait_for(lambda: len(sides.jira.snapshot()) >= 2, 60, "the leader's first issues")
    snapshot = sides.jira.snapshot()
    assert len(snapshot) < RECORDS or not all(i["comments"] for i in snapshot), "the cycle finished too early"
    restart_postgres(database)
    wait_for(lambda: holder(database) in (first.pid, second.pid), 30, "a replica to lead again")
    wait_for(lambda: len(sides.jira.snapshot()) == RECORDS and all(
        len(i["comments"]) >= 1 for i in sides.jira.snapshot()), 120, "the work to be finished")
    wait_for(lambda: quiet_cycle(first) or quiet_cycle(second), 60, "a quiet cycle")
    wait_for(lambda: any(e.get("event") == "cycle finished" and not e.get("actions")
                         for r in (first, second) if r.pid == holder(database) for e in r.events()),
             60, "a quiet cycle on the current leader")
    assert first.process.poll() is None  # both survived the restart
    assert second.process.poll() is None
    assert_one_leader_at_a_time(cycle_spans(first, "incidents"), cycle_spans(second, "incidents"))
    assert_synced_exactly_once(sides, records, database)
