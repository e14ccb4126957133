"""Who a person is on the other side, as last looked up (the cache of :mod:`bridge.users.resolve`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select

from bridge.store.repositories.base import Database
from bridge.store.tables import user_map


class UsersRepository(Database):
    """Per mapping, direction and handle: the answer found (or ``None``) and when; replaced on each lookup."""

    def cached_user(self, mapping: str, direction: str, handle: str, not_before: datetime) -> tuple[str | None] | None:
        """``(answer,)`` when looked up at or after ``not_before``, else ``None`` (never asked, or stale)."""
        with self._conn() as c:
            row = c.execute(
                select(user_map.c.answer, user_map.c.resolved_at).where(
                    user_map.c.mapping == mapping,
                    user_map.c.direction == direction,
                    user_map.c.handle == handle[:255],
                )
            ).first()
        if row is None or row.resolved_at < not_before:
            return None
        return (row.answer,)

    def cache_user(self, mapping: str, direction: str, handle: str, answer: str | None, at: datetime) -> None:
        with self.transaction(), self._conn() as c:
            key = (user_map.c.mapping == mapping, user_map.c.direction == direction, user_map.c.handle == handle[:255])
            c.execute(delete(user_map).where(*key))
            c.execute(insert(user_map).values(mapping=mapping, direction=direction, handle=handle[:255],
                                              answer=answer[:255] if answer else None, resolved_at=at))
