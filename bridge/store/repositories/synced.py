"""Synced values (what each item of a link had at the last sync) and mirrored comment pairs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, and_, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bridge.core.actions import SyncedUpdate
from bridge.core.state import CommentPair
from bridge.model import FieldValue, Side
from bridge.store.repositories.base import json_fields as _json_fields
from bridge.store.repositories.base import now as _now
from bridge.store.repositories.links import LinkRepository
from bridge.store.tables import comment_map, item_state


def _merged_fields(c: Connection, values: Mapping[str, FieldValue]) -> Any:
    """A SQL expression of the row's ``fields`` with ``values`` merged over them (top-level keys replaced,
    the others kept, as ``{**stored, **values}``): SQLite's ``json_set`` (https://www.sqlite.org/json1.html)
    or PostgreSQL's ``jsonb ||`` (https://www.postgresql.org/docs/current/functions-json.html). ``None``
    when a key cannot be named in a SQLite JSON path (a double quote or backslash in it)."""
    encoded = _json_fields(values)
    if c.dialect.name == "postgresql":
        patch = bindparam(None, encoded, type_=JSONB)
        return cast(cast(item_state.c.fields, JSONB).op("||", return_type=JSONB)(patch), JSON)
    if c.dialect.name != "sqlite" or any('"' in k or "\\" in k for k in encoded):
        return None
    arguments: list[Any] = []
    for name, value in encoded.items():
        arguments += [f'$."{name}"', func.json(json.dumps(value))]
    return func.json_set(item_state.c.fields, *arguments)


class SyncedRepository(LinkRepository):
    """Synced values per item of a link, and the comment pairs already mirrored across it."""


    def synced_marks(self, link_id: int, side: Side, item_id: str) -> tuple[str | None, str] | None:
        """``(status, version)`` last synced of one item of a link, in one statement: what the executor
        needs of a link it was not handed (the whole :meth:`link_state` is four)."""
        key = and_(item_state.c.link_id == link_id, item_state.c.side == side.value, item_state.c.item_id == item_id)
        with self._conn() as c:
            row = c.execute(select(item_state.c.status, item_state.c.version).where(key)).first()
        return (row.status, row.version or "") if row is not None else None

    def record_synced(self, link_id: int, update: SyncedUpdate) -> None:
        """Merge ``update`` over the stored synced values of one item of a link."""
        with self._conn() as c:
            self._merge_state(c, link_id, update.side, update.item_id, update.fields, update.status)

    @staticmethod
    def _merge_state(
        c: Connection,
        link_id: int,
        side: Side,
        item_id: str,
        values: Mapping[str, FieldValue],
        status: str | None,
        *,
        version: str | None = None,
        updated: datetime | None = None,
        fresh: bool = False,
    ) -> None:
        """Merge over the item's synced values; ``fresh``: the item has none yet (a link just made).

        The usual case, an item with synced values, is one ``UPDATE`` that merges the new values into the
        stored ones in the database (:func:`_merged_fields`), no read first; the row is inserted when the
        update found none.
        """
        key = and_(item_state.c.link_id == link_id, item_state.c.side == side.value, item_state.c.item_id == item_id)
        if not fresh:
            changes: dict[str, Any] = {}
            if values:
                merged = _merged_fields(c, values)
                if merged is None:  # a key the SQL merge cannot name: merged here, after a read
                    row = c.execute(select(item_state.c.fields).where(key)).first()
                    merged = {**dict(row.fields or {}), **_json_fields(values)} if row is not None else None
                if merged is not None:
                    changes["fields"] = merged
            if status is not None:
                changes["status"] = status
            if version is not None:
                changes["version"] = version
            if updated is not None:
                changes["updated"] = updated
            if changes and ("fields" in changes or not values):
                if c.execute(update(item_state).where(key).values(**changes)).rowcount:
                    return
            elif not changes and c.execute(select(item_state.c.link_id).where(key)).first() is not None:
                return
        c.execute(
            insert(item_state).values(
                link_id=link_id,
                side=side.value,
                item_id=item_id,
                fields=_json_fields(values),
                status=status,
                version=version or "",
                updated=updated,
            )
        )

    def acknowledge(self, mapping: str, updates: Iterable[SyncedUpdate]) -> int:
        """Store synced values that need no remote write (the planner's acknowledgements), in one
        transaction. Updates for items that belong to no link of ``mapping`` are ignored; returns how
        many were stored."""
        stored = 0
        with self.transaction(), self._conn() as c:
            for synced in updates:
                link_id = self._link_of_item(c, mapping, synced.side, synced.item_id)
                if link_id is not None:
                    self._merge_state(c, link_id, synced.side, synced.item_id, synced.fields, synced.status)
                    stored += 1
        return stored


    def mark_seen(self, link_id: int, side: Side, item_id: str, version: str, updated: datetime) -> None:
        """Remember that the change ``version`` of an item was fully processed (the cycle skips it next time)."""
        key = and_(item_state.c.link_id == link_id, item_state.c.side == side.value, item_state.c.item_id == item_id)
        with self._conn() as c:
            # one statement for the usual case (the item has synced values); the merge only when it has none
            if not c.execute(update(item_state).where(key).values(version=version, updated=updated)).rowcount:
                self._merge_state(c, link_id, side, item_id, {}, None, version=version, updated=updated)

    def forget_synced(self, link_id: int) -> None:
        """Drop the synced values of a link (``bridge resync``): the next plan compares both sides afresh.

        The comment pairs stay: they are facts about what exists on both sides, not synced values.
        """
        with self._conn() as c:
            c.execute(delete(item_state).where(item_state.c.link_id == link_id))

    def add_comment_pair(self, link_id: int, pair: CommentPair) -> None:
        with self._conn() as c:
            self._insert_pair(c, link_id, pair)

    @staticmethod
    def _insert_pair(c: Connection, link_id: int, pair: CommentPair) -> None:
        """Insert the pair unless the same (origin, mirror item) is known: one ``INSERT … ON CONFLICT DO
        NOTHING`` on the unique key (SQLite 3.24+ and PostgreSQL), no read first."""
        values = {
            "link_id": link_id,
            "origin_side": pair.origin_side.value,
            "origin_id": pair.origin_id,
            "origin_item": pair.origin_item,
            "mirror_item": pair.mirror_item,
            "mirror_id": pair.mirror_id,
            "created": _now(),
        }
        unique = ["origin_side", "origin_id", "mirror_item"]
        if c.dialect.name == "postgresql":
            c.execute(pg_insert(comment_map).values(**values).on_conflict_do_nothing(index_elements=unique))
        elif c.dialect.name == "sqlite":
            c.execute(sqlite_insert(comment_map).values(**values).on_conflict_do_nothing(index_elements=unique))
        else:  # pragma: no cover - the store supports SQLite and PostgreSQL only
            exists = c.execute(
                select(comment_map.c.id).where(*(comment_map.c[name] == values[name] for name in unique))
            ).first()
            if exists is None:
                c.execute(insert(comment_map).values(**values))

