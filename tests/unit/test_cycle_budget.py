"""The cycle's action budget (``engine.cycle_budget``): a backlog drains over several cycles, a change
made meanwhile is mirrored in the next cycle, and no change is ever skipped. Counts, not timings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.model import Ref, Side
from bridge.sync.engine import Engine
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
#: a new record in state "1" costs three actions: the create and a back-reference on each side
PER_RECORD = 3


def budgeted(world: World, budget: int | None) -> None:
    world.engine = Engine(world.store, world.itsm, world.jira, [world.spec],
                          options=replace(world.engine.options, cycle_budget=budget), clock=world.clock)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def backlog(world: World, n: int) -> list[Ref]:
    refs = []
    for i in range(n):
        refs.append(world.incident(f"Backlog {i}"))
        world.clock.advance(seconds=1)
    return refs


def linked(world: World, refs: list[Ref]) -> set[str]:
    return {r.id for r in refs if world.store.link_for_record(M, r.id) is not None}


def test_a_backlog_of_three_budgets_drains_in_three_cycles_and_a_new_change_waits_one(world: World) -> None:
    budget = 3 * PER_RECORD  # three records per cycle
    budgeted(world, budget)
    old = backlog(world, 9)  # three budgets' worth
    first = world.cycle()
    assert len(first.actions) == budget
    assert first.deferred == 6
    assert len(linked(world, old)) == 3
    # the newest and the oldest ends both progress
    assert old[-1].id in linked(world, old)
    assert old[0].id in linked(world, old)
    # the ITSM cursor stays where it was (none yet): the next search reads the left-out changes again
    assert world.store.get_cursor(M, Side.ITSM) is None

    world.clock.advance(seconds=30)
    fresh = world.incident("Arrived during the backlog")
    second = world.cycle()
    assert fresh.id in linked(world, [fresh]), "a change made during a backlog is mirrored in the next cycle"
    assert len(second.actions) == budget
    assert second.deferred == 4

    reports = [world.cycle() for _ in range(3)]
    assert [r.deferred for r in reports] == [1, 0, 0]
    assert linked(world, old) == {r.id for r in old}
    assert len(world.jira.issues()) == 10, "each record got exactly one issue"
    assert reports[-1].actions == []
    assert world.store.get_cursor(M, Side.ITSM) is not None


def test_a_held_cursor_does_not_move_past_a_left_out_change(world: World) -> None:
    budgeted(world, None)
    [steady] = backlog(world, 1)
    world.cycle()
    world.settle()
    cursor = world.store.get_cursor(M, Side.ITSM)
    assert cursor is not None
    budgeted(world, PER_RECORD)
    world.clock.advance(minutes=5)
    new = backlog(world, 3)
    report = world.cycle()
    assert report.deferred == 2
    assert world.store.get_cursor(M, Side.ITSM) == cursor
    world.cycle()
    world.cycle()
    assert linked(world, new) == {r.id for r in new}
    final = world.cycle()
    assert final.actions == []
    assert final.deferred == 0
    moved = world.store.get_cursor(M, Side.ITSM)
    assert moved is not None
    assert moved > cursor + timedelta(minutes=4)
    assert steady.id in linked(world, [steady])


def test_without_a_budget_everything_is_applied_at_once(world: World) -> None:
    refs = backlog(world, 5)
    report = world.cycle()
    assert report.deferred == 0
    assert len(report.actions) == 5 * PER_RECORD
    assert linked(world, refs) == {r.id for r in refs}


def test_a_large_backlog_is_cut_before_its_comments_are_read(world: World) -> None:
    """Only the items a cycle can apply are read further (comments, adoption search): a Jira-side
    backlog of linked issues would otherwise cost one comment read per issue in every cycle."""
    budgeted(world, None)
    refs = backlog(world, 6)
    world.cycle()
    world.settle()
    budgeted(world, 2)
    world.clock.advance(minutes=5)
    for ref in refs:
        world.jira.comment(world.issue_of(ref), "from Jira")
        world.clock.advance(seconds=1)
    report = world.cycle()
    comment_reads = report.calls["jira"].get("GET /rest/api/3/issue/{issueIdOrKey}/comment", 0)
    assert comment_reads == 2
    assert report.deferred == 4
    for _ in range(8):  # bridge's own writes come back as changes too; each cycle takes two units
        if not world.cycle().deferred:
            break
    for ref in refs:
        assert any("from Jira" in c.body for c in world.itsm.comments(ref))
