"""One record leaves its link: detached when it leaves its route (``links.on_route_exit: detach``), or
deleted while other records share the issue. Memory connectors and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.model import Ref
from tests.fixtures.engine import MAPPING, World, mapping_spec

M = "incidents"


def world_with(tmp_path: Path, **links: Any) -> World:
    return World(tmp_path, mapping_spec(links={**MAPPING.get("links", {}), **links}))


@pytest.fixture
def detaching(tmp_path: Path) -> Iterator[World]:
    w = world_with(tmp_path, on_route_exit="detach")
    yield w
    w.close()


def bodies(world: World, ref: Ref | str, *, jira: bool) -> list[str]:
    return [c.body for c in (world.jira if jira else world.itsm).comments(ref)]


def test_detach_notes_both_sides_closes_the_link_and_syncs_nothing_after(detaching: World) -> None:
    world = detaching
    record = world.incident("Printer on fire", state="2")
    world.settle()
    issue = world.issue_of(record)
    world.clock.advance(seconds=30)
    world.itsm.edit(record, category="network")
    world.itsm.set_state(record, "6", close_code="Solved (Permanently)", close_notes="done")
    world.settle()
    assert world.jira.issue(issue).status == "Done"  # the change that took it out is still synced
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    assert link.closed is not None
    assert link.closed_reason is not None
    assert "category is now 'network'" in link.closed_reason
    [on_issue] = [b for b in bodies(world, issue, jira=True) if "no longer synced" in b]
    [on_record] = [b for b in bodies(world, record, jira=False) if "no longer synced" in b.lower()]
    assert "category is now 'network'" in on_issue
    assert issue in on_record

    world.clock.advance(seconds=30)
    world.jira.comment(issue, "reopening on our side")
    world.jira.transition_to(issue, "In Progress")
    world.itsm.edit(record, category="software")  # back in the route: the closed link stays closed
    for report in world.settle():
        assert report.actions == []
    assert world.itsm.record(record).status == "6"
    assert len(world.jira.issues()) == 1
    assert len([b for b in bodies(world, issue, jira=True) if "no longer synced" in b]) == 1


def shared(world: World) -> tuple[Ref, Ref, str]:
    """Two incidents linked to one issue (``link_existing``)."""
    first = world.incident("VPN down", state="2")
    world.settle()
    issue = world.issue_of(first)
    second = world.incident("VPN down here too", state="2", u_jira_key=issue)
    world.settle()
    link = world.store.link_for_record(M, second.id)
    assert link is not None
    assert {r.id for r in link.records} == {first.id, second.id}
    return first, second, issue


def test_a_deleted_record_of_a_shared_link_leaves_it_and_the_issue_syncs_with_the_others(tmp_path: Path) -> None:
    world = world_with(tmp_path, link_existing="u_jira_key", linked_count_field="Linked records")
    try:
        first, second, issue = shared(world)
        world.clock.advance(seconds=30)
        world.itsm.delete(second)
        world.jira.transition_to(issue, "Done", resolution="Done")
        world.settle()
        link = world.store.link_for_record(M, first.id)
        assert link is not None
        assert link.closed is None
        assert [r.id for r in link.records] == [first.id]
        assert world.itsm.record(first).status == "6"  # and keeps syncing with it
        assert world.jira.issue(issue).fields.get("Linked records") == 1  # the count drops with it
        assert any(f"{second.key} was deleted" in b for b in bodies(world, issue, jira=True))
        assert world.store.closed_item_ids(M, [second.id, first.id], [issue]) == {second.id}
        world.clock.advance(seconds=30)
        world.jira.transition_to(issue, "In Progress")
        world.settle()
        assert world.itsm.record(first).status == "2"
        assert world.itsm.gone_writes[second.id] == 1
    finally:
        world.close()


def test_detach_of_one_record_of_a_shared_link_keeps_the_other(tmp_path: Path) -> None:
    world = world_with(tmp_path, link_existing="u_jira_key", on_route_exit="detach")
    try:
        first, second, issue = shared(world)
        world.clock.advance(seconds=30)
        world.itsm.edit(second, category="hardware")
        world.settle()
        link = world.store.link_for_record(M, first.id)
        assert link is not None
        assert link.closed is None
        assert [r.id for r in link.records] == [first.id]
        world.clock.advance(seconds=30)
        world.jira.comment(issue, "found the cause")
        world.settle()
        assert any("found the cause" in b for b in bodies(world, first, jira=False))
        assert not any("found the cause" in b for b in bodies(world, second, jira=False))
    finally:
        world.close()
