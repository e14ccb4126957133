"""The error list: failed actions, reported conflicts and planning problems, counted and retryable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bridge.errors import StoreError
from bridge.store.entries import FAILED, PENDING, ErrorEntry
from bridge.store.repositories.base import Database
from bridge.store.repositories.base import chunks as _chunks
from bridge.store.repositories.base import now as _now
from bridge.store.tables import errors, journal


class ErrorListRepository(Database):
    """One entry per fingerprint; a problem seen again is counted again (and un-resolved)."""


    def report_problem(
        self,
        mapping: str,
        fingerprint: str,
        kind: str,
        message: str,
        *,
        item_ref: str | None = None,
        link_id: int | None = None,
    ) -> ErrorEntry:
        """Put a non-action problem on the error list, or count it again (un-resolving it) if it is there."""
        with self._conn() as c:
            return self._report(c, mapping, fingerprint, kind, message, item_ref=item_ref, link_id=link_id)

    def _report(
        self,
        c: Connection,
        mapping: str,
        fingerprint: str,
        kind: str,
        message: str,
        *,
        item_ref: str | None,
        link_id: int | None,
        journal_id: int | None = None,
    ) -> ErrorEntry:
        now = _now()
        row = c.execute(select(errors).where(errors.c.fingerprint == fingerprint)).first()
        if row is None:
            c.execute(
                insert(errors).values(
                    mapping=mapping,
                    fingerprint=fingerprint,
                    item_ref=item_ref,
                    link_id=link_id,
                    kind=kind,
                    message=message,
                    journal_id=journal_id,
                    first_seen=now,
                    last_seen=now,
                    count=1,
                    resolved=False,
                )
            )
        else:
            c.execute(
                update(errors)
                .where(errors.c.id == row.id)
                .values(
                    message=message,
                    kind=kind,
                    last_seen=now,
                    count=errors.c.count + 1,
                    resolved=False,
                    journal_id=journal_id if journal_id is not None else row.journal_id,
                    link_id=link_id if link_id is not None else row.link_id,
                    item_ref=item_ref or row.item_ref,
                )
            )
        return self._error(c.execute(select(errors).where(errors.c.fingerprint == fingerprint)).one())

    @staticmethod
    def _error(row: Any) -> ErrorEntry:
        return ErrorEntry(
            id=row.id,
            mapping=row.mapping,
            kind=row.kind,
            message=row.message,
            item_ref=row.item_ref,
            link_id=row.link_id,
            journal_id=row.journal_id,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            count=row.count,
            resolved=bool(row.resolved),
        )

    def errors(self, mapping: str | None = None, *, include_resolved: bool = False) -> list[ErrorEntry]:
        """The error list, oldest first."""
        query = select(errors).order_by(errors.c.id)
        if mapping is not None:
            query = query.where(errors.c.mapping == mapping)
        if not include_resolved:
            query = query.where(errors.c.resolved.is_(False))
        with self._conn() as c:
            return [self._error(r) for r in c.execute(query)]

    def error(self, error_id: int) -> ErrorEntry | None:
        with self._conn() as c:
            row = c.execute(select(errors).where(errors.c.id == error_id)).first()
        return self._error(row) if row is not None else None

    def open_action_errors(self, mapping: str) -> tuple[set[int], set[str]]:
        """The journal ids and fingerprints of ``mapping``'s open entries about actions: an action that
        succeeds resolves the entries of its journal row or its slot, and the executor skips that update
        (one statement per action) when none is open (:mod:`bridge.sync.executor_known`)."""
        query = select(errors.c.journal_id, errors.c.fingerprint).where(
            errors.c.mapping == mapping,
            errors.c.resolved.is_(False),
            or_(errors.c.journal_id.is_not(None), errors.c.fingerprint.startswith("journal:", autoescape=True)),
        )
        journal_ids: set[int] = set()
        fingerprints: set[str] = set()
        with self._conn() as c:
            for row in c.execute(query):
                if row.journal_id is not None:
                    journal_ids.add(int(row.journal_id))
                fingerprints.add(row.fingerprint)
        return journal_ids, fingerprints

    def open_error_count(self, mapping: str | None = None) -> int:
        query = select(func.count()).select_from(errors).where(errors.c.resolved.is_(False))
        if mapping is not None:
            query = query.where(errors.c.mapping == mapping)
        with self._conn() as c:
            return int(c.execute(query).scalar_one())

    def resolve_problems(self, mapping: str, fingerprints: Iterable[str]) -> None:
        """Mark non-action problems as resolved (they were not seen again where they were expected)."""
        keys = list(fingerprints)
        with self._conn() as c:
            for chunk in _chunks(keys):
                c.execute(
                    update(errors)
                    .where(errors.c.mapping == mapping, errors.c.fingerprint.in_(chunk), errors.c.journal_id.is_(None))
                    .values(resolved=True)
                )

    def retry_error(self, error_id: int) -> ErrorEntry:
        """Re-queue one entry of the error list.

        A failed action goes back to pending (attempts reset, due now): the next cycle reconciles it
        first. A reported conflict's journal row is removed so the planner looks at the field afresh.
        A non-action problem is resolved; if its cause is still there the next cycle reports it again.
        """
        with self.transaction(), self._conn() as c:
            row = c.execute(select(errors).where(errors.c.id == error_id)).first()
            if row is None:
                raise StoreError(f"no entry {error_id} on the error list")
            if row.journal_id is not None:
                entry = c.execute(select(journal).where(journal.c.id == row.journal_id)).first()
                if entry is not None and entry.state == FAILED:
                    if entry.kind == "report_conflict":
                        c.execute(update(errors).where(errors.c.id == error_id).values(journal_id=None))
                        c.execute(delete(journal).where(journal.c.id == entry.id))
                    else:
                        c.execute(
                            update(journal)
                            .where(journal.c.id == entry.id)
                            .values(state=PENDING, attempts=0, next_attempt_at=None, updated=_now())
                        )
            c.execute(update(errors).where(errors.c.id == error_id).values(resolved=True))
            return self._error(c.execute(select(errors).where(errors.c.id == error_id)).one())

    def retry_all(self, mapping: str | None = None) -> list[ErrorEntry]:
        return [self.retry_error(e.id) for e in self.errors(mapping)]

