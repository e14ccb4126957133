"""Housekeeping: vendor facts cached with a time-to-live, and the journal's retention.

The journal is the audit trail, but a done action of a link that no longer syncs (closed, or forgotten)
is never read again: kept forever it grows by about 1 KB per action. :meth:`prune_journal` deletes
those rows once older than the retention (``state.journal_retention_days``); every row of an open link
stays, so ``bridge explain`` keeps a link's whole history while it syncs. :meth:`record_cycle` runs the
pruning at most once a day, whether cycles come from the daemon or from one-shot runs: the time of the
last pruning is kept in ``key_values``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from bridge.logging import get_logger
from bridge.store.entries import DONE, SUPERSEDED
from bridge.store.repositories.base import now as _now
from bridge.store.repositories.cursors import CursorRepository
from bridge.store.tables import journal, key_values, links

log = get_logger(__name__)

#: how often the pruning step runs at most
PRUNE_EVERY = timedelta(days=1)
PRUNED_AT = "housekeeping:journal_pruned_at"


class HousekeepingRepository(CursorRepository):
    """Cached values with an expiry; the journal's pruning, run from the end of a cycle when due."""

    def cached(self, key: str, at: datetime | None = None) -> Any | None:
        """The value stored under ``key``, ``None`` when there is none or it expired."""
        at = at or _now()
        with self._conn() as c:
            row = c.execute(select(key_values.c.value, key_values.c.expires).where(key_values.c.key == key)).first()
        if row is None or (row.expires is not None and row.expires <= at):
            return None
        return row.value

    def cache(self, key: str, value: Any, ttl: timedelta | None, at: datetime | None = None) -> None:
        """Store ``value`` (JSON) under ``key`` until ``ttl`` from now (``None``: no expiry)."""
        at = at or _now()
        values = {"value": value, "updated": at, "expires": at + ttl if ttl is not None else None}
        with self._conn() as c:
            done = c.execute(update(key_values).where(key_values.c.key == key).values(**values))
            if not done.rowcount:
                c.execute(insert(key_values).values(key=key, **values))

    def prune_journal(self, retention: timedelta, at: datetime | None = None) -> int:
        """Delete the done and superseded journal rows older than ``retention`` that belong to no open
        link; returns how many. Pending and failed rows (the error list) always stay."""
        cutoff = (at or _now()) - retention
        open_links = select(links.c.id).where(links.c.closed.is_(None))
        with self._conn() as c:
            result = c.execute(
                delete(journal).where(
                    journal.c.state.in_((DONE, SUPERSEDED)),
                    journal.c.updated < cutoff,
                    or_(journal.c.link_id.is_(None), journal.c.link_id.not_in(open_links)),
                )
            )
        return int(result.rowcount or 0)

    def prune_if_due(self, retention: timedelta, at: datetime | None = None) -> int | None:
        """:meth:`prune_journal` when it did not run in the last day; ``None`` when not due."""
        at = at or _now()
        with self.transaction():
            last = self.cached(PRUNED_AT, at)
            if last is not None and datetime.fromisoformat(str(last)) + PRUNE_EVERY > at:
                return None
            pruned = self.prune_journal(retention, at)
            self.cache(PRUNED_AT, at.isoformat(), None, at)
        if pruned:
            log.info("journal pruned", rows=pruned, retention_days=retention.days)
        return pruned

    def record_cycle(
        self, mapping: str, ok: bool, at: datetime | None = None, *, retention: timedelta | None = None
    ) -> None:
        """As :meth:`CursorRepository.record_cycle`; with ``retention``, then prune the journal when due."""
        super().record_cycle(mapping, ok, at)
        if retention is not None:
            self.prune_if_due(retention)
