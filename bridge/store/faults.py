"""A SQLite state database that cannot be used as it is: read-only, corrupt, or on a full disk.

Each of these needs an operator, not a retry, so each ends a command with exit code 3 and a message that
names the file and says what to do (:class:`~bridge.errors.StoreUnavailableError`). Two rules:

* **Never a silent new database.** A damaged file is refused, whatever its damage: not a SQLite file
  ("file is not a database"), an empty or truncated file (shorter than its header's page count), pages
  of garbage (``PRAGMA quick_check`` at open, about 0.4 s for a 70 MB file). Creating a fresh database
  in its place would lose the links and re-create every issue; the operator restores the backup or
  runs ``bridge adopt`` into a fresh file instead (docs/operations.md, sections 11 and 15).
* **Nothing synced half-way.** A writer checks before its first vendor call that it may write the file
  and create the journal next to it, so a read-only file or directory stops the run before anything is
  sent. A failure later in a cycle (the disk fills up while journaling) leaves the action in progress
  pending in the journal; the first cycle that can write again completes it without a duplicate (the
  reconciliation of docs/operations.md, section 7, "Writes, the journal and what happens after a crash").

SQLite's result codes say which fault it is (https://www.sqlite.org/rescode.html): ``SQLITE_READONLY``
(8), ``SQLITE_CORRUPT`` (11), ``SQLITE_NOTADB`` (26), ``SQLITE_FULL`` (13, also what a write returns on
``ENOSPC``), ``SQLITE_IOERR`` (10), ``SQLITE_CANTOPEN`` (14); Python's :mod:`sqlite3` exposes them as
``sqlite_errorcode`` (extended code; the primary code is its low byte). The database header layout
(magic string, page size at offset 16, page count at 28, valid when the change counter at 24 equals
the version-valid-for number at 92) is https://www.sqlite.org/fileformat.html, section 1.3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreError, StoreUnavailableError

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
SQLITE_IOERR = 10
SQLITE_READONLY = 8
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
#: at most this many problems are asked of ``PRAGMA quick_check`` (the first one is shown)
QUICK_CHECK_LIMIT = 5


def _user() -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    except (KeyError, ImportError):  # pragma: no cover - a uid without a passwd entry (containers)
        return f"uid {os.geteuid()}"


def read_only(path: Path, what: str) -> StoreUnavailableError:
    """``path`` (or its directory) may not be written by this process."""
    directory = path.parent
    return StoreUnavailableError(
        f"the state database {path} is read-only for this process: {what}",
        [
            f"bridge runs as {_user()} and must write {path} and create its journal "
            f"({path.name}-journal) in {directory}",
            f"give that user write access to both, e.g. `chown -R bridge: {directory} && chmod 0700 {directory} "
            f"&& chmod 0600 {path}` (docs/operations.md, section 15)",
            "nothing was written to either side by this run; the next run after the fix syncs as usual",
        ],
        kind="read_only",
    )


def corrupt(path: Path, what: str) -> StoreUnavailableError:
    """``path`` exists but is not an intact bridge database: refuse it, never start a new one in its place."""
    return StoreUnavailableError(
        f"the state database {path} is damaged: {what}",
        [
            f"stop every bridge process using it and keep the file for analysis: `mv {path} {path}.damaged`",
            f"then restore the last backup to {path} (docs/operations.md, section 11) and run `bridge sync`: "
            "what changed since the backup is recognised, nothing is written twice",
            f"without a backup: let bridge create a fresh database at {path} with `bridge adopt`, which "
            "re-links every issue the markers and back-references prove (section 11, 'adopt')",
            "bridge never replaces a damaged database by itself: a new empty one would create every issue again",
        ],
        kind="corrupt",
    )


def disk_full(path: Path, what: str) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the disk holding the state database {path} is full: {what}",
        [
            f"free space on the file system of {path.parent} (`df -h {path.parent}`)",
            "the action in progress stays pending in the journal: the first cycle after space returns "
            "completes it, without a duplicate",
        ],
        kind="full",
    )


def io_error(path: Path, what: str) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the state database {path} could not be written or read: {what}",
        [
            f"check the file system of {path.parent}: free space (`df -h`), the kernel log (`dmesg`), a size "
            "limit on the service (LimitFSIZE=)",
            "the action in progress stays pending in the journal: the first cycle that can write completes it, "
            "without a duplicate",
        ],
        kind="io",
    )


def sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite engine (``None`` for PostgreSQL and in-memory databases)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_code(exc: BaseException) -> int | None:
    orig: Any = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def store_error(exc: SQLAlchemyError, engine: Engine, doing: str, reason: str) -> StoreError:
    """The error to raise for ``exc``: an operator's :class:`StoreUnavailableError` for the SQLite faults
    above, a plain :class:`StoreError` (``doing: reason``) for everything else."""
    path = sqlite_path(engine)
    code = _sqlite_code(exc)
    if path is not None and code is not None:
        if code == SQLITE_READONLY:
            return read_only(path, reason)
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return corrupt(path, reason)
        if code == SQLITE_FULL:
            return disk_full(path, reason)
        if code in (SQLITE_IOERR, SQLITE_CANTOPEN):
            return io_error(path, reason)
    return StoreError(f"{doing}: {reason}")


def _has_hot_journal(path: Path) -> bool:
    """A rollback journal or WAL next to the file: SQLite recovers from it at open, sizes may differ until then."""
    for suffix in ("-journal", "-wal"):
        companion = path.with_name(path.name + suffix)
        try:
            if companion.stat().st_size > 0:
                return True
        except OSError:
            continue
    return False


def check_file(path: Path, *, write: bool) -> None:
    """Refuse an existing database file that SQLite would misread or bridge could not write (cheap: no SQL)."""
    if not path.is_file():
        raise corrupt(path, "it is not a regular file")
    if write:
        if not os.access(path, os.R_OK | os.W_OK):
            raise read_only(path, "the file may not be written")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise read_only(path, f"its directory {path.parent} may not be written (SQLite keeps its journal there)")
    elif not os.access(path, os.R_OK):
        raise read_only(path, "the file may not be read")
    try:
        with open(path, "rb") as handle:
            header = handle.read(HEADER_SIZE)
        size = path.stat().st_size
    except OSError as exc:
        raise io_error(path, exc.strerror or str(exc)) from None
    if size == 0:
        raise corrupt(path, "it is empty (0 bytes): a truncated file, not a bridge database")
    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise corrupt(path, "file is not a database (no SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96] and pages > 0
    if valid and size < pages * page_size and not _has_hot_journal(path):
        raise corrupt(path, f"it is truncated ({size} bytes, its header says {pages} pages of {page_size} bytes)")


def quick_check(engine: Engine, reason: Any) -> None:
    """``PRAGMA quick_check``: pages of garbage are found at open, not in the middle of a cycle."""
    path = sqlite_path(engine)
    if path is None:
        return
    try:
        with engine.connect() as connection:
            rows = [str(r[0]) for r in connection.exec_driver_sql(f"PRAGMA quick_check({QUICK_CHECK_LIMIT})")]
    except SQLAlchemyError as exc:
        raise store_error(exc, engine, f"cannot read the state database {path}", reason(exc)) from None
    if rows != ["ok"]:
        first = " ".join(rows[0].split())[:200] if rows else "no answer"
        raise corrupt(path, f"database disk image is malformed (quick_check: {first})")
