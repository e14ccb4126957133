"""The store remembers each mapping's last cycle and last success (migration 0002), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.store import Store
from tests.fixtures.store import store, store_db_url  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_failed_cycle_keeps_the_last_success(store: Store) -> None:  # noqa: F811
    assert store.mapping_statuses() == {}
    store.record_cycle("incidents", ok=True, at=T0)
    store.record_cycle("incidents", ok=False, at=T0 + timedelta(minutes=1))
    store.record_cycle("changes", ok=False, at=T0)
    statuses = store.mapping_statuses()
    assert statuses["incidents"].last_success == T0
    assert statuses["incidents"].last_cycle == T0 + timedelta(minutes=1)
    assert statuses["incidents"].last_ok is False
    assert statuses["changes"].last_success is None
    store.record_cycle("incidents", ok=True, at=T0 + timedelta(minutes=2))
    assert store.mapping_statuses()["incidents"].last_success == T0 + timedelta(minutes=2)
    assert store.mapping_statuses()["incidents"].last_ok is True
