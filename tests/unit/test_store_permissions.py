"""The state is private (issue 15): outside systemd the SQLite file and the lock files were created 0644.

Every test runs under a permissive umask (022, as cron and a login shell have) and checks what bridge
itself creates: the directory 0700; the database, its journal/WAL/shm and each lock file 0600.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge.store import Store
from bridge.store.permissions import exposed_state_files


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_its_directory_and_its_lock_files_are_private(tmp_path: Path) -> None:
    database = tmp_path / "new" / "state" / "bridge.sqlite3"
    store = Store.open(f"sqlite:///{database}")
    try:
        store.acquire_lock("incidents")
        assert mode(database) == 0o600
        assert mode(database.parent) == 0o700
        assert mode(database.parent.parent) == 0o700  # every directory bridge created
        lock = store.lock_path("incidents")
        assert lock is not None
        assert mode(lock) == 0o600
    finally:
        store.close()


@pytest.mark.parametrize("journal_mode", ["DELETE", "WAL"])
def test_sqlite_journals_inherit_the_private_mode(tmp_path: Path, journal_mode: str) -> None:
    """SQLite creates -journal, -wal and -shm with the database file's permissions: caught mid-write."""
    database = tmp_path / "bridge.sqlite3"
    store = Store.open(f"sqlite:///{database}")
    try:
        with store.engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA journal_mode={journal_mode}")
            connection.execute(text("CREATE TABLE scratch (v TEXT)"))
            connection.execute(text("INSERT INTO scratch VALUES ('a work note')"))
            companions = [p for p in tmp_path.iterdir() if p.name != database.name and "sqlite3-" in p.name]
            assert companions, "SQLite wrote no journal while a transaction was open"
            for path in companions:
                assert mode(path) == 0o600, path
            connection.rollback()
    finally:
        store.close()


def test_existing_files_are_left_as_they_are_and_reported(tmp_path: Path) -> None:
    database = tmp_path / "bridge.sqlite3"
    Store.open(f"sqlite:///{database}").close()
    assert exposed_state_files(database) == []
    database.chmod(0o640)
    Store.open(f"sqlite:///{database}").close()
    assert mode(database) == 0o640  # an administrator's choice (a backup group) is not undone
    lock = tmp_path / "bridge.sqlite3.incidents.lock"
    lock.write_text("1\n")
    lock.chmod(0o644)
    assert exposed_state_files(database) == [(database, 0o640), (lock, 0o644)]
