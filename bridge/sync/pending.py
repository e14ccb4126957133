"""The pending-placeholder protocol: how a create's follow-ups name an issue that does not exist yet.

The planner plans a new record's follow-ups (write-back, status, comments, linked mark) in the same plan
as its :class:`~bridge.core.actions.CreateIssue` / :class:`~bridge.core.actions.LinkExisting`, before
the issue exists. They address it through a placeholder :class:`~bridge.model.Ref` made by
:func:`pending_issue`: ``Ref(Side.JIRA, "issue", id="pending:<record id>", key=<"pending-key:<record
id>"> or the existing key, url="pending-url:<record id>")``, with ``link_id`` ``None``. Their keys are
stable and unique per record.

This is runtime plumbing, not planning: the executor, when :func:`pending_record_id` finds a record id
in an action, looks up the link the create stored for that record and calls :func:`resolve_pending`
(pure) with the real issue; the cycle lists a journaled follow-up under its resolved key too
(:func:`unplannable_keys`) so it is never planned a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bridge.core.actions import Action
from bridge.model import FieldValue, Ref, Side

if TYPE_CHECKING:  # the planner imports this module, and the planner touches no database
    from bridge.store import Store

PENDING_ID_PREFIX = "pending:"
PENDING_KEY_PREFIX = "pending-key:"
PENDING_URL_PREFIX = "pending-url:"


def pending_issue(record: Ref, existing_key: str | None = None) -> Ref:
    """The placeholder for the issue that the CreateIssue/LinkExisting of ``record`` is about to link."""
    return Ref(
        Side.JIRA,
        "issue",
        id=f"{PENDING_ID_PREFIX}{record.id}",
        key=existing_key or f"{PENDING_KEY_PREFIX}{record.id}",
        url=f"{PENDING_URL_PREFIX}{record.id}",
    )


def _pending_id(ref: Any) -> str | None:
    if isinstance(ref, Ref) and ref.side is Side.JIRA and ref.id.startswith(PENDING_ID_PREFIX):
        return ref.id[len(PENDING_ID_PREFIX):]
    return None


def pending_record_id(action: Action) -> str | None:
    """The record id whose new issue ``action`` needs, or ``None`` when it addresses known items only."""
    for ref in action.refs:
        record_id = _pending_id(ref)
        if record_id is not None:
            return record_id
    return None


def resolve_pending(action: Action, issue: Ref) -> Action:
    """``action`` with its placeholder replaced by the real ``issue``: in its refs, the placeholder key and
    URL in ``values``, and the placeholder id in the synced updates' ``item_id`` (pure)."""
    placeholder: Ref | None = None
    changes: dict[str, Any] = {}
    for name in action.ref_fields:
        ref = getattr(action, name)
        if _pending_id(ref) is not None:
            placeholder = ref
            changes[name] = issue
    if placeholder is None:
        return action
    substitutes: dict[FieldValue, FieldValue] = {placeholder.key: issue.key, placeholder.url: issue.url}
    values = getattr(action, "values", None)
    if isinstance(values, Mapping):
        changes["values"] = {
            k: substitutes.get(v, v) if isinstance(v, str) else v for k, v in values.items()
        }
    updates = getattr(action, "updates", None)
    if updates:
        changes["updates"] = tuple(
            replace(u, item_id=issue.id) if u.item_id == placeholder.id else u for u in updates
        )
    return replace(action, **changes)


def unplannable_keys(store: Store, mapping: str) -> frozenset[str]:
    """Keys the planner must not plan again: actions still pending or on the error list.

    A new record's follow-ups are journaled under keys naming the placeholder of its issue-to-be. Once
    the link exists, the planner names the real issue, so the same effect gets another key: each such
    entry is listed under its resolved key too, or a follow-up whose reconciliation was deferred (a
    comment written just before a crash, say) would be planned and written a second time.
    """
    keys = set(store.pending_keys(mapping))
    for entry in store.unfinished_entries(mapping):
        record_id = pending_record_id(entry.action)
        if record_id is None:
            continue
        link = store.link_for_record(mapping, record_id)
        if link is not None:
            keys.add(resolve_pending(entry.action, link.issue).key)
    return frozenset(keys)


__all__ = [
    "PENDING_ID_PREFIX",
    "PENDING_KEY_PREFIX",
    "PENDING_URL_PREFIX",
    "pending_issue",
    "pending_record_id",
    "resolve_pending",
    "unplannable_keys",
]
