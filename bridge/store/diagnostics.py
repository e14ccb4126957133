"""What ``bridge doctor`` asks the state store: is the schema current, and who holds each mapping's lock.

Read-only: nothing here migrates, takes a lock or writes a row, so the doctor can run next to a working
daemon without disturbing it.

Lock holders:

* PostgreSQL: the session advisory lock of a mapping appears in ``pg_locks`` (``locktype = 'advisory'``,
  the 64-bit key split into ``classid`` (high 32 bits) and ``objid`` (low 32 bits), ``objsubid = 1``);
  joined to ``pg_stat_activity`` it names the holder's ``application_name`` (``bridge@host:pid``, set by
  :func:`bridge.store.store.application_name`), client address and connection start.
* SQLite: the ``flock`` on ``<db>.<mapping>.lock``. Linux lists every ``flock`` in ``/proc/locks`` with
  the holder's pid and the file's device and inode, which answers without touching the lock; elsewhere
  a non-blocking shared ``flock`` is tried and released at once. The lock file also holds the pid that
  last took it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreError
from bridge.store import migrate
from bridge.store.locks import advisory_key
from bridge.store.store import Store, _reason

PROC_LOCKS = Path("/proc/locks")


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """The database's Alembic revision against the newest this bridge knows."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a mapping's lock; ``held=False`` when nobody syncs it right now."""

    mapping: str
    held: bool
    pid: int | None = None
    application: str | None = None
    client: str | None = None
    since: datetime | None = None
    where: str = ""

    def describe(self) -> str:
        if not self.held:
            return "not held: no bridge process is syncing it right now"
        who = self.application or (f"pid {self.pid}" if self.pid else "an unknown process")
        parts = [f"held by {who}"]
        if self.pid and self.application and str(self.pid) not in self.application:
            parts.append(f"(server pid {self.pid})")
        if self.client:
            parts.append(f"from {self.client}")
        if self.since is not None:
            parts.append(f"since {self.since.strftime('%Y-%m-%d %H:%M:%SZ')}")
        return " ".join(parts)


def schema_status(store: Store) -> SchemaStatus:
    """The revision the database is at; :class:`StoreError` when it cannot be read (unreachable)."""
    try:
        current = migrate.current_revision(store.engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the state database {store.display_url}: {_reason(exc)}") from None
    return SchemaStatus(current, migrate.head_revision())


def lock_holders(store: Store, mappings: list[str]) -> dict[str, LockHolder]:
    """The holder of each mapping's lock, as seen from outside (read-only)."""
    if store.dialect == "postgresql":
        return {m: _advisory_holder(store, m) for m in mappings}
    return {m: _file_holder(store, m) for m in mappings}


def _advisory_holder(store: Store, mapping: str) -> LockHolder:
    unsigned = advisory_key(mapping) & 0xFFFF_FFFF_FFFF_FFFF
    query = text(
        """
        SELECT l.pid, a.application_name, host(a.client_addr) AS client, a.backend_start
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = :hi AND l.objid::bigint = :lo
        """
    )
    try:
        with store.engine.connect() as connection:
            row = connection.execute(query, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF}).first()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read pg_locks: {_reason(exc)}") from None
    if row is None:
        return LockHolder(mapping, held=False, where="advisory lock")
    # client_addr is NULL over a Unix socket, and for sessions of other roles without pg_read_all_stats
    return LockHolder(mapping, True, int(row.pid), row.application_name or None, row.client or None,
                      row.backend_start, "advisory lock")


def _file_holder(store: Store, mapping: str) -> LockHolder:
    path = store.lock_path(mapping)
    if path is None:
        return LockHolder(mapping, held=False, where="in-memory database: locks are per process")
    if not path.exists():
        return LockHolder(mapping, held=False, where=str(path))
    recorded = _recorded_pid(path)
    host = socket.gethostname()
    try:
        holders = _proc_lock_pids(path)
    except OSError:
        holders = None
    if holders is None:  # no /proc/locks: probe without waiting, release at once
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return LockHolder(mapping, True, recorded, f"bridge@{host}:{recorded}" if recorded else None,
                                  where=str(path))
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return LockHolder(mapping, held=False, where=str(path))
    if not holders:
        return LockHolder(mapping, held=False, where=str(path))
    pid = recorded if recorded in holders else min(holders)
    return LockHolder(mapping, True, pid, f"bridge@{host}:{pid}", where=str(path))


def _recorded_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split()[:1]
    except OSError:
        return None
    return int(first[0]) if first and first[0].isdigit() else None


def _proc_lock_pids(path: Path) -> set[int] | None:
    """Pids holding a ``flock`` on ``path`` according to ``/proc/locks`` (``None``: not available)."""
    if not PROC_LOCKS.exists():
        return None
    stat = os.stat(path)
    wanted = (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino)
    pids: set[int] = set()
    for line in PROC_LOCKS.read_text().splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters carry a "->" marker)
        if len(fields) < 6 or fields[1] != "FLOCK" or "->" in fields:
            continue
        try:
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            pid = int(fields[4])
        except ValueError:
            continue
        if key == wanted:
            pids.add(pid)
    return pids


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (``None`` for other databases and in-memory ones):
    the doctor looks before it opens, because opening a SQLite file that is not there creates it."""
    try:
        parsed = make_url(url)
    except Exception:  # an invalid URL may hold a password: the store reports it without echoing
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)
