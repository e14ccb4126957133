"""The daemon: scheduled cycles, standby while another process leads, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.daemon import Daemon
from bridge.errors import LockHeldError
from bridge.model import Ref
from bridge.store import Store
from bridge.sync.cycle import CycleReport
from bridge.sync.engine import Engine
from tests.fixtures.engine import World, mapping_spec


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def test_a_pass_syncs_every_enabled_mapping(world: World) -> None:
    record = world.incident(state="2")
    daemon = Daemon(world.engine, interval_seconds=60)
    results = daemon.run_all()
    assert isinstance(results["incidents"], CycleReport)
    assert world.issue_of(record).startswith("OPS-")
    assert daemon.misfire_grace == 60


def test_replica_waits_on_standby_and_takes_over(world: World) -> None:
    record = world.incident(state="2")
    other_store = Store.open(world.url)
    replica = Engine(other_store, world.itsm, world.jira, [world.spec], clock=world.clock)
    leader = Daemon(world.engine, interval_seconds=60)
    standby = Daemon(replica, interval_seconds=60, takeover_grace_seconds=0)
    try:
        assert isinstance(leader.run_all()["incidents"], CycleReport)
        assert isinstance(standby.run_all()["incidents"], LockHeldError)
        assert standby.standby == {"incidents"}
        world.store.close()  # the leader goes away: its lock with it
        world.clock.advance(seconds=5)
        world.incident("another", state="2")
        assert isinstance(standby.run_all()["incidents"], CycleReport)
        assert standby.standby == set()
        assert len(world.jira.issues()) == 2
        assert world.issue_of(record) == "OPS-1"
    finally:
        other_store.close()


def test_sigterm_finishes_the_current_action_and_exits_0(world: World) -> None:
    first = world.incident("one", state="2")
    world.incident("two", state="2")
    daemon = Daemon(world.engine, interval_seconds=3600)

    def stop_after_first_write(operation: str, ref: Ref) -> None:
        world.jira.after_write = None
        os.kill(os.getpid(), signal.SIGTERM)

    world.jira.after_write = stop_after_first_write
    previous = signal.getsignal(signal.SIGTERM)
    assert daemon.run_forever() == 0
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers restored
    report = daemon.last["incidents"]
    assert isinstance(report, CycleReport)
    assert report.outcomes_by_status.get("done") == 1  # the write in hand was committed
    assert report.outcomes_by_status.get("not_run", 0) >= 1
    assert len(world.jira.issues()) == 1
    # the next start picks up exactly where it stopped: nothing twice, nothing lost
    world.restart()
    world.settle()
    assert len(world.jira.issues()) == 2
    assert world.itsm.record(first).fields["correlation_id"] == world.issue_of(first)
