"""When bridge first saw each mapping: the line its first cycle draws under closed history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from bridge.store.repositories.base import Database
from bridge.store.tables import mapping_first_seen


class FirstSeenRepository(Database):
    """Per mapping: the first-seen time, written once and never moved (see :mod:`bridge.sync.first_start`)."""

    def first_seen(self, mapping: str) -> datetime | None:
        with self._conn() as c:
            return c.execute(
                select(mapping_first_seen.c.first_seen).where(mapping_first_seen.c.mapping == mapping)
            ).scalar()

    def see_mapping(self, mapping: str, at: datetime) -> datetime:
        """The mapping's first-seen time, ``at`` when it had none (then stored)."""
        with self.transaction(), self._conn() as c:
            known = c.execute(
                select(mapping_first_seen.c.first_seen).where(mapping_first_seen.c.mapping == mapping)
            ).scalar()
            if known is not None:
                return known
            c.execute(insert(mapping_first_seen).values(mapping=mapping, first_seen=at))
            return at
