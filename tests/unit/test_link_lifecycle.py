"""Link lifecycle against the memory connectors and a real SQLite store: a deleted record or issue closes
its link with a note on the other side and is never written again; a record merged RT-style moves the
link to an unlinked survivor, or closes it with a "Duplicate" issue link to the survivor's issue;
``links.recreate_deleted`` escalates the record again; ``bridge links`` shows closed links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import cli
from bridge.core.actions import CloseLink, CreateIssue
from bridge.model import Ref
from bridge.sync.executor import Outcome
from tests.fixtures.engine import MAPPING, World, cli_world, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def linked(world: World, summary: str = "Printer on fire") -> tuple[Ref, str]:
    record = world.incident(summary, state="2")
    world.cycle()
    world.settle()
    return record, world.issue_of(record)


def notes(world: World, ref: Ref | str, *, jira: bool) -> list[str]:
    side = world.jira if jira else world.itsm
    return [c.body for c in side.comments(ref)]


def test_deleted_record_closes_the_link_with_a_comment_and_is_never_written_again(world: World) -> None:
    record, issue = linked(world)
    world.itsm.delete(record)
    world.clock.advance(seconds=5)
    world.jira.transition_to(issue, "Done", resolution="Done")  # would resolve the record
    world.jira.comment(issue, "fixed it")
    report = world.cycle()
    assert world.itsm.gone_writes[record.id] == 1  # the first write found it gone; the rest of the plan skipped it
    assert not any(isinstance(a, CloseLink) for a in report.actions)  # the executor makes it, not the planner
    link = world.store.find_link(issue)
    assert link is not None
    assert link.closed is not None
    assert link.closed_reason == f"{record.key} was deleted in ServiceNow"
    assert any(f"{record.key} was deleted in ServiceNow" in body for body in notes(world, issue, jira=True))
    assert world.store.open_error_count() == 0  # a deletion is not an error to fix

    world.jira.edit(issue, summary="still moving")
    world.jira.transition_to(issue, "In Progress")
    for report in world.settle():
        assert report.actions == []
    assert world.itsm.gone_writes[record.id] == 1


def test_deleted_issue_closes_the_link_with_a_work_note_and_the_record_is_not_escalated_again(world: World) -> None:
    record, issue = linked(world)
    world.jira.delete(issue)
    world.clock.advance(seconds=5)
    world.itsm.edit(record, short_description="Printer still on fire")
    world.itsm.set_state(record, "6", close_code="Solution provided", close_notes="done")
    world.cycle()
    assert world.jira.gone_writes
    link = world.store.find_link(record.key)
    assert link is not None
    assert link.closed_reason == f"{issue} was deleted in Jira"
    assert any(f"{issue} was deleted in Jira; bridge no longer syncs this record" in n
               for n in notes(world, record, jira=False))
    attempts = dict(world.jira.gone_writes)
    world.itsm.edit(record, short_description="and again")
    for report in world.settle():
        assert not any(isinstance(a, CreateIssue) for a in report.actions)
    assert dict(world.jira.gone_writes) == attempts
    assert len(world.jira.issues()) == 0


def test_recreate_deleted_escalates_the_record_again(tmp_path: Path) -> None:
    links = {**MAPPING.get("links", {}), "recreate_deleted": True}  # type: ignore[dict-item]
    world = World(tmp_path, mapping_spec(links=links))
    try:
        record, issue = linked(world)
        world.jira.delete(issue)
        world.clock.advance(seconds=5)
        world.itsm.edit(record, short_description="Printer on fire again")
        world.cycle()
        assert any("bridge escalates this record again as a new issue" in n for n in notes(world, record, jira=False))
        assert world.store.find_link(issue) is None
        world.clock.advance(seconds=5)
        world.itsm.edit(record, short_description="Printer on fire, third time")
        world.settle()
        fresh = world.issue_of(record)
        assert fresh != issue
        assert world.jira.issue(fresh).fields["summary"].endswith("Printer on fire, third time")
    finally:
        world.close()


def test_merged_record_into_an_unlinked_one_moves_the_link(world: World) -> None:
    record, issue = linked(world)
    survivor = world.itsm.create_record("incident", {"short_description": "unrouted", "category": "hardware",
                                                     "priority": "3"}, state="2")
    world.cycle()
    world.settle()
    assert world.store.link_for_record(M, survivor.id) is None  # not selected by the route
    world.itsm.merge(record, survivor)
    world.clock.advance(seconds=5)
    world.jira.comment(issue, "any news?")
    world.cycle()
    world.settle()
    link = world.store.find_link(issue)
    assert link is not None
    assert link.closed is None
    assert [r.id for r in link.records] == [survivor.id]
    assert any("any news?" in n for n in notes(world, survivor, jira=False))  # the comment went to the survivor
    assert world.itsm.gone_writes[record.id] == 1


def test_merged_record_into_a_linked_one_closes_with_a_duplicate_link(world: World) -> None:
    one, ops_one = linked(world, "Printer on fire")
    five, ops_five = linked(world, "Printer still on fire")
    world.itsm.merge(five, one)
    world.clock.advance(seconds=5)
    world.jira.edit(ops_five, summary="Printer 5")
    world.jira.comment(ops_five, "looking")
    world.jira.transition_to(ops_five, "Done", resolution="Done")
    world.cycle()
    world.settle()
    assert world.itsm.record(one).status == "2"  # resolving OPS-5's issue did not resolve the survivor
    assert not any("looking" in n for n in notes(world, one, jira=False))
    assert world.jira.issue(ops_one).status == "To Do" or world.jira.issue(ops_one).status == "In Progress"
    closed = world.store.find_link(ops_five)
    assert closed is not None
    assert closed.closed_reason == f"{five.key} was merged into {one.key} ({ops_one})"
    assert any(f"merged into {one.key} ({ops_one})" in n for n in notes(world, ops_five, jira=True))
    assert world.jira.issue_links == [("Duplicate", ops_five, ops_one)]
    assert world.itsm.gone_writes[five.id] == 1
    assert world.store.find_link(ops_one).closed is None  # type: ignore[union-attr]


def test_duplicate_link_is_skipped_where_the_site_has_no_such_type(world: World) -> None:
    one, _ = linked(world, "Printer on fire")
    five, ops_five = linked(world, "Printer still on fire")
    world.jira.link_types = ()
    world.itsm.merge(five, one)
    world.clock.advance(seconds=5)
    world.jira.comment(ops_five, "looking")
    report = world.cycle()
    assert world.jira.issue_links == []
    assert all(o.status != Outcome.FAILED for o in report.outcomes)
    assert world.store.find_link(ops_five).closed is not None  # type: ignore[union-attr]


def test_bridge_links_shows_closed_links_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = cli_world(tmp_path, monkeypatch)
    try:
        record, issue = linked(world)
        linked(world, "Other printer")
        link = world.store.find_link(issue)
        assert link is not None
        world.store.close_link(link.id, f"{record.key} was deleted in ServiceNow")
        config = ["--config", str(tmp_path / "config.yaml")]
        result = CliRunner().invoke(cli, [*config, "links"], obj=world.cli_options())
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert any(issue in line and "closed" in line and f"{record.key} was deleted in ServiceNow" in line
                   for line in lines)
        assert any(line.rstrip().endswith("open") for line in lines)
        shown = CliRunner().invoke(cli, [*config, "links", "--show", issue], obj=world.cli_options())
        assert f"{record.key} was deleted in ServiceNow" in shown.output.splitlines()[0]
    finally:
        world.close()


def test_follow_duplicate_of_treats_a_servicenow_duplicate_like_a_merge(tmp_path: Path) -> None:
    links = {**MAPPING.get("links", {}), "follow_duplicate_of": True}  # type: ignore[dict-item]
    world = World(tmp_path, mapping_spec(links=links))
    try:
        one, ops_one = linked(world, "Printer on fire")
        two, ops_two = linked(world, "Printer burning")
        world.clock.advance(seconds=5)
        world.itsm.edit(two, duplicate_of=one.id)
        world.settle()
        closed = world.store.find_link(ops_two)
        assert closed is not None
        assert closed.closed_reason == f"{two.key} is a duplicate of {one.key} ({ops_one})"
        assert world.jira.issue_links == [("Duplicate", ops_two, ops_one)]
        world.itsm.edit(two, short_description="still a duplicate")
        for report in world.settle():
            assert report.actions == []
        assert world.store.find_link(ops_one).closed is None  # type: ignore[union-attr]
    finally:
        world.close()


def test_without_follow_duplicate_of_a_duplicate_keeps_syncing(world: World) -> None:
    one, _ = linked(world, "Printer on fire")
    two, ops_two = linked(world, "Printer burning")
    world.clock.advance(seconds=5)
    world.itsm.edit(two, duplicate_of=one.id, short_description="Printer burning hot")
    world.settle()
    assert world.store.find_link(ops_two).closed is None  # type: ignore[union-attr]
    assert world.jira.issue(ops_two).fields["summary"].endswith("Printer burning hot")
