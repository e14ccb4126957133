"""Library loggers: SQLAlchemy never writes statements (or rows) into bridge's log, whatever the level;
APScheduler's per-run chatter is off unless DEBUG is asked for. A real SQLite store is used, so the
test fails if SQLAlchemy's engine logging ever comes back through the root logger."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bridge.logging import configure_logging
from bridge.store import Store


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_the_store_never_logs_sql(tmp_path: Path, level: str) -> None:
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream)
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")
        store.report_problem("m", "fp:customer-secret-data", "plan_problem", "customer-secret-data")
        assert store.errors("m")
        store.close()
        text = stream.getvalue()
        assert "customer-secret-data" not in text
        assert "SELECT" not in text
        assert "INSERT" not in text
    finally:
        configure_logging("INFO", "json")


def test_apscheduler_chatter_only_at_debug() -> None:
    import logging

    configure_logging("INFO", "json", stream=io.StringIO())
    assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.WARNING)
    configure_logging("DEBUG", "json", stream=io.StringIO())
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    configure_logging("INFO", "json")
