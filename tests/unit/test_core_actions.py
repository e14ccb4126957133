"""Action.refs (the one answer to "which items does this action touch") and the store effects of a success."""

from __future__ import annotations

import pytest

from bridge.core.actions import (
    ACTION_TYPES,
    AddComment,
    AdoptComment,
    AdoptIssue,
    CloseLink,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
    WriteBackReference,
    from_json,
    to_json,
)
from bridge.core.attachments import CopyAttachment, NoteAttachment
from bridge.core.effects import (
    AddCommentPair,
    ForgetLink,
    InLink,
    MarkClosed,
    MarkDone,
    MergeSynced,
    MoveRecord,
    NewLink,
    ResolveErrors,
)
from bridge.core.state import CommentPair
from bridge.errors import StoreError
from bridge.model import Ref, Side
from bridge.sync.effects import ActionResult, effects_for
from bridge.sync.executor import Outcome
from bridge.sync.pending import pending_issue, pending_record_id, resolve_pending

M = "incidents"
REC = Ref(Side.ITSM, "incident", "sys1", "INC0000001", "https://snow/1")
OTHER = Ref(Side.ITSM, "incident", "sys2", "INC0000002", "https://snow/2")
ISS = Ref(Side.JIRA, "issue", "10001", "OPS-1", "https://jira/OPS-1")

ACTIONS = [
    CreateIssue(M, None, REC, "OPS", "Bug", {"summary": "x"}, REC.token),
    LinkExisting(M, None, REC, "OPS-1"),
    MarkLinked(M, 1, ISS, "bridge"),
    UpdateFields(M, 1, ISS, {"summary": "y"}, (SyncedUpdate(Side.JIRA, ISS.id, {"summary": "y"}),)),
    SetStatus(M, 1, REC, "6"),
    AddComment(M, 1, ISS, REC, "c1", "hello", "comment"),
    WriteBackReference(M, 1, REC, ISS, {"correlation_id": "OPS-1"}),
    ReportConflict(M, 1, "priority", OTHER, ISS, "High", "Low"),
    CloseLink(M, 1, ISS, REC, "INC0000001 was deleted in ServiceNow", "deleted", "comment"),
    AdoptIssue(M, None, REC, ISS, {"summary": "x", "labels": ("a", "b")}, "To Do", "v1", {"summary": "x"}, "2",
               "marker", (CommentPair(Side.ITSM, "c1", REC.id, ISS.id, "jc9"),)),
    AdoptComment(M, 1, ISS, REC, "c1", "jc9"),
]
ACTIONS[-2:-2] = [
    CopyAttachment(M, 1, ISS, REC, "f1", "error.log", "text/plain", 12, "https://snow/f1"),
    NoteAttachment(M, 1, ISS, REC, "f2", "core.dump", "bridge did not copy core.dump", "comment", 10**9),
]


def test_every_action_type_is_covered_here() -> None:
    assert {type(a) for a in ACTIONS} == set(ACTION_TYPES.values())


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.kind)
def test_refs_name_the_item_the_action_is_about_first(action: object) -> None:
    expected = {
        "create_issue": (REC,),
        "link_existing": (REC,),
        "mark_linked": (ISS,),
        "update_fields": (ISS,),
        "set_status": (REC,),
        "add_comment": (ISS, REC),
        "back_reference": (REC, ISS),
        "report_conflict": (ISS, OTHER),
        "adopt_issue": (REC, ISS),
        "adopt_comment": (ISS, REC),
        "close_link": (ISS, REC),
        "copy_attachment": (ISS, REC),
        "attachment_note": (ISS, REC),
    }
    assert action.refs == expected[action.kind]  # type: ignore[attr-defined]
    assert from_json(to_json(action)) == action  # type: ignore[arg-type]


def test_placeholder_found_and_resolved_through_refs() -> None:
    placeholder = pending_issue(REC)
    follow_up = WriteBackReference(M, None, REC, placeholder, {"correlation_id": placeholder.key})
    assert pending_record_id(follow_up) == REC.id
    resolved = resolve_pending(follow_up, ISS)
    assert isinstance(resolved, WriteBackReference)
    assert resolved.refs == (REC, ISS)
    assert resolved.values == {"correlation_id": "OPS-1"}
    assert pending_record_id(resolved) is None


def test_effects_of_a_create_link_the_record_then_mark_the_row_done() -> None:
    action = ACTIONS[0]
    effects = effects_for(action, ActionResult(issue=ISS, issue_status="To Do", remote_id=ISS.id))
    assert effects == (
        NewLink(M, ISS, REC, {"summary": "x"}, "To Do", "", None, {}, None),
        MarkDone(to_json(action), ISS.id),
        ResolveErrors(f"create:{M}:{REC.id}"),  # the slot: earlier refusals of this create are resolved too
    )
    with pytest.raises(StoreError):
        effects_for(action, ActionResult())


def test_effects_of_a_comment_find_the_link_by_its_items_and_keep_the_pair() -> None:
    action = AddComment(M, None, ISS, REC, "c1", "hello", "comment")
    effects = effects_for(action, ActionResult(comment_id="jc9", remote_id="jc9"))
    assert effects[0] == InLink(M, None, (ISS, REC))
    pair = effects[1]
    assert isinstance(pair, AddCommentPair)
    assert (pair.pair.origin_id, pair.pair.mirror_item, pair.pair.mirror_id) == ("c1", ISS.id, "jc9")


def test_effects_of_a_field_write_merge_its_synced_values() -> None:
    action = ACTIONS[3]
    effects = effects_for(action, ActionResult(link_id=7))
    assert effects[:2] == (InLink(M, 7, (ISS,)), MergeSynced(action.synced))


def test_outcomes_are_named_after_what_they_print() -> None:
    assert all(member.value == member.name.lower() for member in Outcome)


def test_effects_of_an_adoption_link_with_current_values_and_pairs_without_a_write() -> None:
    action = ACTIONS[-2]
    assert isinstance(action, AdoptIssue)
    effects = effects_for(action, ActionResult(adopted=True))
    assert effects[0] == NewLink(M, ISS, REC, action.issue_fields, "To Do", "v1", None, {"summary": "x"}, "2")
    assert effects[1] == AddCommentPair(CommentPair(Side.ITSM, "c1", REC.id, ISS.id, "jc9"))
    assert effects[-2:] == (MarkDone(to_json(action), None), ResolveErrors(action.key))
    comment = ACTIONS[-1]
    assert effects_for(comment, ActionResult(link_id=1))[:2] == (
        InLink(M, 1, (ISS, REC)), AddCommentPair(CommentPair(Side.ITSM, "c1", REC.id, ISS.id, "jc9"))
    )
@pytest.mark.parametrize(
    ("options", "effect"),
    [
        ({}, MarkClosed("gone", record_id=REC.id)),  # a gone record leaves alone: others may share the issue
        ({"move_to": OTHER}, MoveRecord(REC.id, OTHER)),
        ({"recreate": True, "release_keys": (CreateIssue.key_for(M, REC.id),)}, ForgetLink(("create:incidents:sys1",))),
    ],
    ids=["close", "move", "recreate"],
)
def test_effects_of_a_close_link_close_move_or_drop_the_link(options: dict[str, object], effect: object) -> None:
    action = CloseLink(M, 3, ISS, REC, "gone", "note", "comment", duplicate_of=OTHER, **options)  # type: ignore[arg-type]
    assert from_json(to_json(action)) == action
    effects = effects_for(action, ActionResult(link_id=3, remote_id="n1"))
    assert effects == (InLink(M, 3, (ISS, REC)), effect, MarkDone(to_json(action), "n1"), ResolveErrors(action.key))
