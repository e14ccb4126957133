"""Adoption in whole cycles (memory connectors, real SQLite): a lost or restored state store finds the
vendors' links again instead of creating duplicates (docs/operations.md §11)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.model import Side
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def lose_database(world: World) -> None:
    world.store.close()
    (world.path / "bridge.sqlite3").unlink()
    world._open()


def counts(world: World) -> tuple[int, int, int]:
    issues = world.jira.issues()
    jira_comments = sum(len(world.jira.comments(i.ref)) for i in issues)
    itsm_comments = sum(len(world.itsm.comments(r.ref)) for r in world.itsm.records())
    return len(issues), jira_comments, itsm_comments


def test_deleted_database_adopts_every_issue_and_comment(world: World) -> None:
    records = [world.incident(f"Printer {i} on fire", state="2") for i in range(3)]
    world.itsm.comment(records[0], "customer says it smokes")
    world.settle()
    [issue, *_] = world.jira.issues()
    world.jira.comment(issue.ref, "looking into it")
    world.settle()
    before = counts(world)
    assert before == (3, 2, 2)

    lose_database(world)
    first = world.cycle()
    assert first.actions_by_kind.get("create_issue") is None, first.actions_by_kind
    assert first.actions_by_kind["adopt_issue"] == 3
    assert "add_comment" not in first.actions_by_kind
    assert first.calls["jira"]["POST /rest/api/3/search/jql"] == 2  # the change search + ONE marker search
    for _ in range(3):
        world.clock.advance(minutes=1)
        world.cycle()
    assert counts(world) == before
    assert world.store.link_count(M) == 3
    # the link works again: a new comment flows, once
    world.itsm.comment(records[1], "still on fire")
    world.settle()
    assert counts(world) == (3, 3, 3)


def test_restored_backup_keeps_changes_made_after_it(world: World, tmp_path: Path) -> None:
    record = world.incident("Printer on fire", state="2")
    world.settle()
    shutil.copy(world.path / "bridge.sqlite3", tmp_path / "backup.sqlite3")
    [issue] = world.jira.issues()
    world.clock.advance(minutes=3)
    world.itsm.comment(record, "customer says it smokes")
    world.jira.comment(issue.ref, "looking into it")
    world.itsm.edit(record, short_description="Printer on fire, really")
    world.settle()
    before = counts(world)
    assert before == (1, 2, 2)

    world.store.close()
    shutil.copy(tmp_path / "backup.sqlite3", world.path / "bridge.sqlite3")
    world._open()
    for _ in range(3):
        world.clock.advance(minutes=1)
        report = world.cycle()
        assert "add_comment" not in report.actions_by_kind, report.actions_by_kind
    assert counts(world) == before
    # still in sync afterwards: a new edit flows
    world.itsm.edit(record, short_description="Printer fixed?")
    world.settle()
    assert "Printer fixed?" in str(world.jira.issue(issue.ref).fields.get("summary"))


def test_a_create_with_a_cursor_costs_no_marker_search(world: World) -> None:
    """The ordinary case: the store holds a Jira cursor and the cycle's change search covered everything
    since it, so no issue of the new record's can exist unseen: no marker search before the create."""
    world.incident("Printer on fire", state="2")
    world.settle()
    assert world.store.get_cursor(M, Side.JIRA) is not None
    world.clock.advance(minutes=1)
    world.incident("Scanner on fire", state="2")
    report = world.cycle()
    assert report.actions_by_kind["create_issue"] == 1
    assert report.calls["jira"]["POST /rest/api/3/search/jql"] == 1  # the change search only


def test_restored_backup_with_a_cursor_finds_the_issue_through_the_change_search(
    world: World, tmp_path: Path
) -> None:
    """A backup older than a record's issue, restored: the store's cursor predates the create, so the
    change search since it shows the issue carrying the record's marker; the issue is adopted, not
    created again (and that record's marker alone is searched, to read its issue)."""
    world.incident("Printer on fire", state="2")
    world.settle()
    world.store.close()  # a consistent copy (nothing left in the write-ahead log)
    shutil.copy(world.path / "bridge.sqlite3", tmp_path / "backup.sqlite3")
    world._open()
    world.clock.advance(minutes=3)
    later = world.incident("Scanner on fire", state="2")
    world.settle()
    assert len(world.jira.issues()) == 2
    key = world.issue_of(later)

    world.store.close()
    shutil.copy(tmp_path / "backup.sqlite3", world.path / "bridge.sqlite3")
    world._open()
    assert world.store.get_cursor(M, Side.JIRA) is not None
    world.clock.advance(minutes=1)
    report = world.cycle()
    assert "create_issue" not in report.actions_by_kind, report.actions_by_kind
    assert report.actions_by_kind["adopt_issue"] == 1
    assert report.calls["jira"]["POST /rest/api/3/search/jql"] == 2  # the change search + that marker's
    assert later.token in (world.jira.markers_in_search() or {})  # found by the change search
    world.settle()
    assert len(world.jira.issues()) == 2
    assert world.issue_of(later) == key
