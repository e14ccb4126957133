"""Refused writes heal themselves: a side changing after a refusal re-plans the refused effect from the
current data, without ``bridge retry``; a later success of the same effect resolves the error entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import PermanentError, WorkflowError
from bridge.store import SUPERSEDED
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def too_long() -> PermanentError:
    return PermanentError("refused", side="jira", status=400, vendor_message="summary: too long")


def test_a_record_fixed_after_a_refused_create_syncs_without_bridge_retry(world: World) -> None:
    record = world.incident("Broken " + "x" * 300, state="2")
    world.jira.fail_next("create", too_long())
    assert world.cycle().errors == 1
    [entry] = world.store.errors(M)
    # read again in the overlap window, unchanged: not sent again (it would be refused the same way)
    world.clock.advance(seconds=5)
    again = world.cycle()
    assert again.actions == []
    assert again.errors == 0
    assert world.store.errors(M)[0].count == 1

    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Broken checkout")
    world.clock.advance(seconds=5)
    world.cycle()

    [issue] = world.jira.issues()
    assert issue.fields["summary"] == f"{record.key}: Broken checkout"
    assert issue.status == "In Progress"  # the follow-ups ran, from the record as it is now
    assert world.itsm.record(record).fields.get("correlation_id", issue.ref.key) == issue.ref.key
    assert world.store.errors(M) == []
    assert world.store.error(entry.id).resolved  # type: ignore[union-attr]
    world.settle()
    assert len(world.jira.issues()) == 1


def test_a_record_refused_twice_counts_on_one_entry_and_the_fix_resolves_it(world: World) -> None:
    record = world.incident("Broken " + "x" * 300, state="2")
    world.jira.fail_next("create", too_long(), times=2)
    world.cycle()
    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Still " + "y" * 300)  # changed, still refused
    world.clock.advance(seconds=5)
    assert world.cycle().errors == 1
    [entry] = world.store.errors(M)
    assert entry.count == 2
    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Short")
    world.clock.advance(seconds=5)
    world.cycle()
    assert [i.fields["summary"] for i in world.jira.issues()] == [f"{record.key}: Short"]
    assert world.store.errors(M) == []


def test_a_refused_update_is_planned_again_when_a_side_changes(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    world.settle()
    world.clock.advance(seconds=30)
    world.jira.fail_next("update_fields", PermanentError("refused", side="jira", status=400,
                                                        vendor_message="priority: not on the screen"))
    world.itsm.edit(record, priority="1")
    world.clock.advance(seconds=5)
    assert world.cycle().errors == 1
    [entry] = world.store.errors(M)
    world.settle()  # nothing changed since: nothing re-sent
    assert world.jira.issue(world.issue_of(record)).fields["priority"] == "Medium"
    # the Jira admin fixed the screen; then anybody touching either side re-plans the update
    world.clock.advance(seconds=30)
    world.jira.comment(world.issue_of(record), "any change on the issue")
    world.clock.advance(seconds=5)
    world.cycle()
    assert world.jira.issue(world.issue_of(record)).fields["priority"] == "Highest"
    assert world.store.error(entry.id).resolved  # type: ignore[union-attr]
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    states = [e.state for e in world.store.journal_for_link(link.id)]
    assert SUPERSEDED in states  # the refused row stays in the audit trail


def test_a_later_success_of_the_same_status_move_resolves_the_refusal(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    world.settle()
    world.clock.advance(seconds=30)
    world.jira.fail_next("set_status", WorkflowError("refused", side="jira", status=400,
                                                     vendor_message="resolution: required"))
    world.itsm.set_state(record, "6", close_code="Solution provided", close_notes="Fixed")
    world.clock.advance(seconds=5)
    assert world.cycle().errors == 1
    [entry] = world.store.errors(M)
    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Printer on fire, really")
    world.clock.advance(seconds=5)
    world.cycle()
    assert world.jira.issue(world.issue_of(record)).status == "Done"
    assert world.store.error(entry.id).resolved  # type: ignore[union-attr]
    assert world.store.errors(M) == []
