"""The cycle's time bound (``engine.cycle_seconds``): a cycle past its deadline stops between actions,
leaves the rest pending and its cursor in place, and the next cycles finish the work — nothing is lost,
nothing is done twice. Time is the world's manual clock, moved by the writes themselves: no sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bridge.connectors.memory import MemoryItsm
from bridge.model import FieldValue, Ref, Side
from bridge.settings import EngineSettings
from bridge.sync.deadline import MIN_EXECUTION_SHARE, CycleStop, not_run_by_deadline
from bridge.sync.engine import Engine
from bridge.sync.executor import ActionOutcome, Outcome
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
#: what one back-reference PATCH costs in this world's time (a slow vendor)
WRITE_SECONDS = 4.0


class SlowItsm(MemoryItsm):
    """The memory ServiceNow whose back-reference PATCH takes :data:`WRITE_SECONDS` of the shared clock."""

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        super().write_back_reference(ref, other, values)
        self.clock.advance(seconds=WRITE_SECONDS)


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    w.itsm = SlowItsm(clock=w.clock)
    yield w
    w.close()


def bounded(world: World, seconds: float | None, budget: int | None = None) -> None:
    world.engine = Engine(world.store, world.itsm, world.jira, [world.spec], clock=world.clock,
                          options=replace(world.engine.options, cycle_seconds=seconds, cycle_budget=budget))


def backlog(world: World, n: int) -> list[Ref]:
    refs = []
    for i in range(n):
        refs.append(world.incident(f"Backlog {i}"))
        world.clock.advance(seconds=1)
    return refs


def referenced(world: World, refs: list[Ref]) -> set[str]:
    """Records whose back-reference (the last write of a new record) is written."""
    return {r.id for r in refs if world.itsm.record(r).fields.get("correlation_id")}


# ------------------------------------------------------------------------------------------ the flag


def test_the_flag_is_raised_by_the_deadline_or_the_operator() -> None:
    clock, operator = Seconds(), threading.Event()
    stop = CycleStop(operator, 20.0, clock)
    assert not stop.is_set()
    clock.now += 19.9
    assert not stop.is_set()
    clock.now += 0.1
    assert stop.is_set()
    assert stop.expired
    assert not stop.operator_stopped
    stop.grant()
    assert not stop.is_set(), "the executor gets its minimum however long reading took"
    clock.now += 20.0 * MIN_EXECUTION_SHARE - 0.1
    assert not stop.is_set()
    clock.now += 0.1
    assert stop.is_set()
    operator.set()
    assert stop.operator_stopped


def test_without_a_bound_only_the_operator_stops_the_cycle() -> None:
    clock, operator = Seconds(), threading.Event()
    stop = CycleStop(operator, None, clock)
    clock.now += 1e6
    stop.grant()
    assert not stop.is_set()
    assert not stop.expired
    operator.set()
    assert stop.is_set()


def test_actions_left_by_the_operator_are_not_counted_as_cut_by_time() -> None:
    clock, operator = Seconds(), threading.Event()
    stop = CycleStop(operator, 5.0, clock)
    outcomes = [ActionOutcome(object(), Outcome.NOT_RUN), ActionOutcome(object(), Outcome.DONE)]  # type: ignore[arg-type]
    assert not_run_by_deadline(stop, outcomes) == 0
    clock.now += 5
    assert not_run_by_deadline(stop, outcomes) == 1
    operator.set()
    assert not_run_by_deadline(stop, outcomes) == 0
    assert not_run_by_deadline(threading.Event(), outcomes) == 0


def test_the_shipped_bound_leaves_room_for_one_search_within_the_interval_plus_five_seconds() -> None:
    shipped = EngineSettings()
    assert 0 < shipped.cycle_seconds <= 30 - 5


# ------------------------------------------------------------------------------------------ a cycle


def test_a_cycle_past_its_deadline_leaves_the_rest_pending_and_the_next_cycles_finish(world: World) -> None:
    bounded(world, 10.0)
    started = world.clock()
    refs = backlog(world, 6)
    first = world.cycle()
    done = referenced(world, refs)
    # the creates go first (one bulk call, no time); then each back-reference costs 4 s: three fit in 10 s
    assert len(done) == 3
    assert first.pending > 0
    assert first.deferred >= first.pending, "the daemon runs the next cycle at once"
    assert any("engine.cycle_seconds" in note for note in first.notes)
    assert world.store.journal_counts(M).get("pending", 0) > 0, "the rest is journaled, not forgotten"
    cursor = world.store.get_cursor(M, Side.ITSM)
    # held at the oldest record with a cut action (the third: its remote link did not run)
    assert cursor is not None
    assert cursor <= started + timedelta(seconds=2), "the cut changes are read again"

    for _ in range(6):
        world.clock.advance(seconds=5)
        if not world.cycle().deferred:
            break
    world.settle()
    assert referenced(world, refs) == {r.id for r in refs}
    assert len(world.jira.issues()) == 6, "each record got exactly one issue"
    assert world.store.journal_counts(M).get("pending", 0) == 0
    assert world.store.open_error_count(M) == 0


def test_a_change_made_during_a_backlog_is_applied_first_when_the_deadline_cuts(world: World) -> None:
    # the budget keeps two records a cycle, the deadline lets one back-reference through
    bounded(world, 3.0, budget=6)
    old = backlog(world, 8)
    world.clock.advance(seconds=30)
    fresh = world.incident("Arrived during the backlog")
    report = world.cycle()
    assert referenced(world, [fresh]) == {fresh.id}, "the newest unit is applied before the oldest"
    assert referenced(world, old) == set()
    assert report.deferred > 0
    for _ in range(30):
        world.clock.advance(seconds=5)
        if not world.cycle().deferred:
            break
    world.settle()
    assert referenced(world, old) == {r.id for r in old}
    assert len(world.jira.issues()) == 9


def test_no_time_bound_applies_everything_however_slow(world: World) -> None:
    bounded(world, None)
    refs = backlog(world, 4)
    report = world.cycle()
    assert report.deferred == 0
    assert report.pending == 0
    assert referenced(world, refs) == {r.id for r in refs}
    assert isinstance(world.clock(), datetime)
