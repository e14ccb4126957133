"""The store's SQLite fault mapping (bridge/store/faults.py), in process: fast companions of
tests/e2e/test_sqlite_faults.py, which runs the same faults through the CLI on real files and a real full disk.

SQLite produces each result code here for real: ``PRAGMA max_page_count`` makes the pager answer
``SQLITE_FULL`` exactly as ``ENOSPC`` does, and ``PRAGMA query_only`` makes a write ``SQLITE_READONLY``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreError, StoreUnavailableError
from bridge.exitcodes import ExitCode, exit_code_for
from bridge.store import Store
from bridge.store.faults import check_file, store_error
from bridge.store.repositories.base import reason


def _made(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.sqlite3"
    Store.open(f"sqlite:///{path}").close()
    return path


def _garbage(data: bytes) -> bytes:
    return b"not a database " * (len(data) // 15)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _garbage_page(data: bytes) -> bytes:
    return data[:4096] + bytes(range(256)) * 16 + data[8192:]


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_garbage, "file is not a database"),
        (_truncated, "it is truncated"),
        (_garbage_page, "database disk image is malformed"),
        (lambda _data: b"", "it is empty (0 bytes)"),
    ],
    ids=["not-a-database", "truncated", "garbage-page", "empty"],
)
def test_a_damaged_file_is_refused_untouched_with_what_to_do(
    tmp_path: Path, damage: Callable[[bytes], bytes], says: str
) -> None:
    path = _made(tmp_path)
    damaged = damage(path.read_bytes())
    path.write_bytes(damaged)
    for write in (True, False):
        with pytest.raises(StoreUnavailableError) as caught:
            Store.open(f"sqlite:///{path}", write=write)
        assert caught.value.kind == "corrupt"
        assert str(caught.value).startswith(f"the state database {path} is damaged: ")
        assert says in str(caught.value)
        assert any("restore the last backup" in p for p in caught.value.problems)
        assert any("bridge adopt" in p for p in caught.value.problems)
        assert exit_code_for(caught.value) == ExitCode.UNREACHABLE
    assert path.read_bytes() == damaged


def test_a_missing_file_is_still_created_and_an_intact_one_opens(tmp_path: Path) -> None:
    path = _made(tmp_path)
    check_file(path, write=True)
    Store.open(f"sqlite:///{path}").close()


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bridge.sqlite3").mkdir()
    with pytest.raises(StoreUnavailableError, match="not a regular file"):
        Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")


def _pragma_on_connect(store: Store, pragma: str) -> None:
    store.engine.dispose()
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.execute(pragma))


def _write(store: Store, rows: int) -> None:
    """Rows of a scratch table, in one store transaction (as :meth:`Store.apply` writes)."""
    with store.transaction(), store._conn() as c:
        c.exec_driver_sql("CREATE TABLE scratch (x TEXT)")
        for _ in range(rows):
            c.exec_driver_sql("INSERT INTO scratch VALUES (?)", ("x" * 500,))


def test_a_full_database_is_sqlite_full_with_what_to_do_and_the_transaction_is_rolled_back(tmp_path: Path) -> None:
    path = _made(tmp_path)
    store = Store.open(f"sqlite:///{path}")
    try:
        pages = path.stat().st_size // 4096
        _pragma_on_connect(store, f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreUnavailableError) as caught:
            _write(store, 2000)
        assert caught.value.kind == "full"
        assert "database or disk is full" in str(caught.value)
        assert any("stays pending" in p for p in caught.value.problems)
        with store._conn() as c:
            tables = [r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'scratch'")]
        assert tables == [], "the failed transaction left something behind"
    finally:
        store.close()


def test_a_write_refused_as_read_only_says_who_must_be_given_access(tmp_path: Path) -> None:
    path = _made(tmp_path)
    store = Store.open(f"sqlite:///{path}")
    try:
        _pragma_on_connect(store, "PRAGMA query_only=1")
        with pytest.raises(StoreUnavailableError) as caught:
            _write(store, 1)
        assert caught.value.kind == "read_only"
        assert f"the state database {path} is read-only" in str(caught.value)
        assert any("write access" in p for p in caught.value.problems)
    finally:
        store.close()


def test_other_database_errors_stay_plain_store_errors(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{_made(tmp_path)}")
    try:
        with store._conn() as c:
            try:
                c.exec_driver_sql("SELECT * FROM no_such_table")
            except SQLAlchemyError as exc:
                error = store_error(exc, store.engine, "state store failed", reason(exc))
        assert type(error) is StoreError
        assert str(error) == "state store failed: no such table: no_such_table"
    finally:
        store.close()
