"""link_existing fan-in through whole cycles with the memory connectors and a real store.

A developer files a Bug by hand (without the mapping's label); incidents name it in ``u_jira_key``. bridge
must link them all to that one issue, put the label on it (or the Jira side's change query never sees it
again), show how many records are linked, and from then on fan the issue's comments and status out to
every linked record — once each, also across a crash right after the mark's write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.connectors.memory import SimulatedCrash
from bridge.model import Ref
from tests.fixtures.engine import MAPPING, World, mapping_spec

LINKS = {
    **MAPPING.get("links", {}),
    "link_existing": "u_jira_key",
    "linked_count_field": "Linked records",
    "linked_count_label_prefix": "incidents-",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(links=LINKS))
    yield w
    w.close()


def developers_bug(world: World) -> Ref:
    return world.jira.create_issue("OPS", "Bug", "Checkout rejects coupons", labels=["team-payments"])


def edits(world: World) -> list[str]:
    """Every label edit bridge makes on Jira, by issue key (recorded by the fake as it happens)."""
    seen: list[str] = []
    previous = world.jira.after_write

    def record(operation: str, ref: Ref) -> None:
        if operation == "edit_labels":
            seen.append(ref.key)
        if previous is not None:
            previous(operation, ref)

    world.jira.after_write = record
    return seen


def test_incidents_naming_a_developers_issue_are_linked_counted_and_fanned_out(world: World) -> None:
    bug = developers_bug(world)
    written = edits(world)
    first = world.incident("Coupon SAVE10 refused", u_jira_key=bug.key)
    world.settle()

    issue = world.jira.issue(bug)
    assert set(issue.fields["labels"]) == {"team-payments", "bridge", "incidents-1"}
    assert issue.fields["Linked records"] == 1

    second = world.incident("Coupons fail at checkout", u_jira_key=bug.key)
    world.settle()

    assert [i.ref.key for i in world.jira.issues()] == [bug.key]  # nothing created
    assert world.issue_of(first) == world.issue_of(second) == bug.key
    link = world.store.link_for_issue(world.spec.name, bug.id)
    assert link is not None
    assert {r.id for r in link.records} == {first.id, second.id}
    issue = world.jira.issue(bug)
    assert set(issue.fields["labels"]) == {"team-payments", "bridge", "incidents-2"}  # incidents-1 is gone
    assert issue.fields["Linked records"] == 2
    assert written == [bug.key, bug.key]  # one edit per newly linked record, none while idle

    world.jira.comment(bug, "Root cause: coupon codes are upper-cased twice", author="Dev One")
    world.settle()
    for record in (first, second):
        bodies = [c.body for c in world.itsm.comments(record)]
        assert sum("upper-cased twice" in b for b in bodies) == 1, record.key

    world.jira.transition_to(bug, "Done")
    world.settle()
    assert world.itsm.record(first).status == world.itsm.record(second).status == "6"


def test_two_incidents_in_one_cycle_leave_the_final_count(world: World) -> None:
    bug = developers_bug(world)
    for summary in ("Coupon SAVE10 refused", "Coupons fail at checkout", "Cart total wrong with coupon"):
        world.incident(summary, u_jira_key=bug.key)
    world.settle()

    issue = world.jira.issue(bug)
    assert set(issue.fields["labels"]) == {"team-payments", "bridge", "incidents-3"}
    assert issue.fields["Linked records"] == 3


def test_an_issue_bridge_creates_shows_one_linked_record(world: World) -> None:
    record = world.incident("Printer on fire")
    world.settle()
    issue = world.jira.issue(world.issue_of(record))
    assert {"bridge", "from-itsm", "incidents-1"} <= set(issue.fields["labels"])
    assert issue.fields["Linked records"] == 1


def test_a_crash_right_after_the_mark_write_applies_nothing_twice(world: World) -> None:
    bug = developers_bug(world)
    first = world.incident("Coupon SAVE10 refused", u_jira_key=bug.key)
    first_comment = world.itsm.comment(first, "Customer used SAVE10", author="Sam Support")
    world.settle()
    second = world.incident("Coupons fail at checkout", u_jira_key=bug.key)
    world.itsm.comment(second, "Also with WINTER5", author="Sam Support")
    written = edits(world)

    world.jira.crash_after_next_write("edit_labels")
    with pytest.raises(SimulatedCrash):
        world.cycle()
    assert written == [bug.key]  # the mark reached Jira, its journal row did not become done
    world.restart()
    world.settle()

    assert written == [bug.key]  # reconciled by reading the issue: no second edit
    issue = world.jira.issue(bug)
    assert set(issue.fields["labels"]) == {"team-payments", "bridge", "incidents-2"}
    assert issue.fields["Linked records"] == 2
    assert [i.ref.key for i in world.jira.issues()] == [bug.key]
    bodies = [c.body for c in world.jira.comments(bug)]
    assert sum(first_comment.body in b for b in bodies) == 1
    assert sum("Also with WINTER5" in b for b in bodies) == 1
    assert len(world.jira.remote_links(bug)) == 2
    assert world.store.pending_entries(world.spec.name, due_before=world.clock()) == []

    world.jira.comment(bug, "Fixed in 4.2.1", author="Dev One")
    world.settle()
    for record in (first, second):
        assert sum("Fixed in 4.2.1" in c.body for c in world.itsm.comments(record)) == 1
