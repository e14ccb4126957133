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
class MarkDone:
    """The journal row is done: ``payload`` is the action as executed (JSON text, opaque to the store),
    ``remote_id`` what the side answered; the row gets the current link."""

    payload: str
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResolveErrors:
    """The error-list entries of the journal row are resolved (a retried action succeeded)."""


Effect = NewLink | InLink | MergeSynced | AddCommentPair | MarkDone | ResolveErrors

__all__ = ["AddCommentPair", "Effect", "InLink", "MarkDone", "MergeSynced", "NewLink", "ResolveErrors"]
