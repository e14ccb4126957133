"""Re-export of :mod:`bridge.core.actions`, where the action types live (below both sync and store)."""

from bridge.core.actions import (
    ACTION_TYPES,
    Action,
    AddComment,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
    WriteBackReference,
    digest,
    from_json,
    to_json,
)

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AddComment",
    "CreateIssue",
    "LinkExisting",
    "MarkLinked",
    "ReportConflict",
    "SetStatus",
    "SyncedUpdate",
    "UpdateFields",
    "WriteBackReference",
    "digest",
    "from_json",
    "to_json",
]
