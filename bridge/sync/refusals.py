"""Refused writes heal themselves: when a refused action is planned again, and what resolves its entry.

A write a side refused (:class:`~bridge.errors.PermanentError`, :class:`~bridge.errors.NotFoundError`) is
journaled ``failed`` and put on the error list. Its idempotency key then keeps the planner from planning
the same effect again (:func:`bridge.sync.pending.unplannable_keys`), which is right while nothing
changed: the same write would be refused the same way. This module says when that stops:

* **A side changed after the refusal.** For an action of a link: an item of the link shows a version the
  cycle has not processed yet (the refusing cycle marked the versions it read as processed, so any new
  one is a change made after the refusal). The refused row is *archived* (its key renamed ``<key>#<id>``,
  kept in the audit trail) before planning, so the planner plans the effect again from both sides'
  current data and the current mapping. A back-reference (:class:`WriteBackReference`) is the one
  exception: the planner writes it only when a record is escalated or adopted, so an archived one would
  never come back; its content is the link (the issue key and URL), not the items' data, so it is
  replayed as it was, after the plan (:attr:`Release.replay`). For a record without a link (a refused
  create or link): an unlinked record is read again on every overlapping window, so a version cannot tell; its refused
  action is planned again and executed only when what bridge would send now differs from what was
  refused (:func:`settle_unlinked`).
* **An operator ran ``bridge retry``.** The store re-queues the row (pending, no attempt, the refusal's
  message kept: :meth:`~bridge.store.repositories.errors.ErrorListRepository.retry_error`). The cycle
  never replays it: :func:`take_requeued` archives it and hands back the items to read again, and the
  plan made from their current data replaces it. Comments, linked marks and back-references are
  replayed as they were: their content is not the record's data.

When a create is planned again, the follow-ups journaled with the refused one (write-back, status,
comments, waiting for an issue that was never made) are discarded: they never ran, and the new plan
makes them again from the record as it is now (an old status move must not run after a newer one).

An entry of the error list is resolved when a later action of the same **slot** succeeds (the same kind
of effect on the same target of the same link: :func:`refusal_slot`); failures of one slot count on one
entry, so fixing a record that was refused twice leaves no stale entry behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bridge.core.actions import (
    Action,
    AddComment,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    ReportConflict,
    SetStatus,
    UpdateFields,
    WriteBackReference,
)
from bridge.core.state import LinkState
from bridge.logging import get_logger
from bridge.model import Item, Ref, Side
from bridge.store import FAILED, JournalEntry, Store
from bridge.sync.pending import pending_record_id

log = get_logger(__name__)

#: actions ``bridge retry`` replays as journaled: their content is not planned from the items' data
REPLAYED = (AddComment, MarkLinked, ReportConflict, WriteBackReference)


def refusal_slot(action: Action) -> str:
    """What a refusal is about: the kind of effect and its target (the key without what varies per plan).

    A later success of the same slot makes the refusal moot (the target now has a newer value or status),
    so its entry is resolved; a later refusal of the same slot counts on the same entry.
    """
    if isinstance(action, UpdateFields):
        return f"fields:{action.mapping}:{action.target.id}"
    if isinstance(action, SetStatus):
        return f"status:{action.mapping}:{action.target.id}"
    if isinstance(action, WriteBackReference):
        return f"backref:{action.mapping}:{action.target.id}:{action.other.id}"
    if isinstance(action, LinkExisting):
        return f"link:{action.mapping}:{action.record.id}"
    if isinstance(action, MarkLinked):
        return f"linked:{action.mapping}:{action.issue.id}"
    return action.key


def _record_of(action: Action) -> str | None:
    """The record an unlinked action is about: a create's or link's record, a follow-up's record."""
    if isinstance(action, CreateIssue | LinkExisting):
        return action.record.id
    return pending_record_id(action)


def _refused(store: Store, mapping: str) -> list[JournalEntry]:
    return [
        e for e in store.unfinished_entries(mapping) if e.state == FAILED and not isinstance(e.action, ReportConflict)
    ]


def _followups(store: Store, mapping: str, record_id: str) -> list[JournalEntry]:
    """The pending follow-ups still waiting for the issue of ``record_id`` (none of them ever ran)."""
    if store.link_for_record(mapping, record_id) is not None:
        return []
    return [
        e
        for e in store.pending_entries(mapping)
        if not isinstance(e.action, CreateIssue | LinkExisting) and pending_record_id(e.action) == record_id
    ]


# ------------------------------------------------------------------------------------ bridge retry


@dataclass
class Requeued:
    """What ``bridge retry`` asked for: items to read again (``get``, every comment) and plan afresh."""

    records: list[Ref] = field(default_factory=list)
    issues: list[Ref] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.records or self.issues)


def take_requeued(store: Store, mapping: str) -> Requeued:
    """Archive the rows ``bridge retry`` re-queued (those that are re-planned, not replayed) and say which
    items to read again so the plan replaces them with actions made from current data."""
    wanted = Requeued()
    for entry in store.pending_entries(mapping):
        if entry.attempts != 0 or entry.last_error is None or isinstance(entry.action, REPLAYED):
            continue  # a crash leftover or a deferred write: reconciliation owns it
        action = entry.action
        record_id = _record_of(action)
        link = (
            store.link_for_record(mapping, record_id) if record_id is not None and entry.link_id is None else None
        )
        if entry.link_id is None and link is None and record_id is not None:
            record = next((r for r in action.refs if r.side is Side.ITSM and r.id == record_id), None)
            if record is None:
                continue  # a follow-up: re-planned with its create
            store.journal_archive([entry.id, *(f.id for f in _followups(store, mapping, record_id))])
            wanted.records.append(record)
            log.info("re-queued action planned again from current data", key=entry.key)
            continue
        link_id = entry.link_id if entry.link_id is not None else (link.id if link is not None else None)
        state = store.link_state(link_id) if link_id is not None else None
        if state is None:
            continue  # nothing to read: replayed as journaled
        store.journal_archive([entry.id])
        wanted.records.extend(state.link.records)
        wanted.issues.append(state.link.issue)
        log.info("re-queued action planned again from current data", key=entry.key)
    return wanted


# ------------------------------------------------------------------------------------ a side changed


@dataclass(frozen=True)
class Release:
    """Refused keys the planner may plan again this cycle, and the unlinked ones still to compare."""

    keys: frozenset[str] = frozenset()
    #: refused creates/links of unlinked records: key -> the refused row
    unlinked: Mapping[str, JournalEntry] = field(default_factory=dict)
    #: the items of the links whose refused actions were archived: their current data is read, so the
    #: plan sees both sides, not just the one that changed
    reread: Requeued = field(default_factory=Requeued)
    #: archived refusals applied again as they were (back-references: the planner never re-plans them)
    replay: tuple[Action, ...] = ()


def release_changed(
    store: Store,
    mapping: str,
    changed: Iterable[Item],
    by_record: Mapping[str, LinkState],
    by_issue: Mapping[str, LinkState],
    *,
    refused_now: Iterable[int] = (),
) -> Release:
    """Archive the refused actions of every link an item of which changed since; free the keys of refused
    creates/links whose record was read again (compared after planning, :func:`settle_unlinked`).

    ``refused_now``: journal ids refused earlier in this same cycle (a retry that failed again): not a
    change after the refusal.
    """
    items = list(changed)
    links = {
        state.link.id
        for item in items
        for state in [(by_issue if item.ref.side is Side.JIRA else by_record).get(item.ref.id)]
        if state is not None
    }
    records = {item.ref.id for item in items if item.ref.side is Side.ITSM and item.ref.id not in by_record}
    skip = set(refused_now)
    archived: list[int] = []
    replay: list[Action] = []
    released_links: set[int] = set()
    keys: set[str] = set()
    unlinked: dict[str, JournalEntry] = {}
    for entry in _refused(store, mapping):
        if entry.id in skip:
            continue
        record_id = _record_of(entry.action)
        link_id = entry.link_id
        if link_id is None and record_id is not None and record_id in by_record:
            link_id = by_record[record_id].link.id  # a create's follow-up, refused once the issue existed
        if link_id is not None:
            if link_id in links:
                archived.append(entry.id)
                released_links.add(link_id)
                if isinstance(entry.action, WriteBackReference):
                    replay.append(entry.action)
            continue
        if record_id is None or record_id not in records:
            continue
        if isinstance(entry.action, CreateIssue | LinkExisting):
            unlinked[entry.key] = entry
            keys.add(entry.key)
            keys.update(f.key for f in _followups(store, mapping, record_id))
    reread = Requeued()
    if archived:
        store.journal_archive(archived)
        log.info("refused actions planned again: a side changed since", count=len(archived))
        for state in {s.link.id: s for s in [*by_record.values(), *by_issue.values()]}.values():
            if state.link.id in released_links:
                reread.records.extend(state.link.records)
                reread.issues.append(state.link.issue)
    return Release(frozenset(keys), unlinked, reread, tuple(replay))


def settle_unlinked(store: Store, mapping: str, actions: Sequence[Action], release: Release) -> list[Action]:
    """The plan's actions, without a refused create/link planned again with the very data that was refused
    (and without its follow-ups); when the data differs, the refused row and its waiting follow-ups are
    archived and the plan's fresh ones run. Then the archived back-references replayed as they were
    (:attr:`Release.replay`), unless the plan writes them already."""
    planned = {a.key for a in actions}
    replay = [a for a in release.replay if a.key not in planned]
    if not release.unlinked:
        return [*actions, *replay]
    dropped: set[str] = set()
    for action in actions:
        stale = release.unlinked.get(action.key)
        if stale is None:
            continue
        record_id = _record_of(action)
        assert record_id is not None
        if action == stale.action:
            dropped.add(record_id)
            continue
        store.journal_archive([stale.id, *(f.id for f in _followups(store, mapping, record_id))])
        log.info("refused action planned again from the record's current data", key=action.key)
    return [*(a for a in actions if _record_of(a) not in dropped), *replay]


def overridden(store: Store, mapping: str, link_id: int, records: Iterable[Ref]) -> list[JournalEntry]:
    """The refused rows ``bridge resync`` overrides: every refused action of the link or of its records."""
    ids = {r.id for r in records}
    return [
        e
        for e in _refused(store, mapping)
        if e.link_id == link_id or (e.link_id is None and _record_of(e.action) in ids)
    ]


__all__ = [
    "REPLAYED",
    "Release",
    "Requeued",
    "overridden",
    "refusal_slot",
    "release_changed",
    "settle_unlinked",
    "take_requeued",
]
