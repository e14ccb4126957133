"""Small pure helpers of the executor: retry backoff, the create request of a CreateIssue, the result of
a created issue, the error-list kind of a failure, and the structured log fields of an action.

Split from :mod:`bridge.sync.executor`, which uses (and re-exports) them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bridge.connectors.base import CreateSpec
from bridge.core.actions import Action, AdoptIssue, CreateIssue, LinkExisting
from bridge.errors import ConnectorError, NotFoundError, WorkflowError
from bridge.model import Item, Ref, Side
from bridge.sync.effects import ActionResult
from bridge.sync.pending import PENDING_ID_PREFIX, pending_record_id


def backoff(attempts: int, *, base: float, cap: float, retry_after: float | None = None) -> timedelta:
    """Delay before the next attempt: the vendor's Retry-After if given, else exponential, capped."""
    if retry_after is not None:
        return timedelta(seconds=min(max(retry_after, 0.0), cap))
    return timedelta(seconds=min(base * (2 ** max(attempts, 0)), cap))


def affinity(action: Action) -> str:
    """What an action's order is kept with: its link, or for a create's follow-up, its record."""
    record_id = pending_record_id(action)
    if record_id is not None:
        return f"record:{record_id}"
    if action.link_id is not None:
        return f"link:{action.link_id}"
    return f"item:{action.refs[0].id}" if action.refs else "item:"


#: actions journaled pending per transaction before their writes (see :func:`journal_chunks`)
JOURNAL_CHUNK = 500


def journal_chunks(actions: Sequence[Action], size: int) -> list[list[int]]:
    """The indexes of ``actions`` in chunks of about ``size``, each journaled before any of its writes.

    Every action of one group goes in the chunk of the group's first action, in plan order: a create
    (or link, or adoption) of a record with the follow-ups that address its issue-to-be, and every
    action of one link or item (:func:`affinity`). A chunk closes at ``size`` only between groups, so a group
    is never split (a chunk may hold a little more than ``size``).
    """
    placed: dict[str, int] = {}
    chunks: list[list[int]] = []
    for index, action in enumerate(actions):
        if isinstance(action, CreateIssue | LinkExisting | AdoptIssue):
            group = f"record:{action.record.id}"
        else:  # an action on an item without a link yet (after an adoption, say) goes with its record
            group = affinity(action).replace("item:", "record:", 1)
        home = placed.get(group)
        if home is None:
            if not chunks or len(chunks[-1]) >= size:
                chunks.append([])
            home = placed[group] = len(chunks) - 1
        chunks[home].append(index)
    return chunks


def create_spec(action: CreateIssue) -> CreateSpec:
    return CreateSpec(
        project=action.project,
        issue_type=action.issue_type,
        fields=action.fields,
        marker=action.marker,
        labels=action.labels,
        components=action.components,
        marker_field=action.marker_field,
    )


def issue_result(item: Item, *, adopted: bool) -> ActionResult:
    """What a created, adopted or linked issue gives its link. A create the connector did not read back
    has no version yet (docs/connectors/jira.md, "Creating issues"): its time is left unknown too, and the
    next cycle's change search, which returns the new issue, records both."""
    return ActionResult(
        issue=item.ref,
        issue_status=item.status,
        issue_version=item.version,
        issue_updated=item.updated if item.version else None,
        issue_fields=dict(item.fields),
        remote_id=item.ref.id,
        adopted=adopted,
    )


def error_kind(exc: ConnectorError) -> str:
    if isinstance(exc, WorkflowError):
        return "workflow"
    if isinstance(exc, NotFoundError):
        return "not_found"
    return "rejected"


def item_ref(action: Action) -> str | None:
    return action.refs[0].key if action.refs else None




def pending_record_id_of(ref: Ref) -> str | None:
    return ref.id[len(PENDING_ID_PREFIX):] if ref.id.startswith(PENDING_ID_PREFIX) else None


def action_refs(action: Action) -> dict[str, str]:
    """``record`` and ``issue`` of an action, as structured log fields: an operator greps one key and gets
    every line about it (a placeholder of an issue still to be created is left out)."""
    found: dict[str, str] = {}
    for ref in action.refs:
        if isinstance(ref, Ref) and pending_record_id_of(ref) is None:
            found.setdefault("record" if ref.side is Side.ITSM else "issue", ref.key)
    return found
