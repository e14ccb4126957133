"""Copied files per link (``attachment_map``): what keeps each file copied exactly once."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bridge.core.attachments import AttachmentPair
from bridge.model import Side
from bridge.store.repositories.base import Database
from bridge.store.repositories.base import now as _now
from bridge.store.tables import attachment_map


class AttachmentRepository(Database):
    """The attachment pairs of each link; written only through :meth:`Store.apply` (``AddAttachmentPair``)."""

    def attachment_pairs(self, link_id: int) -> list[AttachmentPair]:
        """Every file pair of the link, oldest first."""
        with self._conn() as c:
            rows = c.execute(
                select(attachment_map).where(attachment_map.c.link_id == link_id).order_by(attachment_map.c.id)
            ).all()
        return [
            AttachmentPair(Side(r.origin_side), r.origin_id, r.origin_item, r.mirror_item, r.mirror_id, r.sha256,
                           r.filename, r.size)
            for r in rows
        ]

    @staticmethod
    def _insert_attachment_pair(c: Connection, link_id: int, pair: AttachmentPair) -> None:
        exists = c.execute(
            select(attachment_map.c.id).where(
                attachment_map.c.origin_side == pair.origin_side.value,
                attachment_map.c.origin_id == pair.origin_id,
                attachment_map.c.mirror_item == pair.mirror_item,
            )
        ).first()
        if exists is None:
            c.execute(
                insert(attachment_map).values(
                    link_id=link_id,
                    origin_side=pair.origin_side.value,
                    origin_id=pair.origin_id,
                    origin_item=pair.origin_item,
                    mirror_item=pair.mirror_item,
                    mirror_id=pair.mirror_id,
                    sha256=pair.sha256,
                    filename=pair.filename,
                    size=pair.size,
                    created=_now(),
                )
            )
