"""Links: which records are linked to which issue, per mapping, and the state the planner reads of them.

A link is *open* or *closed* (``links.closed``/``closed_reason``): closed when one of its items was
deleted or merged away. Closed links are kept (``bridge links`` shows them, with the reason) but never
handed to the planner again: :meth:`LinkRepository.load_link_states` returns open links only, and
:meth:`LinkRepository.closed_item_ids` tells the cycle which changed items belong to a closed link, so
their changes are dropped instead of being planned as new records.

One *record* of a link several records share can leave it alone (``link_records.closed``, migration
0006): deleted, merged away, or detached when it leaves its route (``links.on_route_exit: detach``).
The issue stays linked to the others. An open link's :attr:`~bridge.model.Link.records` are its open
records only (what the planner fans out to, what a linked count counts); a closed link keeps all of its
records, so ``bridge links`` still says what it linked. A closed record is in
:meth:`LinkRepository.closed_item_ids` like the items of a closed link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bridge.core.state import CommentPair, ItemState, LinkState
from bridge.model import Link, Ref, Side
from bridge.store.repositories.base import Database
from bridge.store.repositories.base import chunks as _chunks
from bridge.store.repositories.base import field_values as _field_values
from bridge.store.repositories.base import inserted_id as _inserted_id
from bridge.store.repositories.base import now as _now
from bridge.store.tables import comment_map, item_state, link_records, links


class LinkRepository(Database):
    """Links and their records; :meth:`load_link_states` adds the synced values and comment pairs."""

    def create_link(self, mapping: str, issue: Ref, records: Sequence[Ref], *, created: datetime | None = None) -> Link:
        """Store a new link of ``issue`` with ``records``."""
        created = created or _now()
        with self._conn() as c:
            link_id = _inserted_id(c.execute(
                insert(links).values(
                    mapping=mapping, issue_id=issue.id, issue_key=issue.key, issue_url=issue.url, created=created
                )
            ))
            for record in records:
                self._insert_record(c, int(link_id), mapping, record)
        return Link(int(link_id), mapping, issue, tuple(records), created)

    @staticmethod
    def _insert_record(c: Connection, link_id: int, mapping: str, record: Ref) -> None:
        c.execute(
            insert(link_records).values(
                link_id=link_id,
                mapping=mapping,
                side=record.side.value,
                kind=record.kind,
                record_id=record.id,
                record_key=record.key,
                record_url=record.url,
            )
        )

    def _links_by_ids(self, c: Connection, ids: Iterable[int]) -> dict[int, Link]:
        ids = sorted(set(ids))
        rows: list[Any] = []
        recs: dict[int, list[tuple[Ref, bool]]] = {}  # (record, closed)
        for chunk in _chunks(ids):  # type: ignore[arg-type]
            rows.extend(c.execute(select(links).where(links.c.id.in_(chunk))).all())
            for r in c.execute(
                select(link_records).where(link_records.c.link_id.in_(chunk)).order_by(link_records.c.id)
            ):
                recs.setdefault(r.link_id, []).append(
                    (Ref(Side(r.side), r.kind, r.record_id, r.record_key, r.record_url), r.closed is not None)
                )
        return {
            row.id: Link(
                row.id,
                row.mapping,
                Ref(Side.JIRA, "issue", row.issue_id, row.issue_key, row.issue_url),
                tuple(ref for ref, closed in recs.get(row.id, ()) if row.closed is not None or not closed),
                row.created,
                row.closed,
                row.closed_reason,
            )
            for row in rows
        }

    def links(self, mapping: str | None = None, *, limit: int | None = None, offset: int = 0) -> list[Link]:
        """Links, oldest first, optionally of one mapping (paged with ``limit``/``offset``)."""
        query = select(links.c.id).order_by(links.c.id).offset(offset)
        if mapping is not None:
            query = query.where(links.c.mapping == mapping)
        if limit is not None:
            query = query.limit(limit)
        with self._conn() as c:
            ids = list(c.execute(query).scalars())
            found = self._links_by_ids(c, ids)
        return [found[i] for i in ids]

    def link_count(self, mapping: str, *, open_only: bool = False) -> int:
        """How many links ``mapping`` has (``open_only``: not closed, i.e. still synced)."""
        query = select(func.count()).select_from(links).where(links.c.mapping == mapping)
        if open_only:
            query = query.where(links.c.closed.is_(None))
        with self._conn() as c:
            return int(c.execute(query).scalar_one())

    def link_for_record(self, mapping: str, record_id: str) -> Link | None:
        with self._conn() as c:
            link_id = c.execute(
                select(link_records.c.link_id).where(
                    link_records.c.mapping == mapping, link_records.c.record_id == record_id
                )
            ).scalar()
            return self._links_by_ids(c, [link_id]).get(link_id) if link_id is not None else None

    def link_for_issue(self, mapping: str, issue_id: str) -> Link | None:
        with self._conn() as c:
            link_id = c.execute(
                select(links.c.id).where(links.c.mapping == mapping, links.c.issue_id == issue_id)
            ).scalar()
            return self._links_by_ids(c, [link_id]).get(link_id) if link_id is not None else None

    def find_link(self, ref: str, mapping: str | None = None) -> Link | None:
        """The link named by ``ref``: a link id, an issue key or id, or a record key or id."""
        with self._conn() as c:
            candidates: list[int] = []
            if ref.isdigit():
                candidates += list(c.execute(select(links.c.id).where(links.c.id == int(ref))).scalars())
            issue_q = select(links.c.id).where(or_(links.c.issue_key == ref, links.c.issue_id == ref))
            record_q = select(link_records.c.link_id).where(
                or_(link_records.c.record_key == ref, link_records.c.record_id == ref)
            )
            if mapping is not None:
                issue_q = issue_q.where(links.c.mapping == mapping)
                record_q = record_q.where(link_records.c.mapping == mapping)
            candidates += list(c.execute(issue_q).scalars()) + list(c.execute(record_q).scalars())
            if not candidates:
                return None
            found = self._links_by_ids(c, candidates[:1])
            return found.get(candidates[0])

    def record_owners(self, record_ids: Iterable[str]) -> dict[str, str]:
        """The mapping that links each of ``record_ids``, across all mappings (unlinked ids are absent).

        One record has at most one link: a record that starts to match a second mapping's route stays
        with the mapping that linked it, and the cycle of the other one skips it.
        """
        owners: dict[str, str] = {}
        with self._conn() as c:
            for chunk in _chunks(sorted(set(record_ids))):
                for record_id, mapping in c.execute(
                    select(link_records.c.record_id, link_records.c.mapping).where(link_records.c.record_id.in_(chunk))
                ):
                    owners.setdefault(record_id, mapping)
        return owners

    def load_link_states(self, mapping: str, record_ids: Iterable[str], issue_ids: Iterable[str]) -> list[LinkState]:
        """The links touching the given records or issues, with synced values and comment pairs.

        A handful of queries whatever the number of ids (batched ``IN`` lists), and only for the ids
        given: the cycle passes the changed items, never every link.
        """
        record_ids = sorted(set(record_ids))
        issue_ids = sorted(set(issue_ids))
        with self._conn() as c:
            ids: set[int] = set()
            for chunk in _chunks(record_ids):
                ids.update(
                    c.execute(
                        select(link_records.c.link_id).where(
                            link_records.c.mapping == mapping, link_records.c.record_id.in_(chunk)
                        )
                    ).scalars()
                )
            for chunk in _chunks(issue_ids):
                ids.update(
                    c.execute(
                        select(links.c.id).where(links.c.mapping == mapping, links.c.issue_id.in_(chunk))
                    ).scalars()
                )
            return [s for s in self._states(c, ids) if s.link.is_open]

    def closed_item_ids(self, mapping: str, record_ids: Iterable[str], issue_ids: Iterable[str]) -> set[str]:
        """Which of the given records and issues belong to a closed link of ``mapping``: their changes
        are never planned again (not even as a new record to escalate)."""
        found: set[str] = set()
        with self._conn() as c:
            for chunk in _chunks(sorted(set(record_ids))):
                found.update(
                    c.execute(
                        select(link_records.c.record_id)
                        .join(links, links.c.id == link_records.c.link_id)
                        .where(
                            link_records.c.mapping == mapping,
                            link_records.c.record_id.in_(chunk),
                            or_(links.c.closed.is_not(None), link_records.c.closed.is_not(None)),
                        )
                    ).scalars()
                )
            for chunk in _chunks(sorted(set(issue_ids))):
                found.update(
                    c.execute(
                        select(links.c.issue_id).where(
                            links.c.mapping == mapping, links.c.issue_id.in_(chunk), links.c.closed.is_not(None)
                        )
                    ).scalars()
                )
        return found

    def close_link(
        self, link_id: int, reason: str, *, when: datetime | None = None, record_id: str | None = None
    ) -> None:
        """Close the link (its first reason stays: closing twice changes nothing); with ``record_id``,
        only that record leaves it, unless it is the link's last open record."""
        with self._conn() as c:
            self._close(c, link_id, reason, when or _now(), record_id)

    @staticmethod
    def _close(c: Connection, link_id: int, reason: str, when: datetime, record_id: str | None = None) -> None:
        """See :meth:`close_link`. A record closing alone keeps the others of a shared link syncing."""
        if record_id is not None:
            c.execute(
                update(link_records)
                .where(link_records.c.link_id == link_id, link_records.c.record_id == record_id,
                       link_records.c.closed.is_(None))
                .values(closed=when, closed_reason=reason)
            )
            still_open = c.execute(
                select(func.count()).select_from(link_records)
                .where(link_records.c.link_id == link_id, link_records.c.closed.is_(None))
            ).scalar_one()
            if still_open:
                return
        c.execute(
            update(links)
            .where(links.c.id == link_id, links.c.closed.is_(None))
            .values(closed=when, closed_reason=reason)
        )

    @staticmethod
    def _move_record(c: Connection, link_id: int, old_id: str, new: Ref) -> None:
        """The record ``old_id`` of the link is now ``new`` (an RT ticket merged into an unlinked one):
        the link and the synced state follow it, so nothing is written through the old id again."""
        c.execute(
            update(link_records)
            .where(link_records.c.link_id == link_id, link_records.c.record_id == old_id)
            .values(record_id=new.id, record_key=new.key, record_url=new.url, kind=new.kind)
        )
        c.execute(
            update(item_state)
            .where(item_state.c.link_id == link_id, item_state.c.item_id == old_id)
            .values(item_id=new.id, version="")
        )
        c.execute(update(comment_map).where(comment_map.c.link_id == link_id, comment_map.c.origin_item == old_id)
                  .values(origin_item=new.id))
        c.execute(update(comment_map).where(comment_map.c.link_id == link_id, comment_map.c.mirror_item == old_id)
                  .values(mirror_item=new.id))

    @staticmethod
    def _forget_link(c: Connection, link_id: int) -> None:
        """Drop the link with its records, synced values and comment pairs (``recreate_deleted``: its
        record is then escalated again as new)."""
        for table in (comment_map, item_state, link_records):
            c.execute(delete(table).where(table.c.link_id == link_id))
        c.execute(delete(links).where(links.c.id == link_id))

    def _states(self, c: Connection, ids: Iterable[int]) -> list[LinkState]:
        found = self._links_by_ids(c, ids)
        if not found:
            return []
        states: dict[int, dict[tuple[str, str], Any]] = {}
        pairs: dict[int, list[CommentPair]] = {}
        for chunk in _chunks(sorted(found)):  # type: ignore[arg-type]
            for row in c.execute(select(item_state).where(item_state.c.link_id.in_(chunk))):
                states.setdefault(row.link_id, {})[(row.side, row.item_id)] = row
            for row in c.execute(
                select(comment_map).where(comment_map.c.link_id.in_(chunk)).order_by(comment_map.c.id)
            ):
                pairs.setdefault(row.link_id, []).append(
                    CommentPair(Side(row.origin_side), row.origin_id, row.origin_item, row.mirror_item, row.mirror_id)
                )
        result = []
        for link_id, link in sorted(found.items()):
            rows = states.get(link_id, {})

            def item(ref: Ref, rows: dict[tuple[str, str], Any] = rows) -> ItemState:
                row = rows.get((ref.side.value, ref.id))
                if row is None:
                    return ItemState(ref)
                return ItemState(ref, _field_values(row.fields), row.status, row.version, row.updated)

            result.append(
                LinkState(
                    link=link,
                    issue=item(link.issue),
                    records={r.id: item(r) for r in link.records},
                    comments=tuple(pairs.get(link_id, ())),
                )
            )
        return result

    def link_by_id(self, link_id: int) -> Link | None:
        """One link with its records (two statements; :meth:`link_state` adds its synced values, four)."""
        with self._conn() as c:
            return self._links_by_ids(c, [link_id]).get(link_id)

    def link_state(self, link_id: int) -> LinkState | None:
        with self._conn() as c:
            found = self._states(c, [link_id])
        return found[0] if found else None
    @staticmethod
    def _link_of_item(c: Connection, mapping: str, side: Side, item_id: str) -> int | None:
        if side is Side.JIRA:
            found = c.execute(
                select(links.c.id).where(links.c.mapping == mapping, links.c.issue_id == item_id)
            ).scalar()
        else:
            found = c.execute(
                select(link_records.c.link_id).where(
                    link_records.c.mapping == mapping, link_records.c.record_id == item_id
                )
            ).scalar()
        return int(found) if found is not None else None

