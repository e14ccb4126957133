"""What a succeeded action changes in the store: the executor's (action, result) → store effects.

This is the one place that knows, per action type, what must be remembered after its remote write; the
store only writes the :mod:`bridge.core.effects` it is given (:meth:`bridge.store.Store.apply`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.core.actions import (
    Action,
    AddComment,
    AdoptComment,
    AdoptIssue,
    CloseLink,
    CreateIssue,
    LinkExisting,
    to_json,
)
from bridge.core.attachments import AttachmentPair
from bridge.core.effects import (
    AddAttachmentPair,
    AddCommentPair,
    Effect,
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
from bridge.model import FieldValue, Ref, Side
from bridge.sync.refusals import refusal_slot


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What a remote write produced.

    ``link_id`` is the link the action belongs to (resolved by the executor for follow-ups of a create).
    ``issue`` is the issue a CreateIssue made (or adopted) or a LinkExisting linked, with its status,
    version and current mapped values in ``issue_fields``. ``comment_id`` is the id of a mirrored comment.
    """

    link_id: int | None = None
    issue: Ref | None = None
    issue_status: str | None = None
    issue_version: str = ""
    issue_updated: datetime | None = None
    issue_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    comment_id: str | None = None
    remote_id: str | None = None
    adopted: bool = False
    #: a copied (or noted) file, remembered so it is never copied again
    attachment: AttachmentPair | None = None


def effects_for(action: Action, result: ActionResult) -> tuple[Effect, ...]:
    """The store effects of ``action`` having succeeded with ``result``, the journal row's done mark last.

    AdoptIssue: the record joins the issue's link with both sides' current values and the comment pairs
    found by marker. AdoptComment: its pair in its link. CreateIssue / LinkExisting: the record joins
    the issue's link (made if needed, with the issue's
    synced values: for a create, the values it sent). Every other action: its link, given or found
    through its items; a CloseLink then closes, moves or drops it. Then every action's
    :attr:`~bridge.core.actions.Action.synced` updates, an AddComment's comment pair, and the journal
    row done with its errors resolved.
    """
    effects: list[Effect] = []
    if isinstance(action, AdoptIssue):
        # Both sides' current values become the synced ones: adopting re-sends nothing.
        effects.append(
            NewLink(
                mapping=action.mapping,
                issue=action.issue,
                record=action.record,
                issue_fields=action.issue_fields,
                issue_status=action.issue_status,
                issue_version=action.issue_version,
                record_fields=action.record_fields,
                record_status=action.record_status,
            )
        )
        effects.extend(AddCommentPair(pair) for pair in action.comment_pairs)
    elif isinstance(action, CreateIssue | LinkExisting):
        if result.issue is None:
            raise StoreError(f"{action.kind} succeeded without an issue to link")
        effects.append(
            NewLink(
                mapping=action.mapping,
                issue=result.issue,
                record=action.record,
                issue_fields=action.fields if isinstance(action, CreateIssue) else result.issue_fields,
                issue_status=result.issue_status,
                issue_version=result.issue_version,
                issue_updated=result.issue_updated,
                record_fields=action.record_fields,
                record_status=action.record_status,
            )
        )
    else:
        link_id = result.link_id if result.link_id is not None else action.link_id
        effects.append(InLink(action.mapping, link_id, action.refs))
    if isinstance(action, CloseLink):
        if action.move_to is not None:
            effects.append(MoveRecord(action.gone.id, action.move_to))
        elif action.recreate:
            effects.append(ForgetLink(action.release_keys))
        else:
            leaving = action.leaving or (action.gone if action.gone.side is Side.ITSM else None)
            effects.append(MarkClosed(action.reason, record_id=leaving.id if leaving is not None else None))
    if action.synced:
        effects.append(MergeSynced(action.synced))
    if isinstance(action, AdoptComment):
        effects.append(AddCommentPair(action.pair))
    if isinstance(action, AddComment) and result.comment_id is not None:
        effects.append(
            AddCommentPair(
                CommentPair(
                    action.origin.side, action.origin_comment_id, action.origin.id, action.target.id, result.comment_id
                )
            )
        )
    if result.attachment is not None:
        effects.append(AddAttachmentPair(result.attachment))
    effects.append(MarkDone(to_json(action), result.remote_id))
    effects.append(ResolveErrors(refusal_slot(action)))
    return tuple(effects)


__all__ = ["ActionResult", "effects_for"]
