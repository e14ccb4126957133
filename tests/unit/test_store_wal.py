"""A SQLite state file runs in WAL mode with ``synchronous=NORMAL`` on every connection, and its ``-wal``
and ``-shm`` companions are private (0600) like the database, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.model import Side
from bridge.store import Store


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_wal_with_normal_sync_and_private_companions(tmp_path: Path, loose_umask: None) -> None:
    database = tmp_path / "state" / "bridge.sqlite3"
    store = Store.open(f"sqlite:///{database}")
    try:
        store.set_cursor("incidents", Side.ITSM, datetime(2026, 1, 1, tzinfo=UTC))
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            for suffix in ("-wal", "-shm"):
                companion = database.with_name(database.name + suffix)
                assert companion.exists(), suffix
                assert stat.S_IMODE(companion.stat().st_mode) == 0o600, suffix
    finally:
        store.close()


def test_an_in_memory_store_keeps_its_memory_journal() -> None:
    store = Store.open("sqlite:///:memory:")
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
    finally:
        store.close()
