"""The executor's remote writes: what each action sends to a side, what a reconciliation after a crash
looks for before writing again, and the notes and link changes of an item found gone.

Split from :mod:`bridge.sync.executor` (which holds the journal, the store and the schedule around these
calls); nothing here touches the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.connectors.base import Connector
from bridge.core.actions import (
    Action,
    AddComment,
    AdoptComment,
    AdoptIssue,
    CloseLink,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    SetStatus,
    UpdateFields,
    WriteBackReference,
)
from bridge.errors import MergedError, NotFoundError, PermanentError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Link, Ref, Side
from bridge.store import Store
from bridge.sync.attachment_exec import ATTACHMENT_ACTIONS, write_attachment
from bridge.sync.effects import ActionResult
from bridge.sync.executor_parts import create_spec, issue_result
from bridge.sync.fanin import fields_to_read, label_edit

log = get_logger(__name__)


def reconcile_write(connectors: Mapping[Side, Connector], mapping: MappingSpec, action: Action) -> ActionResult | None:
    """After a crash: find what a previous attempt already did; ``None`` when the write must be made."""
    if isinstance(action, CreateIssue):
        found = connectors[Side.JIRA].find_by_marker(mapping, action.marker)
        return issue_result(found, adopted=True) if found is not None else None
    if isinstance(action, AddComment):
        comment = connectors[action.target.side].find_comment_by_marker(action.target, action.marker)
        if comment is None:
            return None
        return ActionResult(link_id=action.link_id, comment_id=comment.id, remote_id=comment.id, adopted=True)
    if isinstance(action, SetStatus):
        current = connectors[action.target.side].get(action.target, [])
        if current.status == action.status:
            return ActionResult(link_id=action.link_id, adopted=True)
    if isinstance(action, MarkLinked):
        issue = connectors[Side.JIRA].get(action.issue, fields_to_read(action))
        if label_edit(action, issue.fields) is None:
            return ActionResult(link_id=action.link_id, adopted=True)
    if isinstance(action, CloseLink):
        try:
            note = connectors[action.notice.side].find_comment_by_marker(action.notice, action.marker)
        except NotFoundError:
            return ActionResult(link_id=action.link_id, adopted=True)
        if note is not None:
            return ActionResult(link_id=action.link_id, remote_id=note.id, adopted=True)
    return None


def write(
    connectors: Mapping[Side, Connector], mapping: MappingSpec, action: Action, *,
    jira_fields: Sequence[str] = (), work_dir: str | None = None,
) -> ActionResult:
    """The remote write of ``action``; what it produced, for :func:`~bridge.sync.effects.effects_for`."""
    if isinstance(action, ATTACHMENT_ACTIONS):
        return write_attachment(connectors, mapping, action, work_dir)
    if isinstance(action, AdoptIssue | AdoptComment):
        # Store-only: what the vendors already show is recorded (bridge.sync.adoption).
        log.info("adopted what the vendors already show", action=action.kind, description=action.describe())
        return ActionResult(link_id=action.link_id, adopted=True)
    if isinstance(action, CreateIssue):
        item = connectors[Side.JIRA].create(create_spec(action))
        return issue_result(item, adopted=False)
    if isinstance(action, LinkExisting):
        ref = Ref(Side.JIRA, "issue", action.issue_key, action.issue_key)
        item = connectors[Side.JIRA].get(ref, jira_fields or list(mapping.fields))
        return issue_result(item, adopted=False)
    if isinstance(action, MarkLinked):
        jira = connectors[Side.JIRA]
        edit = label_edit(action, jira.get(action.issue, fields_to_read(action)).fields)
        if edit is not None:
            jira.edit_labels(action.issue, add=edit.add, remove=edit.remove, values=edit.values)
        return ActionResult(link_id=action.link_id)
    if isinstance(action, UpdateFields):
        connectors[action.target.side].update_fields(action.target, action.values)
        return ActionResult(link_id=action.link_id)
    if isinstance(action, SetStatus):
        connectors[action.target.side].set_status(action.target, action.status, action.fields)
        return ActionResult(link_id=action.link_id)
    if isinstance(action, AddComment):
        comment = connectors[action.target.side].add_comment(
            action.target, action.body, channel=action.channel, marker=action.marker, visibility=action.visibility
        )
        return ActionResult(link_id=action.link_id, comment_id=comment.id, remote_id=comment.id)
    if isinstance(action, WriteBackReference):
        connectors[action.target.side].write_back_reference(action.target, action.other, action.values)
        return ActionResult(link_id=action.link_id)
    if isinstance(action, CloseLink):
        return _close(connectors, action)
    raise PermanentError(f"bridge cannot apply an action of kind {action.kind!r}")


def _close(connectors: Mapping[Side, Connector], action: CloseLink) -> ActionResult:
    """The note on ``notice`` (skipped when that item is gone too) and, for a merge into a linked
    ticket, the "Duplicate" issue link (best effort: a project may not offer that link type)."""
    connector = connectors[action.notice.side]
    note_id: str | None = None
    try:
        note_id = connector.add_comment(action.notice, action.body, channel=action.channel,
                                        marker=action.marker).id
    except NotFoundError:
        log.warning("the item to put the note on is gone too", item=action.notice.key)
    if action.duplicate_of is not None:
        try:
            connector.link_issues(action.notice, action.duplicate_of, "Duplicate")
        except (PermanentError, NotFoundError) as exc:
            log.warning("could not link the issues as duplicates", issue=action.notice.key,
                        other=action.duplicate_of.key, error=str(exc))
    return ActionResult(link_id=action.link_id, remote_id=note_id)


def close_actions(
    store: Store, connectors: Mapping[Side, Connector], mapping: MappingSpec, link: Link, gone: Ref,
    merged: MergedError | None, *, verb: str = "was merged into",
) -> list[CloseLink]:
    """The notes and the link change for ``gone``: see :class:`~bridge.core.actions.CloseLink`."""
    itsm = connectors[Side.ITSM].display_name
    jira = connectors[Side.JIRA].display_name
    name = mapping.name
    if gone.side is Side.JIRA:
        recreate = mapping.links.recreate_deleted
        reason = f"{gone.key} was deleted in {jira}"
        then = ("bridge escalates this record again as a new issue" if recreate
                else "bridge no longer syncs this record")
        return [
            CloseLink(name, link.id, notice=record, gone=gone, reason=reason,
                      body=f"{gone.key} was deleted in {jira}; {then}.",
                      channel=mapping.comments.to_itsm_channel, recreate=recreate,
                      release_keys=(CreateIssue.key_for(name, record.id),))
            for record in link.records
        ]
    if merged is None:
        return [CloseLink(name, link.id, notice=link.issue, gone=gone, reason=f"{gone.key} was deleted in {itsm}",
                          body=f"{gone.key} was deleted in {itsm}; bridge no longer syncs this issue with it.",
                          channel="comment")]
    survivor = Ref(gone.side, gone.kind, merged.survivor_id, merged.survivor_key or merged.survivor_id)
    other = store.link_for_record(name, survivor.id)
    if other is None:
        return [CloseLink(name, link.id, notice=link.issue, gone=gone, move_to=survivor,
                          reason=f"{gone.key} {verb} {survivor.key}",
                          body=f"{gone.key} {verb} {survivor.key} in {itsm}; "
                               f"this issue now follows {survivor.key}.",
                          channel="comment")]
    if other.id == link.id:  # both tickets already share this issue: only the merged one leaves
        reason = f"{gone.key} {verb} {survivor.key}, which is linked to this issue too"
        return [CloseLink(name, link.id, notice=link.issue, gone=gone, reason=reason,
                          body=f"{gone.key} {verb} {survivor.key} in {itsm}.", channel="comment")]
    reason = f"{gone.key} {verb} {survivor.key} ({other.issue.key})"
    return [CloseLink(name, link.id, notice=link.issue, gone=gone, duplicate_of=other.issue, reason=reason,
                      body=f"{gone.key} {verb} {survivor.key} ({other.issue.key}) in {itsm}; "
                           "bridge no longer syncs this issue.",
                      channel="comment")]


__all__ = ["close_actions", "reconcile_write", "write"]
