"""``notes_to_itsm`` announces a change of the watched field: not an empty field on a new issue, not the
first sight of an issue, and never an empty note."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sync.actions import AddComment
from bridge.sync.planner import Plan, plan
from tests.fixtures.planning import BASE_MAPPING, given, issue, link_state, mapping

NOTE = BASE_MAPPING["notes_to_itsm"][0]
SYNCED_1 = {"summary": "INC0000001: Printer 1 down", "priority": "Medium"}


def of(result: Plan, kind: type) -> list[Any]:
    return [a for a in result.actions if isinstance(a, kind)]


@pytest.mark.parametrize(
    ("case", "issue_fields", "value", "notes"),
    [
        ("a new issue without a fix version", SYNCED_1, (), 0),
        ("a new issue, the field empty as None", SYNCED_1, None, 0),
        ("first sight of an issue nothing was synced from", {}, ("2.4",), 0),
        ("the field set after the issue was synced", SYNCED_1, ("2.4",), 1),
        ("the field changed", {**SYNCED_1, "fixVersions": ("2.3",)}, ("2.4",), 1),
        ("the field unchanged", {**SYNCED_1, "fixVersions": ("2.4",)}, ("2.4",), 0),
    ],
)
def test_notes_fire_on_a_change(case: str, issue_fields: dict[str, Any], value: Any, notes: int) -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "2")}, issue_fields=issue_fields)
    if not issue_fields:  # never seen: no synced value, no version
        state = type(state)(state.link, type(state.issue)(state.issue.ref), state.records, state.comments)
    result = plan(mapping(), given(issues=[issue(1, fixVersions=value)], links=[state]))
    assert len(of(result, AddComment)) == notes, case


def test_a_note_whose_template_renders_blank_is_not_posted() -> None:
    quiet = {**NOTE, "template": "{% if value %}Fix version {{ value | join(', ') }}{% endif %}"}
    state = link_state(1, 1, {1: (SYNCED_1, "2")}, issue_fields={**SYNCED_1, "fixVersions": ("2.4",)})
    cleared = plan(mapping(notes_to_itsm=[quiet]), given(issues=[issue(1, fixVersions=())], links=[state]))
    assert of(cleared, AddComment) == []
    named = plan(mapping(notes_to_itsm=[quiet]), given(issues=[issue(1, fixVersions=("2.5",))], links=[state]))
    assert [n.body for n in of(named, AddComment)] == ["Fix version 2.5"]
