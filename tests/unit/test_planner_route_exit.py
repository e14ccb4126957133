"""``links.on_route_exit``: what the pure planner decides when a linked record stops matching its route."""

from __future__ import annotations

from typing import Any

from bridge.core.actions import CloseLink, SetStatus
from bridge.mapping.schema import AllOf, AnyOf, FieldCondition
from bridge.model import Side
from bridge.sync.plan_route_exit import exit_reason
from bridge.sync.planner import plan
from tests.fixtures.planning import BASE_MAPPING, given, issue_ref, link_state, mapping, record, record_ref

SYNCED = {"summary": "INC0000001: Printer 1 down", "priority": "Medium", "Customer": None, "Fix notes": None}


def detaching(**links: Any) -> Any:
    return mapping(links={"on_route_exit": "detach", **links})


def test_keep_is_the_default_and_a_record_out_of_the_route_keeps_syncing() -> None:
    state = link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(mapping(), given(records=[record(1, "6", category="hardware")], links=[state]))
    assert mapping().links.on_route_exit == "keep"
    assert not [a for a in result.actions if isinstance(a, CloseLink)]
    assert [a.status for a in result.actions if isinstance(a, SetStatus)] == ["Done"]


def test_detach_syncs_the_change_then_closes_the_link_with_a_note_on_both_sides() -> None:
    state = link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(detaching(), given(records=[record(1, "6", category="hardware")], links=[state]))

    kinds = [type(a).__name__ for a in result.actions]
    assert kinds == ["SetStatus", "CloseLink", "CloseLink"]  # the last change still reaches the issue first
    on_issue, on_record = result.actions[1], result.actions[2]
    assert isinstance(on_issue, CloseLink)
    assert isinstance(on_record, CloseLink)
    assert (on_issue.notice, on_issue.gone, on_issue.channel) == (issue_ref(1), record_ref(1), "comment")
    assert (on_record.notice, on_record.gone, on_record.channel) == (record_ref(1), issue_ref(1), "work_notes")
    assert on_issue.leaving == on_record.leaving == record_ref(1)
    for note in (on_issue, on_record):
        assert "no longer synced" in note.body.lower()
        assert "category is now 'hardware'" in note.body
    assert on_issue.reason.startswith("no longer synced: INC0000001 left the route of mapping incidents")
    assert on_issue.marker.side is Side.ITSM
    assert on_record.marker.side is Side.JIRA
    assert on_issue.key != on_record.key


def test_detach_plans_nothing_for_a_record_still_in_the_route_or_unchanged() -> None:
    state = link_state(1, 1, {1: (SYNCED, "2"), 2: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(detaching(), given(records=[record(1, priority="1")], links=[state]))
    assert not [a for a in result.actions if isinstance(a, CloseLink)]


def test_detach_in_a_shared_link_lets_only_that_record_leave() -> None:
    state = link_state(1, 1, {1: (SYNCED, "2"), 2: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(detaching(), given(records=[record(2, category="network")], links=[state]))
    closes = [a for a in result.actions if isinstance(a, CloseLink)]
    assert {c.leaving for c in closes} == {record_ref(2)}
    assert {c.notice for c in closes} == {issue_ref(1), record_ref(2)}


def test_detach_is_planned_once_its_keys_are_journaled() -> None:
    state = link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)
    first = plan(detaching(), given(records=[record(1, category="hardware")], links=[state]))
    keys = [a.key for a in first.actions if isinstance(a, CloseLink)]
    again = plan(detaching(), given(records=[record(1, category="hardware")], links=[state], pending=keys))
    assert not [a for a in again.actions if isinstance(a, CloseLink)]


def test_a_mapping_without_a_route_condition_never_detaches() -> None:
    spec = mapping(route={"record_type": "incident"}, links={"on_route_exit": "detach"})
    state = link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(spec, given(records=[record(1, category="hardware")], links=[state]))
    assert not [a for a in result.actions if isinstance(a, CloseLink)]


def test_the_reason_names_the_failing_branch_of_all_and_every_field_of_any() -> None:
    group = FieldCondition(field="assignment_group", equals="L3")
    high = FieldCondition.model_validate({"field": "priority", "in": ["1", "2"]})
    fields = {"assignment_group": "Network", "priority": "1", "state": ""}
    assert exit_reason(AllOf(all=[high, group]), fields) == "assignment_group is now 'Network'"
    either = AnyOf(any=[group, FieldCondition(field="state", equals="2")])
    assert exit_reason(either, fields) == "assignment_group is now 'Network', state is now empty"
    assert BASE_MAPPING["route"]["where"] == {"field": "category", "equals": "software"}


def test_a_detach_note_survives_the_journal_round_trip() -> None:
    from bridge.core.actions import from_json, to_json

    state = link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)
    result = plan(detaching(), given(records=[record(1, category="hardware")], links=[state]))
    for note in [a for a in result.actions if isinstance(a, CloseLink)]:
        assert from_json(to_json(note)) == note
