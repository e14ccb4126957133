"""The journal: every action before (pending) and after (done/failed) its remote write, and
:meth:`JournalRepository.apply`, which marks one done together with its store effects.

The journal keeps an action as opaque data (its JSON text, kind, key and mapping): the store never
switches on action types. What an action changed arrives as :mod:`bridge.core.effects`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bridge.core.actions import Action, from_json, to_json
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
from bridge.errors import StoreError
from bridge.model import Link, Ref, Side
from bridge.store.entries import DONE, FAILED, PENDING, SUPERSEDED, ErrorEntry, JournalEntry
from bridge.store.repositories.attachments import AttachmentRepository
from bridge.store.repositories.base import inserted_id as _inserted_id
from bridge.store.repositories.base import now as _now
from bridge.store.repositories.errors import ErrorListRepository
from bridge.store.repositories.synced import SyncedRepository
from bridge.store.tables import errors, journal, link_records, links


@dataclass(frozen=True, slots=True)
class Applied:
    """Where :meth:`JournalRepository.apply_effects` wrote: the current link's id after the effects, and
    the link itself when the effects made it (``None`` otherwise)."""

    link_id: int | None
    made: Link | None


class JournalRepository(SyncedRepository, ErrorListRepository, AttachmentRepository):
    """The journal of actions, and the one transaction that records what a succeeded action changed."""

    @staticmethod
    def _entry(row: Any) -> JournalEntry:
        return JournalEntry(
            id=row.id,
            mapping=row.mapping,
            key=row.idempotency_key,
            kind=row.kind,
            link_id=row.link_id,
            action=from_json(row.action),
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            remote_id=row.remote_id,
            created=row.created,
            updated=row.updated,
        )

    def journal_entry(self, key: str) -> JournalEntry | None:
        """The journal row of an idempotency key, if the action was ever journaled."""
        with self._conn() as c:
            row = c.execute(select(journal).where(journal.c.idempotency_key == key)).first()
        return self._entry(row) if row is not None else None

    def journal_get(self, journal_id: int) -> JournalEntry | None:
        with self._conn() as c:
            row = c.execute(select(journal).where(journal.c.id == journal_id)).first()
        return self._entry(row) if row is not None else None

    def journal_begin(self, action: Action, *, supersede_done: bool = False) -> JournalEntry:
        """Journal ``action`` as pending before its remote write; return the existing row if already there.

        With ``supersede_done``, a *done* row of the same key is kept in the audit trail under an
        archived key (``<key>#<id>``) and a new pending row is made: for actions that set a state
        (fields, status, back-reference) the same values may legitimately be wanted again after they
        changed in between (A → B → A → B), and skipping the second B would lose it.
        """
        return self.journal_start([(action, supersede_done)])[0][0]

    def journal_start(self, actions: Sequence[tuple[Action, bool]]) -> list[tuple[JournalEntry, bool]]:
        """Journal each ``(action, supersede_done)`` as :meth:`journal_begin` does, in one transaction, with
        the leadership fence read once: ``(entry, True)`` for a row made now, ``(existing row, False)``
        when the key was journaled already (the caller settles it by its state).

        The usual case, a new key, costs one ``INSERT … ON CONFLICT DO NOTHING … RETURNING`` and no read
        (before: a read of the key, then the insert). A caller journals a plan in chunks of these, so the
        pending rows of a chunk are durable before any of its writes and the first write does not wait for
        a whole backlog to be journaled.
        """
        started: list[tuple[JournalEntry, bool]] = []
        if not actions:
            return started
        now = _now()
        with self.transaction(), self._conn() as c:
            fenced: set[str] = set()
            for action, supersede_done in actions:
                if action.mapping not in fenced:
                    self._fence(c, action.mapping)
                    fenced.add(action.mapping)
                journal_id = _insert_new_journal(c, action, now)
                if journal_id is None:
                    row = c.execute(select(journal).where(journal.c.idempotency_key == action.key)).one()
                    if not (supersede_done and row.state == DONE):
                        started.append((self._entry(row), False))
                        continue
                    c.execute(
                        update(journal)
                        .where(journal.c.id == row.id)
                        .values(idempotency_key=f"{row.idempotency_key}#{row.id}")
                    )
                    journal_id = _insert_journal(c, action, PENDING, now)
                # the new row is what was just written: no statement to read it back
                started.append((JournalEntry(
                    id=journal_id, mapping=action.mapping, key=action.key, kind=action.kind,
                    link_id=action.link_id, action=from_json(to_json(action)), state=PENDING, attempts=0,
                    next_attempt_at=None, last_error=None, remote_id=None, created=now, updated=now,
                ), True))
        return started

    def _fence(self, c: Connection, mapping: str) -> None:
        """Raise when this process no longer leads ``mapping`` (the store's fencing token, see
        :mod:`bridge.store.locks`); checked in the transaction that journals an action."""

    def journal_replace_action(self, journal_id: int, action: Action) -> None:
        """Store the resolved form of a pending action (a follow-up whose issue now exists)."""
        with self._conn() as c:
            c.execute(
                update(journal)
                .where(journal.c.id == journal_id)
                .values(action=to_json(action), link_id=action.link_id, updated=_now())
            )

    def journal_archive(self, journal_ids: Sequence[int]) -> None:
        """Take refused or re-queued rows out of play: state ``superseded``, key ``<key>#<id>``.

        Their effect is planned again from current data (:mod:`bridge.sync.refusals`); the rows stay as
        the audit trail, and their error entries stay open until a later action of the same slot succeeds.
        Only pending and failed rows are touched: a done row is never rewritten here.
        """
        with self._conn() as c:
            for journal_id in journal_ids:
                c.execute(
                    update(journal)
                    .where(journal.c.id == journal_id, journal.c.state.in_((PENDING, FAILED)))
                    .values(
                        idempotency_key=journal.c.idempotency_key + f"#{journal_id}",
                        state=SUPERSEDED,
                        next_attempt_at=None,
                        updated=_now(),
                    )
                )

    def journal_retry_later(self, journal_id: int, error: str, next_attempt_at: datetime) -> None:
        """A transient failure: the action stays pending, one attempt more, not before ``next_attempt_at``."""
        with self._conn() as c:
            c.execute(
                update(journal)
                .where(journal.c.id == journal_id)
                .values(
                    attempts=journal.c.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                    updated=_now(),
                )
            )

    def journal_fail(
        self,
        journal_id: int,
        error: str,
        *,
        kind: str = "action_failed",
        item_ref: str | None = None,
        slot: str | None = None,
    ) -> ErrorEntry:
        """A permanent failure: the action is failed and goes on the error list.

        ``slot`` (opaque here: :func:`bridge.sync.refusals.refusal_slot`) names the entry, so refusals of
        the same effect on the same target count on one entry; without it, the row's key does.
        """
        with self._conn() as c:
            row = c.execute(select(journal).where(journal.c.id == journal_id)).one()
            c.execute(
                update(journal)
                .where(journal.c.id == journal_id)
                .values(state=FAILED, attempts=journal.c.attempts + 1, last_error=error, updated=_now())
            )
            return self._report(
                c,
                row.mapping,
                f"journal:{slot or row.idempotency_key}",
                kind,
                error,
                item_ref=item_ref,
                link_id=row.link_id,
                journal_id=journal_id,
            )

    def journal_report(self, action: Action, message: str, *, kind: str, item_ref: str | None = None) -> ErrorEntry:
        """Journal an action that writes nowhere (a reported conflict) straight onto the error list."""
        now = _now()
        with self._conn() as c:
            row = c.execute(select(journal).where(journal.c.idempotency_key == action.key)).first()
            if row is None:
                journal_id = _insert_journal(c, action, FAILED, now, last_error=message)
            else:
                journal_id = row.id
                c.execute(update(journal).where(journal.c.id == row.id).values(state=FAILED, last_error=message))
            return self._report(
                c,
                action.mapping,
                f"journal:{action.key}",
                kind,
                message,
                item_ref=item_ref,
                link_id=action.link_id,
                journal_id=int(journal_id),
            )

    def pending_entries(self, mapping: str, *, due_before: datetime | None = None) -> list[JournalEntry]:
        """Pending actions of a mapping, oldest first; with ``due_before``, only those due by then."""
        query = select(journal).where(journal.c.mapping == mapping, journal.c.state == PENDING)
        if due_before is not None:
            query = query.where(or_(journal.c.next_attempt_at.is_(None), journal.c.next_attempt_at <= due_before))
        with self._conn() as c:
            return [self._entry(r) for r in c.execute(query.order_by(journal.c.id))]

    def unfinished_entries(self, mapping: str) -> list[JournalEntry]:
        """Actions of a mapping still pending or on the error list, oldest first."""
        query = select(journal).where(journal.c.mapping == mapping, journal.c.state.in_((PENDING, FAILED)))
        with self._conn() as c:
            return [self._entry(r) for r in c.execute(query.order_by(journal.c.id))]

    def pending_keys(self, mapping: str) -> frozenset[str]:
        """Keys of actions still pending or on the error list: the planner does not plan them again."""
        with self._conn() as c:
            return frozenset(
                c.execute(
                    select(journal.c.idempotency_key).where(
                        journal.c.mapping == mapping, journal.c.state.in_((PENDING, FAILED))
                    )
                ).scalars()
            )

    def journal_for_link(self, link_id: int) -> list[JournalEntry]:
        """The audit trail of one link, oldest first."""
        with self._conn() as c:
            rows = c.execute(select(journal).where(journal.c.link_id == link_id).order_by(journal.c.id)).all()
        return [self._entry(r) for r in rows]

    def journal_counts(self, mapping: str | None = None) -> dict[str, int]:
        query = select(journal.c.state, func.count()).group_by(journal.c.state)
        if mapping is not None:
            query = query.where(journal.c.mapping == mapping)
        with self._conn() as c:
            return {state: int(n) for state, n in c.execute(query)}

    def apply(self, journal_id: int, effects: Sequence[Effect]) -> Link | None:
        """Write the effects of a succeeded action and mark its journal row done, in ONE transaction.

        Any failure rolls all of it back: the row stays pending and is reconciled next time. Returns
        the current link after the effects (the link the action touched), if any: a link this call made
        as written, any other read back (two statements).
        """
        applied = self.apply_effects(journal_id, effects)
        if applied.made is not None or applied.link_id is None:
            return applied.made
        with self._conn() as c:
            return self._links_by_ids(c, [applied.link_id]).get(applied.link_id)

    def apply_effects(self, journal_id: int, effects: Sequence[Effect]) -> Applied:
        """:meth:`apply` without reading the link back: which link the effects went to, and the link
        when this call made it (the executor keeps it for the create's follow-ups)."""
        with self.transaction(), self._conn() as c:
            link_id: int | None = None
            made: Link | None = None  # a link this call created: returned without reading it back
            for effect in effects:
                if isinstance(effect, NewLink):
                    link_id, made = self._new_link(c, effect)
                elif isinstance(effect, InLink):
                    link_id = effect.link_id
                    for ref in effect.items if link_id is None else ():
                        link_id = self._link_of_item(c, effect.mapping, ref.side, ref.id)
                        if link_id is not None:
                            break
                elif isinstance(effect, MergeSynced):
                    if link_id is not None:
                        for synced in effect.updates:
                            self._merge_state(c, link_id, synced.side, synced.item_id, synced.fields, synced.status)
                elif isinstance(effect, AddCommentPair):
                    if link_id is not None:
                        self._insert_pair(c, link_id, effect.pair)
                elif isinstance(effect, AddAttachmentPair):
                    if link_id is not None:
                        self._insert_attachment_pair(c, link_id, effect.pair)
                elif isinstance(effect, MarkDone):
                    c.execute(
                        update(journal)
                        .where(journal.c.id == journal_id)
                        .values(
                            state=DONE,
                            attempts=journal.c.attempts + 1,
                            remote_id=effect.remote_id,
                            link_id=link_id,
                            last_error=None,
                            next_attempt_at=None,
                            action=effect.payload,
                            updated=_now(),
                        )
                    )
                elif isinstance(effect, ResolveErrors):
                    same = errors.c.journal_id == journal_id
                    if effect.slot is not None:
                        same = or_(same, errors.c.fingerprint == f"journal:{effect.slot}")
                    c.execute(
                        update(errors).where(same, errors.c.resolved.is_(False)).values(resolved=True, last_seen=_now())
                    )
                elif isinstance(effect, MarkClosed):
                    if link_id is not None:
                        self._close(c, link_id, effect.reason, effect.when or _now(), effect.record_id)
                elif isinstance(effect, MoveRecord):
                    if link_id is not None:
                        self._move_record(c, link_id, effect.old_id, effect.new)
                elif isinstance(effect, ForgetLink):
                    if link_id is not None:
                        self._forget_link(c, link_id)
                        c.execute(update(journal).where(journal.c.link_id == link_id).values(link_id=None))
                        link_id = None
                    for key in effect.release_keys:
                        c.execute(
                            update(journal)
                            .where(journal.c.idempotency_key == key, journal.c.id != journal_id)
                            .values(idempotency_key=journal.c.idempotency_key + f"#released@{journal_id}")
                        )
                else:  # pragma: no cover - the Effect union is closed
                    raise StoreError(f"unknown store effect {type(effect).__name__}")
            if made is not None and made.id == link_id and not any(
                isinstance(e, MarkClosed | MoveRecord | ForgetLink) for e in effects
            ):
                return Applied(link_id, made)
            return Applied(link_id, None)

    def _new_link(self, c: Connection, effect: NewLink) -> tuple[int, Link | None]:
        """The link of ``effect.issue`` (made, with the issue's synced values, when there is none) with
        ``effect.record`` in it and the record's synced values; with the new link when one was made."""
        issue = effect.issue
        created = _now()
        # the usual case is a new issue and a new record: two inserts that skip on their unique keys
        # (SQLite 3.24+ and PostgreSQL), each existing row read only when the insert skipped
        made_id = _insert_or_skip(
            c, links, {"mapping": effect.mapping, "issue_id": issue.id, "issue_key": issue.key,
                       "issue_url": issue.url, "created": created}, ["mapping", "issue_id"], returning=links.c.id,
        )
        if made_id is None:
            link_id = int(c.execute(
                select(links.c.id).where(links.c.mapping == effect.mapping, links.c.issue_id == issue.id)
            ).scalar_one())
        else:
            link_id = made_id
            self._merge_state(
                c,
                link_id,
                Side.JIRA,
                issue.id,
                effect.issue_fields,
                effect.issue_status,
                version=effect.issue_version,
                updated=effect.issue_updated,
                fresh=True,
            )
        record = effect.record
        joined = _insert_or_skip(
            c, link_records, {"link_id": link_id, "mapping": effect.mapping, "side": record.side.value,
                              "kind": record.kind, "record_id": record.id, "record_key": record.key,
                              "record_url": record.url}, ["mapping", "record_id"], returning=link_records.c.id,
        )
        new = made_id is not None and joined is not None
        # a new link's items have no synced values yet: written without a read first
        self._merge_state(c, link_id, record.side, record.id, effect.record_fields, effect.record_status, fresh=new)
        if not new:
            return link_id, None
        made = Link(link_id, effect.mapping, Ref(Side.JIRA, "issue", issue.id, issue.key, issue.url),
                    (Ref(record.side, record.kind, record.id, record.key, record.url),), created, None, None)
        return link_id, made


def _journal_values(action: Action, state: str, now: datetime, last_error: str | None = None) -> dict[str, Any]:
    return {
        "mapping": action.mapping,
        "idempotency_key": action.key,
        "kind": action.kind,
        "link_id": action.link_id,
        "action": to_json(action),
        "state": state,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": last_error,
        "created": now,
        "updated": now,
    }


def _insert_or_skip(
    c: Connection, table: Any, values: dict[str, Any], unique: list[str], *, returning: Any
) -> int | None:
    """Insert ``values`` unless a row with the same ``unique`` columns exists: the new row's id, or
    ``None`` (nothing written). One statement on SQLite and PostgreSQL."""
    if c.dialect.name in ("sqlite", "postgresql"):
        dialect_insert = sqlite_insert if c.dialect.name == "sqlite" else pg_insert
        made = c.execute(
            dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=unique).returning(returning)
        ).scalar()
        return int(made) if made is not None else None
    if c.execute(  # pragma: no cover - the store supports SQLite and PostgreSQL only
        select(returning).where(*(table.c[name] == values[name] for name in unique))
    ).first() is not None:
        return None
    return _inserted_id(c.execute(insert(table).values(**values)))  # pragma: no cover


def _insert_new_journal(c: Connection, action: Action, now: datetime) -> int | None:
    """A new pending row for ``action``'s key, or ``None`` (nothing written) when the key is journaled."""
    values = _journal_values(action, PENDING, now)
    if c.dialect.name in ("sqlite", "postgresql"):
        dialect_insert = sqlite_insert if c.dialect.name == "sqlite" else pg_insert
        statement = (
            dialect_insert(journal).values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(journal.c.id)
        )
        made = c.execute(statement).scalar()
        return int(made) if made is not None else None
    if c.execute(select(journal.c.id).where(journal.c.idempotency_key == action.key)).first() is not None:
        return None  # pragma: no cover - the store supports SQLite and PostgreSQL only
    return _insert_journal(c, action, PENDING, now)  # pragma: no cover


def _insert_journal(c: Connection, action: Action, state: str, now: datetime, *, last_error: str | None = None) -> int:
    """A new journal row for ``action`` in ``state``; returns its id."""
    return _inserted_id(c.execute(insert(journal).values(**_journal_values(action, state, now, last_error))))
