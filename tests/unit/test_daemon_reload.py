"""SIGHUP reloads the mappings between passes: a valid set is swapped in, an invalid one refused."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.daemon import Daemon
from bridge.errors import MappingError, MappingProblem
from bridge.mapping.schema import Mapping as MappingSpec
from tests.fixtures.engine import World, mapping_spec


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def test_a_valid_reload_swaps_the_mappings_between_passes(world: World) -> None:
    second = mapping_spec(name="second", target={"project": "OPS", "issue_type": "Task"},
                          route={"record_type": "incident", "where": {"field": "category", "equals": "network"}})
    daemon = Daemon(world.engine, interval_seconds=3600, reload=lambda: [mapping_spec(), second])
    daemon.decide_leadership()
    assert daemon.reload() is True
    assert sorted(m.name for m in world.engine.enabled_mappings()) == ["incidents", "second"]
    assert world.engine.store.held_lock("second") is not None  # new mappings are led at once
    world.incident("Switch down", state="2", category="network")
    assert set(daemon.run_all()) == {"incidents", "second"}
    daemon.reload_mappings = lambda: [second]
    assert daemon.reload() is True
    assert world.engine.store.held_lock("incidents") is None  # a removed mapping's lock is released


def test_an_invalid_reload_is_refused_and_the_old_mappings_keep_running(world: World) -> None:
    def broken() -> list[MappingSpec]:
        raise MappingError([MappingProblem("m.yaml", 3, 1, "route", "bad route")])

    daemon = Daemon(world.engine, interval_seconds=3600, reload=broken)
    with capture_logs() as lines:
        assert daemon.reload() is False
    [refused] = [line for line in lines if line["event"].startswith("reload refused")]
    assert refused["log_level"] == "error"
    assert "bad route" in refused["problems"][0]
    assert [m.name for m in world.engine.enabled_mappings()] == ["incidents"]


def test_sighup_reloads_in_the_running_daemon(world: World) -> None:
    reloaded = threading.Event()

    def reload() -> list[MappingSpec]:
        reloaded.set()
        return [mapping_spec()]

    daemon = Daemon(world.engine, interval_seconds=3600, reload=reload)
    runner = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGHUP))
    stopper = threading.Timer(2.5, daemon.request_stop)
    runner.start()
    stopper.start()
    try:
        assert daemon.run_forever() == 0
    finally:
        runner.cancel()
        stopper.cancel()
    assert reloaded.is_set()
