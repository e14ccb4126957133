"""Plain values the store hands out and takes in (so callers never see a SQL row)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.model import FieldValue, Ref
from bridge.sync.actions import Action

PENDING = "pending"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal row: an action before (``pending``) or after (``done``/``failed``) its remote write."""

    id: int
    mapping: str
    key: str
    kind: str
    link_id: int | None
    action: Action
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    remote_id: str | None
    created: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One entry of the error list. ``journal_id`` is set when it is a failed action (retryable as is)."""

    id: int
    mapping: str
    kind: str
    message: str
    item_ref: str | None
    link_id: int | None
    journal_id: int | None
    first_seen: datetime
    last_seen: datetime
    count: int
    resolved: bool


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What a remote write produced, recorded by :meth:`bridge.store.Store.apply_success`.

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


@dataclass(frozen=True, slots=True)
class MappingStatus:
    """When a mapping's last cycle ended (``last_ok``: whether it finished) and its last successful one."""

    mapping: str
    last_cycle: datetime | None
    last_ok: bool | None
    last_success: datetime | None
