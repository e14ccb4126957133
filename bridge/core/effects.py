"""Store effects: what a succeeded action changes in the state store, as plain data.

The executor turns an (action, remote result) pair into a tuple of effects; :meth:`bridge.store.Store.apply`
writes them, with the journal row marked done, in ONE transaction. The store therefore never looks at
action types: a new action kind needs new effects only if it records something no effect records yet.

Effects are applied in order. :class:`NewLink` and :class:`InLink` choose the link the effects after them
write to (the *current link*); :class:`MergeSynced` and :class:`AddCommentPair` need one and are skipped
without it (an action whose items belong to no link has nothing to remember).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.core.actions import SyncedUpdate
from bridge.core.attachments import AttachmentPair
from bridge.core.state import CommentPair
from bridge.model import FieldValue, Ref


@dataclass(frozen=True, slots=True)
class NewLink:
    """``record`` is linked to ``issue`` (the link is made when the issue has none in ``mapping``, else
    the record joins it), with the issue's and the record's synced values. Becomes the current link."""

    mapping: str
    issue: Ref
    record: Ref
    issue_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    issue_status: str | None = None
    issue_version: str = ""
    issue_updated: datetime | None = None
    record_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    record_status: str | None = None


@dataclass(frozen=True, slots=True)
class InLink:
    """The current link is ``link_id``, or when ``None`` the link of the first of ``items`` that has one."""

    mapping: str
    link_id: int | None
    items: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True)
class MergeSynced:
    """Merge these synced values over the stored ones of their items in the current link."""

    updates: tuple[SyncedUpdate, ...]


@dataclass(frozen=True, slots=True)
class AddCommentPair:
    """A comment was mirrored: remember the pair in the current link (once)."""

    pair: CommentPair


@dataclass(frozen=True, slots=True)
class AddAttachmentPair:
    """A file was copied (or noted as not copied): remember the pair in the current link (once)."""

    pair: AttachmentPair


@dataclass(frozen=True, slots=True)
class MarkDone:
    """The journal row is done: ``payload`` is the action as executed (JSON text, opaque to the store),
    ``remote_id`` what the side answered; the row gets the current link."""

    payload: str
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResolveErrors:
    """The error-list entries of the journal row are resolved (a retried action succeeded), and with
    ``slot`` the entry of every earlier refusal of the same effect on the same target (opaque here)."""

    slot: str | None = None


@dataclass(frozen=True, slots=True)
class MarkClosed:
    """The current link is closed with ``reason`` (an item of it was deleted or merged away); a link
    already closed keeps its first reason."""

    reason: str
    when: datetime | None = None
    #: only this record leaves the link, unless it is the link's last open record
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class MoveRecord:
    """In the current link, the record ``old_id`` is now ``new`` (an RT ticket merged into an unlinked one)."""

    old_id: str
    new: Ref


@dataclass(frozen=True, slots=True)
class ForgetLink:
    """The current link is dropped, and the journal keys in ``release_keys`` are freed (renamed) so the
    same action can be planned and applied again: ``links.recreate_deleted`` escalates the record anew."""

    release_keys: tuple[str, ...] = ()


Effect = (
    NewLink | InLink | MergeSynced | AddCommentPair | AddAttachmentPair | MarkDone | ResolveErrors | MarkClosed
    | MoveRecord | ForgetLink
)

__all__ = [
    "AddAttachmentPair",
    "AddCommentPair",
    "Effect",
    "ForgetLink",
    "InLink",
    "MarkClosed",
    "MarkDone",
    "MergeSynced",
    "MoveRecord",
    "NewLink",
    "ResolveErrors",
]
