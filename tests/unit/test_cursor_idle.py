"""Cursors after a burst: an idle cycle costs one search call per side again once the overlap window
has passed the burst (the cursor follows the vendor's time of the idle search, minus its index lag)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.model import Side
from tests.fixtures.engine import World, mapping_spec

PAGE = 5
SEARCH_ITSM = "GET /api/now/table/incident"
SEARCH_JIRA = "POST /rest/api/3/search/jql"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    w.itsm.page_size = PAGE
    w.jira.page_size = PAGE
    yield w
    w.close()


def test_after_a_burst_of_several_pages_idle_cycles_cost_one_search_per_side(world: World) -> None:
    for i in range(3 * PAGE):
        world.incident(f"Burst {i}", state="2")
        world.clock.advance(seconds=1)
    world.cycle()
    world.settle()
    assert len(world.jira.issues()) == 3 * PAGE

    overlap = world.engine.options.overlap
    calls = []
    for _ in range(16):  # four minutes of idle cycles, 15 s apart
        world.clock.advance(seconds=15)
        report = world.cycle()
        assert report.actions == []
        calls.append((report.calls["itsm"].get(SEARCH_ITSM, 0), report.calls["jira"].get(SEARCH_JIRA, 0)))
    assert calls[0] > (1, 1)  # right after the burst the overlap window still covers its pages
    # the window has passed the burst after the overlap, plus Jira's minute-floored date literals
    past = int((overlap + timedelta(minutes=1)).total_seconds() // 15) + 1
    assert calls[past:] == [(1, 1)] * (16 - past)
    for side in Side:
        cursor = world.store.get_cursor("incidents", side)
        assert cursor is not None
        assert world.clock() - timedelta(seconds=30) < cursor <= world.clock()


def test_an_idle_cycle_never_moves_a_cursor_back_and_leaves_a_missing_one_alone(world: World) -> None:
    world.cycle()  # nothing anywhere: a full read, and no cursor to move on from
    assert world.store.get_cursor("incidents", Side.ITSM) is None
    world.incident("one", state="2")
    world.cycle()
    world.settle()
    before = world.store.get_cursor("incidents", Side.ITSM)
    assert before is not None
    world.clock.advance(seconds=1)
    world.cycle()
    after = world.store.get_cursor("incidents", Side.ITSM)
    assert after is not None
    assert after >= before
