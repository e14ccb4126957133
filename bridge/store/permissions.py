"""The state is private: the SQLite database, its journals and the lock files are the owner's alone.

The state holds descriptions, work notes and comments copied between the two sides: nobody else on the
host may read it. Under systemd ``StateDirectory=`` and ``UMask=0077`` make it so; elsewhere (cron, a
hand-run ``bridge sync``, a container) the umask is often 022 and SQLite would create everything 0644.
So bridge creates them itself, whatever the umask:

* a directory it creates for the database: 0700;
* the database file: created empty with mode 0600 before SQLite opens it. SQLite gives its rollback
  journal (``-journal``), WAL (``-wal``) and shared memory (``-shm``) files the permissions of the
  database file (the unix VFS copies them: ``findCreateFileMode`` and ``unixOpenSharedMemory`` in
  SQLite's ``src/os_unix.c``), so they are 0600 too (tests/unit/test_store_permissions.py checks it);
* each mapping's lock file: created 0600.

Files that already exist are left as they are (an administrator may have chosen a group for backups);
``bridge doctor`` warns about every one that the group or others can read (:func:`exposed_state_files`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700
#: the companions SQLite creates next to a database file
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) 0700; an existing directory is left as it is."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIRECTORY)
        except FileExistsError:
            continue
        os.chmod(directory, PRIVATE_DIRECTORY)  # mkdir's mode is filtered by the umask


def open_private(path: Path) -> int:
    """Open ``path`` read-write, creating it 0600 (whatever the umask) when it does not exist."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def create_private_database(path: Path) -> None:
    """Make sure the database file exists before SQLite opens it: a new one is created empty, 0600."""
    private_directory(path.parent)
    if path.exists():
        return
    os.close(open_private(path))


def state_files(database: Path, lock_files: list[Path] | None = None) -> list[Path]:
    """The database file, its SQLite companions and the given lock files that exist."""
    candidates = [database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)]
    candidates += lock_files or []
    if not lock_files and database.parent.is_dir():
        candidates += sorted(database.parent.glob(f"{database.name}.*.lock"))
    return [p for p in candidates if p.exists()]


def exposed_state_files(database: Path, lock_files: list[Path] | None = None) -> list[tuple[Path, int]]:
    """Each state file the group or others may read (with its mode), for ``bridge doctor``."""
    exposed = []
    for path in state_files(database, lock_files):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o044:
            exposed.append((path, mode))
    return exposed
