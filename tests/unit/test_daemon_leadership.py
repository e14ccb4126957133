"""The daemon's leadership on SQLite (fast tier): when the takeover grace protects something and when it
is skipped, and the lock probe the scheduler runs beside the cycles. PostgreSQL's side of it (lost
connections, the epoch, graces side by side) is in tests/integration/test_pg_faults_*.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.daemon import Daemon
from bridge.sync.cycle import CycleReport
from tests.fixtures.engine import World, mapping_spec
from tests.unit.test_store import create_action


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def test_a_lock_file_with_nothing_pending_needs_no_grace(world: World) -> None:
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=30)
    started = time.monotonic()
    daemon.decide_leadership()
    assert isinstance(daemon.run_all()["incidents"], CycleReport)
    assert time.monotonic() - started < 10  # a flock ends with its process: no stale leader, no request in flight


def test_a_restart_with_a_pending_action_waits_the_grace(world: World) -> None:
    world.store.journal_begin(create_action(1))  # the previous process died with a request in flight
    world.restart()
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=1.0)
    started = time.monotonic()
    daemon.decide_leadership()
    assert daemon.standby == set()
    daemon.run_all()
    assert time.monotonic() - started >= 1.0


def test_the_probe_checks_the_locks_this_replica_holds(world: World) -> None:
    daemon = Daemon(world.engine, interval_seconds=60, takeover_grace_seconds=0)
    daemon.decide_leadership()
    assert daemon.probe_locks() == []
    daemon.start()
    try:
        jobs = {job.id for job in daemon._scheduler.get_jobs()}
        assert "bridge-lock-probe" in jobs
    finally:
        daemon.request_stop()
        daemon._scheduler.shutdown(wait=True)
