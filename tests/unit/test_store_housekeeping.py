"""Housekeeping: cached values expire; the journal's retention prunes only what no open link needs, at
most once a day (SQLite and PostgreSQL, see tests/fixtures/store.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.store import DONE, Store
from tests.fixtures.store import store, store_db_url  # noqa: F401
from tests.unit.test_store import M, create_action, linked

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)


def test_a_cached_value_lives_until_it_expires(store: Store) -> None:  # noqa: F811
    assert store.cached("jira:fields", T0) is None
    store.cache("jira:fields", [{"id": "summary"}], timedelta(hours=1), T0)
    assert store.cached("jira:fields", T0 + timedelta(minutes=59)) == [{"id": "summary"}]
    assert store.cached("jira:fields", T0 + timedelta(hours=1)) is None
    store.cache("jira:fields", ["again"], None, T0)  # replaced, and kept without expiry
    assert store.cached("jira:fields", T0 + timedelta(days=999)) == ["again"]


def test_pruning_keeps_open_links_and_unfinished_rows(store: Store) -> None:  # noqa: F811
    open_link, closed_link = linked(store, 1), linked(store, 2)
    store.close_link(closed_link, "deleted")
    pending = store.journal_begin(create_action(3))
    later = datetime.now(UTC) + RETENTION + timedelta(days=1)
    assert store.prune_journal(RETENTION, later) == 1  # the closed link's done create
    assert [e.state for e in store.journal_for_link(open_link)] == [DONE]
    assert store.journal_for_link(closed_link) == []
    assert store.journal_get(pending.id) is not None
    assert store.prune_journal(RETENTION, datetime.now(UTC)) == 0  # nothing is old yet


def test_pruning_runs_at_most_once_a_day(store: Store) -> None:  # noqa: F811
    now = datetime.now(UTC)
    assert store.prune_if_due(RETENTION, now) == 0
    closed = linked(store, 1)
    store.close_link(closed, "deleted")
    assert store.prune_if_due(RETENTION, now + RETENTION + timedelta(hours=1)) == 1
    store.close_link(linked(store, 2), "deleted")
    assert store.prune_if_due(RETENTION, now + RETENTION + timedelta(hours=2)) is None  # ran an hour ago
    assert store.prune_if_due(RETENTION, now + RETENTION + timedelta(days=1, hours=2)) == 1
    store.record_cycle(M, True, retention=RETENTION)  # a cycle's end prunes when due: not due now
