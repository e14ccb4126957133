"""A SQLite migration commits whole or not at all: a process killed half-way must not leave a database
that every later start refuses ("table links already exists", found by the kill -9 end-to-end test)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bridge.store import migrate


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_failing_sqlite_migration_leaves_no_table_behind(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:  # a table in the way of the third CREATE TABLE of the first revision
        db.execute("CREATE TABLE item_state (x INTEGER)")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(Exception, match="item_state"):
            migrate.upgrade(engine)
    finally:
        engine.dispose()
    assert tables(path) == {"item_state"}  # links, link_records and alembic_version rolled back


def test_a_complete_sqlite_migration_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
    assert {"links", "journal", "alembic_version"} <= tables(path)
