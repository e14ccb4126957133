"""``bridge adopt`` finds every record with a back-reference, also those that left the route since."""

from __future__ import annotations

from pathlib import Path

from bridge.sync.rebuild import adopt_mapping
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


def test_adopt_finds_a_linked_record_that_left_the_route(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec())
    try:
        inside = world.incident("Printer on fire", state="2")
        outside = world.incident("VPN down", state="2")
        typed = world.incident("not for bridge", category="hardware")
        world.settle()
        issue = world.issue_of(outside)
        world.clock.advance(seconds=30)
        world.itsm.edit(outside, category="network")  # reassigned: out of the route, still linked
        world.itsm.edit(typed, correlation_id=world.issue_of(inside))  # a key a person typed elsewhere
        world.settle()

        world.store.close()
        (tmp_path / "bridge.sqlite3").unlink()
        world._open()
        lines: list[str] = []
        report = adopt_mapping(world.engine, world.spec, dry_run=False, progress=lines.append)
        assert sorted(a.record.key for a in report.adopted) == sorted([inside.key, outside.key])
        assert report.conflicts == [f"{typed.key}: {typed.key} names {world.issue_of(inside)} in its back-reference "
                                    f"but {world.issue_of(inside)} carries the marker {inside.token!r} of another "
                                    "record: bridge will not guess (clear the back-reference to create a new issue, "
                                    "or link the records with link_existing)"]
        assert "(2 outside the route, by back-reference)" in lines[0]
        link = world.store.link_for_record(M, outside.id)
        assert link is not None
        assert link.issue.key == issue

        world.clock.advance(seconds=30)
        world.jira.transition_to(world.jira.issue(issue).ref, "Done")
        world.settle()
        assert world.itsm.record(outside).status == "6"  # the Done still reaches it
        assert len(world.jira.issues()) == 2
    finally:
        world.close()


def test_the_cycle_adopts_a_record_that_left_the_route_after_the_database_is_lost(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec())
    try:
        record = world.incident("VPN down", state="2")
        typed = world.incident("not for bridge", category="hardware")
        world.settle()
        issue = world.issue_of(record)
        world.clock.advance(seconds=30)
        world.itsm.edit(record, category="hardware")  # reassigned: out of the route, still linked
        world.itsm.edit(typed, correlation_id=issue)  # a key a person typed: not this record's issue
        world.settle()

        world.store.close()
        (tmp_path / "bridge.sqlite3").unlink()
        world._open()
        world.settle()
        link = world.store.link_for_record(M, record.id)
        assert link is not None
        assert link.issue.key == issue
        assert world.store.link_for_record(M, typed.id) is None  # the marker proves nothing for it
        assert len(world.jira.issues()) == 1

        world.clock.advance(seconds=30)
        world.jira.transition_to(world.jira.issue(issue).ref, "Done")
        world.settle()
        assert world.itsm.record(record).status == "6"
    finally:
        world.close()
