"""The daemon: scheduled cycles, standby while another process leads, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.connectors.http import RateLimitWindowError
from bridge.connectors.memory import MemoryItsm
from bridge.daemon import Daemon
from bridge.errors import LockHeldError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Ref
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


class ClosedItsm(MemoryItsm):
    """A vendor that answered a 10-hour ``Retry-After``: the HTTP layer closed the side until then."""

    def __init__(self, until: datetime, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.until = until
        self.searches = 0

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        self.searches += 1
        if datetime.now(UTC) < self.until:
            raise RateLimitWindowError("itsm rate-limited until 17:42Z", until=self.until, side="itsm")
        yield from super().search_changed(mapping, since, fields)


def test_a_long_rate_limit_skips_the_mapping_until_it_ends_and_is_on_the_error_list(world: World) -> None:
    closed = ClosedItsm(datetime.now(UTC) + timedelta(hours=10), clock=world.clock)
    world.itsm = world.engine.itsm = closed
    daemon = Daemon(world.engine, interval_seconds=60)
    first = daemon.run_all()["incidents"]
    assert isinstance(first, RateLimitWindowError)
    assert closed.searches == 1
    (entry,) = world.store.errors("incidents")
    assert "rate-limited until 17:42Z" in entry.message
    again = daemon.run_all()["incidents"]  # the next interval: no cycle, no request
    assert isinstance(again, RateLimitWindowError)
    assert "cycle skipped" in str(again)
    assert closed.searches == 1
    closed.until = datetime.now(UTC) - timedelta(seconds=1)  # the window ends
    daemon.rate_limited_until["incidents"] = closed.until
    assert isinstance(daemon.run_all()["incidents"], CycleReport)
    assert world.store.errors("incidents") == []  # resolved by the cycle that ran
