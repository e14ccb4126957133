"""The state store: links, synced values, comment pairs, cursors, the journal and the error list.

One class, :class:`Store`, with one code path for SQLite and PostgreSQL (SQLAlchemy Core, no ORM).
Every method runs in its own transaction unless called inside :meth:`Store.transaction`, in which case
it joins it: :meth:`Store.apply_success` uses that to mark an action done *and* record what it changed
(synced values, a new link, a comment pair) atomically, which is what makes a crash at any point safe.

The store never keeps the database URL's password: it is only in the SQLAlchemy engine in memory, and
:attr:`Store.display_url` masks it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bridge.errors import StoreError
from bridge.model import FieldValue, Link, Ref, Side
from bridge.store import migrate
from bridge.store.entries import DONE, FAILED, PENDING, ActionResult, ErrorEntry, JournalEntry, MappingStatus
from bridge.store.locks import AdvisoryLock, FileLock, MappingLock, MemoryLock
from bridge.store.tables import (
    comment_map,
    cursors,
    errors,
    item_state,
    journal,
    link_records,
    links,
    mapping_status,
)
from bridge.sync.actions import (
    Action,
    AddComment,
    CreateIssue,
    LinkExisting,
    SyncedUpdate,
    from_json,
    to_json,
)
from bridge.sync.state import CommentPair, ItemState, LinkState

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _json_fields(values: Mapping[str, FieldValue]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _field_values(raw: Mapping[str, Any] | None) -> dict[str, FieldValue]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in (raw or {}).items()}


def application_name() -> str:
    """``bridge@<hostname>:<pid>``: how this process names itself to PostgreSQL, so ``bridge doctor`` (and
    an administrator reading ``pg_stat_activity``) can tell which replica holds which mapping's lock."""
    return f"bridge@{socket.gethostname()}:{os.getpid()}"[:63]  # PostgreSQL keeps 63 bytes (NAMEDATALEN)


def postgres_connect_args() -> dict[str, Any]:
    """libpq options for every PostgreSQL connection of the store.

    TCP keepalives and ``tcp_user_timeout`` bound how long a connection to an unreachable server can
    look alive: the lock connection's check before each action must fail within seconds when the
    network to the database is gone, so a cut-off leader stops writing instead of hanging in a
    retransmission timeout while a standby takes over.
    """
    return {
        "application_name": application_name(),
        "connect_timeout": 10,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 20_000,
    }


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (safe for logs and command output)."""
    return make_url(url).render_as_string(hide_password=True)


class Store:
    """The state store. Open it with :meth:`Store.open`; close it with :meth:`close`."""

    def __init__(self, engine: Engine, *, lock_dir: Path | None = None) -> None:
        self.engine = engine
        self._lock_dir = lock_dir
        self._local = threading.local()
        self._locks: dict[str, MappingLock] = {}

    # ------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        """Connect to ``url`` (``sqlite:///path`` or ``postgresql+psycopg://…``) and migrate it to head."""
        try:
            parsed = make_url(url)
        except Exception:  # the URL may hold a password: never echo it
            raise StoreError("invalid state database URL (expected sqlite:///PATH or postgresql+psycopg://…)") from None
        lock_dir: Path | None = None
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
            else:
                path = Path(database)
                path.parent.mkdir(parents=True, exist_ok=True)
                lock_dir = path.parent
                kwargs = {"connect_args": {"timeout": 30}}
        elif parsed.get_backend_name() == "postgresql":
            kwargs = {"pool_pre_ping": True, "connect_args": postgres_connect_args()}
        else:
            raise StoreError(
                f"unsupported state database {parsed.get_backend_name()!r} (expected sqlite or postgresql)"
            )
        try:
            engine = create_engine(parsed, **kwargs)
        except Exception as exc:
            raise StoreError(f"cannot use the state database {masked_url(url)}: {type(exc).__name__}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, lock_dir=lock_dir)
        if migrate_schema:
            try:
                migrate.upgrade(engine)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(
                    f"cannot open or migrate the state database {masked_url(url)}: {_reason(exc)}"
                ) from None
        return store

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        for lock in list(self._locks.values()):
            lock.release()
        self._locks.clear()
        self.engine.dispose()

    # ------------------------------------------------------------------------------ locks

    def acquire_lock(self, mapping: str) -> MappingLock:
        """Take (or return the already held) lock of ``mapping``; :class:`LockHeldError` when taken."""
        held = self._locks.get(mapping)
        if held is not None:
            return held
        lock: MappingLock
        path = self.lock_path(mapping)
        if self.dialect == "postgresql":
            lock = AdvisoryLock(mapping, self.engine)
        elif path is not None:
            lock = FileLock(mapping, path)
        else:
            lock = MemoryLock(mapping, str(id(self.engine)))
        self._locks[mapping] = lock
        return lock

    def lock_path(self, mapping: str) -> Path | None:
        """The lock file of ``mapping`` on a SQLite file database (``None`` on PostgreSQL or in memory)."""
        if self.dialect != "sqlite" or self._lock_dir is None:
            return None
        database = Path(self.engine.url.database or "bridge.sqlite3")
        return self._lock_dir / f"{database.name}.{mapping}.lock"

    def release_lock(self, mapping: str) -> None:
        lock = self._locks.pop(mapping, None)
        if lock is not None:
            lock.release()

    def held_lock(self, mapping: str) -> MappingLock | None:
        return self._locks.get(mapping)

    # ------------------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the store calls made inside into one transaction (nested calls join the outer one)."""
        if getattr(self._local, "connection", None) is not None:
            yield
            return
        try:
            with self.engine.begin() as connection:
                self._local.connection = connection
                try:
                    yield
                finally:
                    self._local.connection = None
        except IntegrityError as exc:
            raise StoreError(f"state store integrity error: {_reason(exc)}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"state store failed: {_reason(exc)}") from None

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self.transaction():
            yield self._local.connection

    # ------------------------------------------------------------------------------ links

    def create_link(self, mapping: str, issue: Ref, records: Sequence[Ref], *, created: datetime | None = None) -> Link:
        """Store a new link of ``issue`` with ``records``."""
        created = created or _now()
        with self._conn() as c:
            link_id = c.execute(
                insert(links).values(
                    mapping=mapping, issue_id=issue.id, issue_key=issue.key, issue_url=issue.url, created=created
                )
            ).inserted_primary_key[0]
            for record in records:
                self._insert_record(c, int(link_id), mapping, record)
        return Link(int(link_id), mapping, issue, tuple(records), created)

    def add_record(self, link_id: int, record: Ref) -> None:
        """Attach one more record to an existing link (``link_existing`` fan-in)."""
        with self._conn() as c:
            mapping = c.execute(select(links.c.mapping).where(links.c.id == link_id)).scalar_one()
            self._insert_record(c, link_id, mapping, record)

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
        recs: dict[int, list[Ref]] = {}
        for chunk in _chunks(ids):  # type: ignore[arg-type]
            rows.extend(c.execute(select(links).where(links.c.id.in_(chunk))).all())
            for r in c.execute(
                select(link_records).where(link_records.c.link_id.in_(chunk)).order_by(link_records.c.id)
            ):
                recs.setdefault(r.link_id, []).append(
                    Ref(Side(r.side), r.kind, r.record_id, r.record_key, r.record_url)
                )
        return {
            row.id: Link(
                row.id,
                row.mapping,
                Ref(Side.JIRA, "issue", row.issue_id, row.issue_key, row.issue_url),
                tuple(recs.get(row.id, ())),
                row.created,
            )
            for row in rows
        }

    def get_link(self, link_id: int) -> Link | None:
        with self._conn() as c:
            return self._links_by_ids(c, [link_id]).get(link_id)

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

    def link_count(self, mapping: str) -> int:
        with self._conn() as c:
            return int(
                c.execute(select(func.count()).select_from(links).where(links.c.mapping == mapping)).scalar_one()
            )

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
            return self._states(c, ids)

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

    def link_state(self, link_id: int) -> LinkState | None:
        with self._conn() as c:
            found = self._states(c, [link_id])
        return found[0] if found else None

    # ------------------------------------------------------------------------------ synced values

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
    ) -> None:
        key = and_(item_state.c.link_id == link_id, item_state.c.side == side.value, item_state.c.item_id == item_id)
        row = c.execute(select(item_state).where(key)).first()
        if row is None:
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
            return
        changes: dict[str, Any] = {}
        if values:
            changes["fields"] = {**dict(row.fields or {}), **_json_fields(values)}
        if status is not None:
            changes["status"] = status
        if version is not None:
            changes["version"] = version
        if updated is not None:
            changes["updated"] = updated
        if changes:
            c.execute(update(item_state).where(key).values(**changes))

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

    def mark_seen(self, link_id: int, side: Side, item_id: str, version: str, updated: datetime) -> None:
        """Remember that the change ``version`` of an item was fully processed (the cycle skips it next time)."""
        with self._conn() as c:
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
        exists = c.execute(
            select(comment_map.c.id).where(
                comment_map.c.origin_side == pair.origin_side.value,
                comment_map.c.origin_id == pair.origin_id,
                comment_map.c.mirror_item == pair.mirror_item,
            )
        ).first()
        if exists is None:
            c.execute(
                insert(comment_map).values(
                    link_id=link_id,
                    origin_side=pair.origin_side.value,
                    origin_id=pair.origin_id,
                    origin_item=pair.origin_item,
                    mirror_item=pair.mirror_item,
                    mirror_id=pair.mirror_id,
                    created=_now(),
                )
            )

    # ------------------------------------------------------------------------------ cursors

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

    # ------------------------------------------------------------------------------ journal

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
        now = _now()
        with self._conn() as c:
            row = c.execute(select(journal).where(journal.c.idempotency_key == action.key)).first()
            if row is not None and supersede_done and row.state == DONE:
                c.execute(
                    update(journal)
                    .where(journal.c.id == row.id)
                    .values(idempotency_key=f"{row.idempotency_key}#{row.id}")
                )
                row = None
            if row is None:
                _insert_journal(c, action, PENDING, now)
                row = c.execute(select(journal).where(journal.c.idempotency_key == action.key)).one()
        return self._entry(row)

    def journal_replace_action(self, journal_id: int, action: Action) -> None:
        """Store the resolved form of a pending action (a follow-up whose issue now exists)."""
        with self._conn() as c:
            c.execute(
                update(journal)
                .where(journal.c.id == journal_id)
                .values(action=to_json(action), link_id=action.link_id, updated=_now())
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
        self, journal_id: int, error: str, *, kind: str = "action_failed", item_ref: str | None = None
    ) -> ErrorEntry:
        """A permanent failure: the action is failed and goes on the error list."""
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
                f"journal:{row.idempotency_key}",
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

    def apply_success(self, journal_id: int, action: Action, result: ActionResult) -> Link | None:
        """Mark an action done and record what it changed, in ONE transaction.

        CreateIssue: the new link with the record's and the issue's synced values. LinkExisting: the
        record joins the issue's link (created if needed). AddComment: the comment pair. Every action:
        its :attr:`~bridge.sync.actions.Action.synced` updates. Returns the link the action touched.
        """
        with self.transaction(), self._conn() as c:
            link_id = result.link_id if result.link_id is not None else action.link_id
            link: Link | None = None
            if isinstance(action, CreateIssue | LinkExisting):
                link = self._link_for_new_issue(c, action, result)
                link_id = link.id
            if link_id is None:
                link_id = self._infer_link_id(c, action)
            if link_id is not None:
                for synced in action.synced:
                    self._merge_state(c, link_id, synced.side, synced.item_id, synced.fields, synced.status)
                if isinstance(action, AddComment) and result.comment_id is not None:
                    self._insert_pair(
                        c,
                        link_id,
                        CommentPair(
                            action.origin.side,
                            action.origin_comment_id,
                            action.origin.id,
                            action.target.id,
                            result.comment_id,
                        ),
                    )
            now = _now()
            c.execute(
                update(journal)
                .where(journal.c.id == journal_id)
                .values(
                    state=DONE,
                    attempts=journal.c.attempts + 1,
                    remote_id=result.remote_id,
                    link_id=link_id,
                    last_error=None,
                    next_attempt_at=None,
                    action=to_json(action),
                    updated=now,
                )
            )
            c.execute(update(errors).where(errors.c.journal_id == journal_id).values(resolved=True, last_seen=now))
            if link is None and link_id is not None:
                link = self._links_by_ids(c, [link_id]).get(link_id)
            return link

    def _link_for_new_issue(self, c: Connection, action: CreateIssue | LinkExisting, result: ActionResult) -> Link:
        if result.issue is None:
            raise StoreError(f"{action.kind} succeeded without an issue to link")
        issue = result.issue
        existing = c.execute(
            select(links.c.id).where(links.c.mapping == action.mapping, links.c.issue_id == issue.id)
        ).scalar()
        if existing is None:
            link_id = int(
                c.execute(
                    insert(links).values(
                        mapping=action.mapping,
                        issue_id=issue.id,
                        issue_key=issue.key,
                        issue_url=issue.url,
                        created=_now(),
                    )
                ).inserted_primary_key[0]
            )
            issue_fields = action.fields if isinstance(action, CreateIssue) else result.issue_fields
            self._merge_state(
                c,
                link_id,
                Side.JIRA,
                issue.id,
                issue_fields,
                result.issue_status,
                version=result.issue_version,
                updated=result.issue_updated,
            )
        else:
            link_id = int(existing)
        already = c.execute(
            select(link_records.c.link_id).where(
                link_records.c.mapping == action.mapping, link_records.c.record_id == action.record.id
            )
        ).scalar()
        if already is None:
            self._insert_record(c, link_id, action.mapping, action.record)
        self._merge_state(c, link_id, action.record.side, action.record.id, action.record_fields, action.record_status)
        return self._links_by_ids(c, [link_id])[link_id]

    def _infer_link_id(self, c: Connection, action: Action) -> int | None:
        """The link of an action planned without one (it names its items by ref only)."""
        for name in ("target", "record", "issue", "itsm_item", "origin"):
            ref = getattr(action, name, None)
            if isinstance(ref, Ref):
                found = self._link_of_item(c, action.mapping, ref.side, ref.id)
                if found is not None:
                    return found
        return None

    # ------------------------------------------------------------------------------ error list

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

    # ------------------------------------------------------------------------------ diagnostics

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (tests compare dumps to prove a dry run wrote nothing)."""
        from bridge.store.tables import metadata

        with self._conn() as c:
            return {
                name: [tuple(r) for r in c.execute(select(table).order_by(*table.primary_key.columns))]
                for name, table in metadata.tables.items()
            }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _reason(exc: BaseException) -> str:
    """A short reason for a database error, without SQL parameters (they may hold customer data)."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else type(exc).__name__
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _insert_journal(c: Connection, action: Action, state: str, now: datetime, *, last_error: str | None = None) -> int:
    """A new journal row for ``action`` in ``state``; returns its id."""
    result = c.execute(
        insert(journal).values(
            mapping=action.mapping,
            idempotency_key=action.key,
            kind=action.kind,
            link_id=action.link_id,
            action=to_json(action),
            state=state,
            attempts=0,
            next_attempt_at=None,
            last_error=last_error,
            created=now,
            updated=now,
        )
    )
    return int(result.inserted_primary_key[0])
