"""The state store: links, synced values, comment pairs, cursors, the journal and the error list.

:class:`Store` is the façade, with one code path for SQLite and PostgreSQL (SQLAlchemy Core, no ORM):
it opens the database and holds the mapping locks, and combines the repositories of
:mod:`bridge.store.repositories` (links, synced values, cursors, journal, error list). Every method runs
in its own transaction unless called inside :meth:`Store.transaction`, in which case it joins it:
:meth:`Store.apply` uses that to mark an action done *and* write its effects (synced values, a new
link, a comment pair) atomically, which is what makes a crash at any point safe.

The store never keeps the database URL's password: it is only in the SQLAlchemy engine in memory, and
:attr:`Store.display_url` masks it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from bridge.errors import StoreError
from bridge.store import migrate
from bridge.store.locks import AdvisoryLock, FileLock, LeaderEpoch, MappingLock, MemoryLock, read_epochs
from bridge.store.permissions import create_private_database
from bridge.store.repositories.base import reason as _reason
from bridge.store.repositories.cursors import CursorRepository
from bridge.store.repositories.first_seen import FirstSeenRepository
from bridge.store.repositories.journal import JournalRepository


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


class Store(JournalRepository, CursorRepository, FirstSeenRepository):
    """The state store. Open it with :meth:`Store.open`; close it with :meth:`close`.

    The query methods come from the repositories it combines (see the module docstring)."""

    def __init__(self, engine: Engine, *, lock_dir: Path | None = None) -> None:
        super().__init__(engine)
        self._lock_dir = lock_dir
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
                try:
                    create_private_database(path)  # 0600 in a 0700 directory, whatever the umask
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the state database {path}: {exc.strerror or exc}"
                    ) from None
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
            lock = AdvisoryLock(mapping, self.engine, holder=application_name())
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

    def leader_epochs(self, mappings: list[str]) -> dict[str, LeaderEpoch]:
        """Each mapping's newest leadership epoch (PostgreSQL only; ``bridge doctor`` shows it)."""
        if self.dialect != "postgresql" or not mappings:
            return {}
        with self._conn() as c:  # StoreError when unreadable
            return read_epochs(c, mappings)

    def _fence(self, c: Connection, mapping: str) -> None:
        """The fencing token: an action of a mapping whose PostgreSQL lock another replica has taken
        since is refused in the transaction that would journal it (:class:`LeadershipLostError`)."""
        lock = self._locks.get(mapping)
        if isinstance(lock, AdvisoryLock):
            lock.fence(c)

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

