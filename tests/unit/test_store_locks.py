"""One writer per mapping on SQLite: an flock next to the database file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.errors import LockHeldError
from bridge.store import LeadershipLostError, Store


def test_second_store_on_the_same_file_cannot_take_the_mapping(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    first, second = Store.open(url), Store.open(url)
    try:
        lock = first.acquire_lock("incidents")
        assert first.acquire_lock("incidents") is lock  # re-entrant for its holder
        with pytest.raises(LockHeldError):
            second.acquire_lock("incidents")
        second.acquire_lock("changes")  # another mapping is independent
        first.release_lock("incidents")
        second.acquire_lock("incidents").check()
        with pytest.raises(LeadershipLostError):
            lock.check()
    finally:
        first.close()
        second.close()


def test_lock_held_by_another_process_and_freed_when_it_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from bridge.store import Store; s = Store.open(sys.argv[1]); "
            "s.acquire_lock('incidents'); print('held', flush=True); sys.stdin.read()",
            url,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    store = Store.open(url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match="another bridge process"):
            store.acquire_lock("incidents")
        holder.kill()  # a crash, not a clean release
        holder.wait(timeout=30)
        store.acquire_lock("incidents").check()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        store.close()


def test_in_memory_database_locks_within_the_process() -> None:
    store = Store.open("sqlite://")
    try:
        store.acquire_lock("incidents").check()
        assert store.link_count("incidents") == 0
    finally:
        store.close()
