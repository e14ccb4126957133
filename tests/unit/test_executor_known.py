"""What the executor takes without a read (bridge/sync/executor_known.py): never something it changed
itself since, and never the planner's copy of a link it closed or moved."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.core.actions import SyncedUpdate
from bridge.core.effects import InLink, MarkClosed, MarkDone, MergeSynced, NewLink, ResolveErrors
from bridge.core.state import ItemState, LinkState
from bridge.model import Link, Ref, Side
from bridge.sync.executor_known import KnownLinks, OpenErrors

M = "incidents"
RECORD = Ref(Side.ITSM, "incident", "sys1", "INC1")
ISSUE = Ref(Side.JIRA, "issue", "10001", "OPS-1")
NOW = datetime(2026, 12, 3, tzinfo=UTC)


def state(link_id: int, version: str = "7") -> LinkState:
    link = Link(link_id, M, ISSUE, (RECORD,), NOW)
    records = {RECORD.id: ItemState(RECORD, version=version)}
    return LinkState(link, ItemState(ISSUE, status="To Do", version="v1"), records)


def test_the_planners_link_states_are_known_until_the_executor_changes_the_link() -> None:
    known = KnownLinks()
    known.seed([state(1)])
    assert known.link(1) == state(1).link
    assert known.version(1, RECORD.id) == "7"
    assert known.status(1, ISSUE.id) == (False, None)  # the planner's status may be stale: read it
    known.seen(1, RECORD.id, "8")  # the echo of the executor's own write
    known.seed([state(1)])  # a later plan's states do not undo it
    assert known.version(1, RECORD.id) == "8"
    known.applied((InLink(M, 1, ()), MarkClosed("OPS-1 was deleted"), MarkDone("{}", None)), 1, None)
    assert known.link(1) is None
    assert known.version(1, RECORD.id) is None
    known.seed([state(1)])  # loaded before the close: never taken again
    assert known.link(1) is None


def test_a_link_the_executor_made_is_known_with_its_issue_status() -> None:
    known = KnownLinks()
    made = Link(5, M, ISSUE, (RECORD,), NOW)
    new = NewLink(M, ISSUE, RECORD, issue_status="To Do", issue_version="v1")
    known.applied((new, MarkDone("{}", None)), 5, made)
    assert known.made_for(RECORD.id) == made
    assert known.status(5, ISSUE.id) == (True, "To Do")
    assert known.version(5, RECORD.id) == ""
    known.applied((InLink(M, 5, ()), MergeSynced((SyncedUpdate(Side.JIRA, ISSUE.id, status="Done"),))), 5, None)
    assert known.status(5, ISSUE.id) == (True, "Done")
    joined = NewLink(M, ISSUE, Ref(Side.ITSM, "incident", "sys2", "INC2"))
    known.applied((joined, MarkDone("{}", None)), 5, None)  # a record joined it: its records changed
    assert known.made_for(RECORD.id) is None
    assert known.link(5) is None


def test_error_entries_are_resolved_only_when_one_can_match() -> None:
    loads: list[int] = []

    def load() -> tuple[set[int], set[str]]:
        loads.append(1)
        return {3}, {"journal:slot-a"}

    errors = OpenErrors(load)
    effects = (MarkDone("{}", None), ResolveErrors("slot-b"))
    assert errors.needed(1, effects) == (effects[0],)
    assert errors.needed(3, effects) == effects  # its own row is on the list
    assert errors.needed(1, (ResolveErrors("slot-a"),)) == (ResolveErrors("slot-a"),)
    errors.added(9, "journal:slot-b")  # the executor put one there meanwhile
    assert errors.needed(1, effects) == effects
    assert loads == [1]
    errors.reset()
    errors.added(10, "journal:x")  # not read yet: the next read includes it
    assert errors.needed(1, effects) == (effects[0],)
    assert loads == [1, 1]
