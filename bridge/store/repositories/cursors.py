"""Cursors (how far each side's changes were read) and each mapping's last cycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update

from bridge.model import Side
from bridge.store.entries import MappingStatus
from bridge.store.repositories.base import Database
from bridge.store.repositories.base import now as _now
from bridge.store.tables import cursors, mapping_status


class CursorRepository(Database):
    """Per mapping and side: the cursor; per mapping: when its last cycle ended and how."""


    def get_cursor(self, mapping: str, side: Side) -> datetime | None:
        with self._conn() as c:
            return c.execute(
                select(cursors.c.value).where(cursors.c.mapping == mapping, cursors.c.side == side.value)
            ).scalar()

    def set_cursor(self, mapping: str, side: Side, value: datetime) -> None:
        with self._conn() as c:
            key = and_(cursors.c.mapping == mapping, cursors.c.side == side.value)
            if c.execute(select(cursors.c.value).where(key)).first() is None:
                c.execute(insert(cursors).values(mapping=mapping, side=side.value, value=value, updated=_now()))
            else:
                c.execute(update(cursors).where(key).values(value=value, updated=_now()))

    # ------------------------------------------------------------------------------ mapping status

    def record_cycle(self, mapping: str, ok: bool, at: datetime | None = None) -> None:
        """Remember that a cycle of ``mapping`` ended at ``at`` (default now); ``ok``: it finished."""
        at = at or _now()
        values: dict[str, Any] = {"last_cycle": at, "last_ok": ok}
        if ok:
            values["last_success"] = at
        with self._conn() as c:
            key = mapping_status.c.mapping == mapping
            if c.execute(select(mapping_status.c.mapping).where(key)).first() is None:
                c.execute(insert(mapping_status).values(mapping=mapping, **values))
            else:
                c.execute(update(mapping_status).where(key).values(**values))

    def mapping_statuses(self) -> dict[str, MappingStatus]:
        """Every mapping's last cycle and last success, by mapping name."""
        with self._conn() as c:
            return {
                r.mapping: MappingStatus(r.mapping, r.last_cycle, r.last_ok, r.last_success)
                for r in c.execute(select(mapping_status).order_by(mapping_status.c.mapping))
            }

