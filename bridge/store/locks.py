"""One writer per mapping: the lock a process must hold before it syncs a mapping.

* SQLite: ``fcntl.flock`` on a file next to the database (``<db>.<mapping>.lock``, created 0600). The
  kernel drops the lock when the process dies, so a crash never leaves a stale lock behind.
* PostgreSQL: ``pg_try_advisory_lock(key)`` with a key hashed from the mapping name, taken on a
  connection dedicated to the lock and kept open for the life of the process. The server drops the
  lock when that connection goes away, so losing the connection means losing leadership:
  :meth:`MappingLock.check` then raises :class:`LeadershipLostError` and the executor stops writing.
  The daemon calls :meth:`MappingLock.check` at the start of every cycle and from a probe every
  interval, so a leader that has nothing to write notices a dead lock connection too.

Fencing (PostgreSQL): a lock can be lost before its holder notices (the connection is killed while the
replica waits on a vendor). Every acquisition therefore increments the mapping's row in
``leader_epochs`` on the lock connection itself, and the lock remembers the epoch it got; the store's
transaction that journals an action reads that row (``FOR SHARE``) and refuses the action when another
replica has taken the mapping since (:meth:`AdvisoryLock.fence`). Nothing reaches a vendor without a
journal row, so a stale leader is stopped before its write. ``FOR SHARE`` makes a new leader's increment
wait for a journaling transaction in flight, and the new leader's takeover grace lets that last
action's request land before it reconciles.

A second ``bridge sync --once`` gets :class:`~bridge.errors.LockHeldError` (exit code 4); a second
``bridge run`` stays on standby and tries again every interval.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import LockHeldError, StoreError
from bridge.store.permissions import open_private, private_directory
from bridge.store.tables import leader_epochs


@dataclass(frozen=True, slots=True)
class LeaderEpoch:
    """The newest leadership of a mapping on PostgreSQL: its epoch, who took it and when."""

    mapping: str
    epoch: int
    holder: str
    acquired: datetime

    def describe(self) -> str:
        return f"epoch {self.epoch}, taken by {self.holder} at {self.acquired.strftime('%Y-%m-%d %H:%M:%SZ')}"


def read_epochs(connection: Connection, mappings: list[str]) -> dict[str, LeaderEpoch]:
    """The ``leader_epochs`` rows of ``mappings`` (a mapping never led on PostgreSQL has none)."""
    rows = connection.execute(select(leader_epochs).where(leader_epochs.c.mapping.in_(mappings)))
    return {r.mapping: LeaderEpoch(r.mapping, int(r.epoch), r.holder, r.acquired) for r in rows}


class LeadershipLostError(StoreError):
    """The lock of a mapping was lost (its database connection died): stop writing at once."""


class MappingLock(Protocol):
    mapping: str
    #: whether the lock can be lost while its holder keeps running (a database session lock can; a
    #: ``flock`` ends only with its process): a new holder then waits for a stale one to notice
    lost_while_running: bool

    def check(self) -> None:
        """Raise :class:`LeadershipLostError` when the lock is no longer held."""

    def release(self) -> None:
        """Give the lock up. Safe to call twice."""


def advisory_key(mapping: str) -> int:
    """A stable signed 64-bit advisory-lock key for a mapping (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(f"bridge:mapping:{mapping}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class FileLock:
    """An exclusive ``flock`` on ``path``, taken without waiting."""

    lost_while_running = False

    def __init__(self, mapping: str, path: Path) -> None:
        self.mapping = mapping
        self.path = path
        self._file: IO[bytes] | None = None
        private_directory(path.parent)
        handle = os.fdopen(open_private(path), "r+b")  # 0600: held open for the life of the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LockHeldError(
                f"mapping {mapping!r} is being synced by another bridge process (lock file {path})"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle

    def check(self) -> None:
        if self._file is None:
            raise LeadershipLostError(f"lock of mapping {self.mapping!r} was released")

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


_MEMORY_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class MemoryLock:
    """For an in-memory SQLite database: a lock within this process only (nothing else can see it)."""

    lost_while_running = False

    def __init__(self, mapping: str, scope: str) -> None:
        self.mapping = mapping
        with _MEMORY_GUARD:
            lock = _MEMORY_LOCKS.setdefault((scope, mapping), threading.Lock())
        if not lock.acquire(blocking=False):
            raise LockHeldError(f"mapping {mapping!r} is being synced by another engine in this process")
        self._lock: threading.Lock | None = lock

    def check(self) -> None:
        if self._lock is None:
            raise LeadershipLostError(f"lock of mapping {self.mapping!r} was released")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class AdvisoryLock:
    """A PostgreSQL session advisory lock held on its own autocommit connection, with its epoch.

    The daemon's probe and the executor's side threads call :meth:`check` concurrently: the connection
    is guarded by a mutex, because a SQLAlchemy connection must not be used by two threads at once.
    """

    lost_while_running = True

    def __init__(self, mapping: str, engine: Engine, *, holder: str = "") -> None:
        self.mapping = mapping
        self.key = advisory_key(mapping)
        #: the leadership epoch this acquisition got (see the module docstring, "Fencing")
        self.epoch = 0
        self._mutex = threading.Lock()
        #: why the lock was lost: every later :meth:`check` says it again (the first caller may be the probe)
        self._lost: str | None = None
        try:
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot take the lock of mapping {mapping!r}: {type(exc).__name__}") from None
        if not got:
            connection.close()
            raise LockHeldError(f"mapping {mapping!r} is being synced by another bridge replica (advisory lock)")
        self._connection: Connection | None = connection
        try:
            self.epoch = self._next_epoch(connection, holder)
        except SQLAlchemyError as exc:
            self.release()
            raise StoreError(
                f"cannot record the leadership epoch of mapping {mapping!r}: {type(exc).__name__}"
            ) from None

    def _next_epoch(self, connection: Connection, holder: str) -> int:
        """Increment the mapping's epoch while holding the lock: no two holders ever share one."""
        values = pg_insert(leader_epochs).values(
            mapping=self.mapping, epoch=1, holder=holder[:63], acquired=datetime.now(UTC)
        )
        upsert = values.on_conflict_do_update(
            index_elements=[leader_epochs.c.mapping],
            set_={"epoch": leader_epochs.c.epoch + 1, "holder": values.excluded.holder,
                  "acquired": values.excluded.acquired},
        ).returning(leader_epochs.c.epoch)
        return int(connection.execute(upsert).scalar_one())

    def check(self) -> None:
        """Probe the lock connection, and the epoch: a pooler that breaks session locks shows here too."""
        with self._mutex:
            if self._connection is None:
                raise LeadershipLostError(self._lost or f"lock of mapping {self.mapping!r} was released")
            try:
                epoch = self._connection.execute(
                    select(leader_epochs.c.epoch).where(leader_epochs.c.mapping == self.mapping)
                ).scalar()
            except SQLAlchemyError:
                self._drop(
                    f"lost the database connection holding the lock of mapping {self.mapping!r}; stopping writes"
                )
                raise LeadershipLostError(self._lost) from None
            if epoch != self.epoch:
                self._drop(self._superseded(epoch))
                raise LeadershipLostError(self._lost)

    def fence(self, connection: Connection) -> None:
        """Refuse the caller's transaction when another replica took the mapping over since this lock
        was taken (read on ``connection``, the transaction that journals the action)."""
        epoch = connection.execute(
            select(leader_epochs.c.epoch).where(leader_epochs.c.mapping == self.mapping).with_for_update(read=True)
        ).scalar()
        if epoch != self.epoch:
            with self._mutex:
                cause = (
                    self._superseded(epoch) if self._alive() else
                    f"lost the database connection holding the lock of mapping {self.mapping!r} "
                    f"(this replica led epoch {self.epoch}, another replica leads epoch {epoch})"
                )
                self._drop(cause)
            raise LeadershipLostError(cause + "; the action was refused before it reached a vendor")

    def _alive(self) -> bool:
        """Whether the lock connection still answers (called with the mutex held): names the cause."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _superseded(self, epoch: int | None) -> str:
        return (
            f"lost the lock of mapping {self.mapping!r}: this replica leads epoch {self.epoch}, "
            f"the database is at epoch {epoch} (another replica took the mapping over)"
        )

    def _drop(self, reason: str | None = None) -> None:
        if reason is not None and self._lost is None:
            self._lost = reason
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def release(self) -> None:
        with self._mutex:
            if self._connection is None:
                return
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.close()
            except SQLAlchemyError:
                self._drop()
            self._connection = None
