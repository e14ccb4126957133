"""One writer per mapping: the lock a process must hold before it syncs a mapping.

* SQLite: ``fcntl.flock`` on a file next to the database (``<db>.<mapping>.lock``, created 0600). The
  kernel drops the lock when the process dies, so a crash never leaves a stale lock behind.
* PostgreSQL: ``pg_try_advisory_lock(key)`` with a key hashed from the mapping name, taken on a
  connection dedicated to the lock and kept open for the life of the process. The server drops the
  lock when that connection goes away, so losing the connection means losing leadership:
  :meth:`MappingLock.check` then raises :class:`LeadershipLostError` and the executor stops writing.

A second ``bridge sync --once`` gets :class:`~bridge.errors.LockHeldError` (exit code 4); a second
``bridge run`` stays on standby and tries again every interval.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import LockHeldError, StoreError
from bridge.store.permissions import open_private, private_directory


class LeadershipLostError(StoreError):
    """The lock of a mapping was lost (its database connection died): stop writing at once."""


class MappingLock(Protocol):
    mapping: str

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
    """A PostgreSQL session advisory lock held on its own autocommit connection."""

    def __init__(self, mapping: str, engine: Engine) -> None:
        self.mapping = mapping
        self.key = advisory_key(mapping)
        try:
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot take the lock of mapping {mapping!r}: {type(exc).__name__}") from None
        if not got:
            connection.close()
            raise LockHeldError(f"mapping {mapping!r} is being synced by another bridge replica (advisory lock)")
        self._connection: Connection | None = connection

    def check(self) -> None:
        if self._connection is None:
            raise LeadershipLostError(f"lock of mapping {self.mapping!r} was released")
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            self._drop()
            raise LeadershipLostError(
                f"lost the database connection holding the lock of mapping {self.mapping!r}; stopping writes"
            ) from None

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._connection.close()
        except SQLAlchemyError:
            self._drop()
        self._connection = None
