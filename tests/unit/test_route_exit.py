"""A link keeps syncing whatever the route says: route exits, moves between mappings, typed keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine, EngineOptions
from tests.fixtures.engine import MAPPING, World, mapping_spec

SEARCH_ITSM = "GET /api/now/table/incident"
JOURNAL = "GET /api/now/table/sys_journal_field"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def test_a_record_reassigned_out_of_the_route_still_receives_the_developers_done(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    world.cycle()
    world.settle()
    issue = world.issue_of(record)
    world.clock.advance(seconds=30)
    world.itsm.edit(record, category="hardware")  # reassigned: the route no longer selects it
    world.settle()
    world.clock.advance(seconds=30)
    world.jira.transition_to(issue, "Done")
    world.settle()
    assert world.itsm.record(record).status == "6"
    world.clock.advance(seconds=30)
    world.itsm.comment(record, "thanks, works again")
    world.settle()
    assert any("thanks, works again" in c.body for c in world.jira.comments_since([world.jira.issue(issue).ref],
                                                                                   None)[world.jira.issue(issue).ref.id])


def test_an_unlinked_record_outside_the_route_with_a_typed_key_costs_nothing(world: World) -> None:
    world.cycle()
    typed = world.incident("not for bridge", category="hardware", correlation_id="OPS-999")
    world.clock.advance(seconds=10)
    report = world.cycle()
    assert report.actions == []
    assert JOURNAL not in report.calls["itsm"]  # dropped before its comments are read
    assert world.store.link_for_record("incidents", typed.id) is None


def test_a_record_moving_to_another_mappings_route_keeps_its_one_link(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec())
    stories = mapping_spec(
        name="features",
        route={"record_type": "incident", "where": {"field": "category", "equals": "feature"}},
        target={**MAPPING["target"], "issue_type": "Story"},
    )
    world.engine = Engine(world.store, world.itsm, world.jira, [world.spec, stories],
                          options=EngineOptions(), clock=world.clock)
    try:
        record = world.incident("Export button", state="2")
        world.cycle()
        world.settle()
        issue = world.issue_of(record)
        world.clock.advance(seconds=30)
        world.itsm.edit(record, category="feature")  # now the other mapping's route selects it
        for _ in range(2):
            world.clock.advance(seconds=5)
            report = run_cycle(world.engine, "features")
            assert report.actions == []
        assert world.store.link_for_record("features", record.id) is None
        assert world.itsm.record(record).back_reference == issue  # its one back-reference is not overwritten
        assert len(world.jira.issues()) == 1
        world.clock.advance(seconds=30)
        world.jira.transition_to(issue, "Done")
        world.settle()  # the owning mapping goes on syncing it
        assert world.itsm.record(record).status == "6"
    finally:
        world.close()
