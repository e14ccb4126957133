"""Plain values the store hands out and takes in (so callers never see a SQL row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.core.actions import Action

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
class MappingStatus:
    """When a mapping's last cycle ended (``last_ok``: whether it finished) and its last successful one."""

    mapping: str
    last_cycle: datetime | None
    last_ok: bool | None
    last_success: datetime | None
