"""Leadership on a real PostgreSQL, in process: the probe, the check at the start of every cycle, the
takeover grace of several mappings side by side, the grace after a restart, and the fencing token
stopping a stale leader's cycle before its write reaches a vendor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.daemon import Daemon
from bridge.errors import LockHeldError
from bridge.store import LeadershipLostError, Store
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine
from tests.fixtures.engine import World, mapping_spec
from tests.fixtures.store import _reset_postgres
from tests.integration.test_pg_faults_fencing import terminate_lock_connection

pytestmark = pytest.mark.integration

SECOND = mapping_spec(name="second", target={"project": "OPS", "issue_type": "Task"},
                      route={"record_type": "incident", "where": {"field": "category", "equals": "network"}})


@pytest.fixture
def world(tmp_path: Path, postgres_url: str) -> Iterator[World]:
    _reset_postgres(postgres_url)
    w = World(tmp_path, mapping_spec(), database_url=postgres_url)
    yield w
    w.close()


def replica_of(world: World, *specs: object) -> Engine:
    """A second bridge process on the same database and the same vendors."""
    return Engine(Store.open(world.url), world.itsm, world.jira, list(specs) or [world.spec],  # type: ignore[arg-type]
                  clock=world.clock)


def lost_count(engine: Engine, mapping: str = "incidents") -> float:
    assert engine.metrics is not None
    line = f'bridge_leadership_lost_total{{mapping="{mapping}"}} '
    found = [row for row in engine.metrics.exposition().decode().splitlines() if row.startswith(line)]
    return float(found[0].split()[-1]) if found else 0.0


def test_an_idle_leader_notices_a_killed_lock_connection_within_one_probe(world: World) -> None:
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=0, metrics_bind="127.0.0.1:0")
    daemon.decide_leadership()
    assert isinstance(daemon.run_all()["incidents"], CycleReport)
    assert daemon.probe_locks() == []
    terminate_lock_connection(world.url, "incidents")
    assert daemon.probe_locks() == ["incidents"]  # no cycle, nothing to write: the probe sees it
    assert lost_count(world.engine) == 1
    result = daemon.run_all()["incidents"]  # the next cycle does not start without the lock
    assert isinstance(result, LeadershipLostError)
    assert daemon.standby == {"incidents"}
    assert lost_count(world.engine) == 1  # logged and counted once
    assert world.store.held_lock("incidents") is None
    assert isinstance(daemon.run_all()["incidents"], LockHeldError)  # stands back one pass
    assert isinstance(daemon.run_all()["incidents"], CycleReport)  # then leads again: nobody else wanted it


def test_a_leader_checks_its_lock_at_the_start_of_every_cycle(world: World) -> None:
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=0, metrics_bind="127.0.0.1:0")
    daemon.decide_leadership()
    terminate_lock_connection(world.url, "incidents")
    other = replica_of(world)
    try:
        other.lead("incidents")
        world.incident(state="2")
        result = daemon.run_all()["incidents"]
        assert isinstance(result, LeadershipLostError)
        assert world.jira.issues() == []  # the stale leader wrote nothing
        assert lost_count(world.engine) == 1
    finally:
        other.store.close()


def test_a_stale_leader_mid_cycle_is_fenced_before_its_write(world: World) -> None:
    world.engine.lead("incidents")
    terminate_lock_connection(world.url, "incidents")
    other = replica_of(world)
    try:
        other.lead("incidents")  # epoch 2: the stale leader (epoch 1) has not noticed
        world.incident(state="2")
        with pytest.raises(LeadershipLostError, match="refused before it reached a vendor"):
            run_cycle(world.engine, "incidents")
        assert world.jira.issues() == []
        assert other.store.journal_counts("incidents") == {}
        report = run_cycle(other, "incidents")  # the new leader does the work, once
        assert report.outcomes_by_status.get("done", 0) >= 1
        assert len(world.jira.issues()) == 1
    finally:
        other.store.close()


def test_takeover_graces_of_several_mappings_run_side_by_side(world: World) -> None:
    world.engine.replace_mappings([world.spec, SECOND])
    world.engine.lead("incidents")
    world.engine.lead("second")
    other = replica_of(world, world.spec, SECOND)
    grace = 1.5
    standby = Daemon(other, interval_seconds=60, takeover_grace_seconds=grace)
    try:
        standby.decide_leadership()
        assert standby.standby == {"incidents", "second"}
        world.store.release_lock("incidents")
        world.store.release_lock("second")
        started = time.monotonic()
        results = standby.run_all()
        took = time.monotonic() - started
        assert all(isinstance(r, CycleReport) for r in results.values()), results
        assert grace <= took < 2 * grace, f"two takeovers took {took:.1f}s with a {grace}s grace"
    finally:
        other.store.close()


def test_a_restarted_replica_waits_the_grace_before_its_first_cycle(world: World) -> None:
    grace = 1.0
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=grace)
    started = time.monotonic()
    daemon.decide_leadership()  # the lock is free at once (the previous process was killed)
    assert daemon.standby == set()
    assert isinstance(daemon.run_all()["incidents"], CycleReport)
    assert time.monotonic() - started >= grace
    started = time.monotonic()
    daemon.run_all()
    assert time.monotonic() - started < grace  # only the first cycle after taking the lock waits
