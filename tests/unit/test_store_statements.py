"""The store's cheap paths (bench/README.md §7, "SQL per change"), on SQLite and on a real PostgreSQL:
journaling without a read, synced values merged in the database, a new link without reads, the open
action errors the executor reads once per run. Each proves the result is what the slow path gave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bridge.core.actions import SyncedUpdate, UpdateFields
from bridge.model import Side
from bridge.store import DONE, FAILED, PENDING, Store
from bridge.sync.effects import ActionResult, effects_for
from tests.fixtures.store import store, store_db_url  # noqa: F401
from tests.unit.test_store import M, create_action, iss, linked, rec


@contextmanager
def counted(store: Store) -> Iterator[list[str]]:  # noqa: F811
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def fields(n: int) -> UpdateFields:
    return UpdateFields(M, None, iss(1), {"priority": str(n)},
                        updates=(SyncedUpdate(Side.JIRA, iss(1).id, {"priority": str(n)}),))


def test_journal_start_tells_new_rows_from_journaled_ones(store: Store) -> None:  # noqa: F811
    first, second = fields(1), fields(2)
    with counted(store) as statements:
        started = store.journal_start([(first, False), (second, True)])
    assert [new for _, new in started] == [True, True]
    assert len(statements) == 2  # one INSERT … ON CONFLICT DO NOTHING … RETURNING each, no read
    again = store.journal_start([(first, False), (second, True)])
    assert [(entry.id, new, entry.state) for entry, new in again] == [
        (started[0][0].id, False, PENDING), (started[1][0].id, False, PENDING)]
    store.apply(started[1][0].id, effects_for(second, ActionResult()))
    [(done, new)] = store.journal_start([(second, False)])
    assert (done.state, new) == (DONE, False)  # done and not to be superseded: the caller skips it
    [(fresh, new)] = store.journal_start([(second, True)])
    assert new
    assert fresh.id != done.id
    assert fresh.state == PENDING
    assert store.journal_get(done.id).key == f"{second.key}#{done.id}"  # type: ignore[union-attr]


def test_synced_values_merge_in_the_database_without_a_read(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    odd = {"a": "x", "list": ("p", "q"), "none": None, "dotted.name": "é", 'quote"d': 1.5, "flag": True}
    store.record_synced(link_id, SyncedUpdate(Side.ITSM, "sys1", odd, "2"))
    with counted(store) as statements:
        store.record_synced(link_id, SyncedUpdate(Side.ITSM, "sys1", {"a": "y", "n": 3, "flag": False}))
    assert len(statements) == 1
    state = store.link_state(link_id)
    assert state is not None
    assert dict(state.records["sys1"].fields) == {
        "summary": "Printer 1 on fire", "labels": ("a", "b"), "a": "y", "list": ("p", "q"), "none": None,
        "dotted.name": "é", 'quote"d': 1.5, "flag": False, "n": 3,
    }
    assert state.records["sys1"].status == "2"
    store.record_synced(link_id, SyncedUpdate(Side.ITSM, "sys9", {"new": "row"}))  # no row yet: inserted
    assert store.synced_marks(link_id, Side.ITSM, "sys9") == (None, "")
    assert store.synced_marks(link_id, Side.JIRA, iss(1).id) == ("To Do", "v1")
    assert store.synced_marks(link_id, Side.ITSM, "nothing") is None


def test_a_new_link_is_written_without_a_read_and_returned_as_written(store: Store) -> None:  # noqa: F811
    action = create_action(1)
    entry = store.journal_begin(action)
    with counted(store) as statements:
        applied = store.apply_effects(entry.id, effects_for(action, ActionResult(issue=iss(1), issue_status="To Do")))
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert applied.made is not None
    assert applied.link_id == applied.made.id
    assert store.link_by_id(applied.link_id) == applied.made
    # the same record again (a crash between the write and the done mark, reconciled): joins, makes nothing
    other = store.journal_start([(action, True)])[0][0]
    assert store.apply_effects(other.id, effects_for(action, ActionResult(issue=iss(1)))).made is None


def test_open_action_errors_are_the_failed_rows_and_their_slots(store: Store) -> None:  # noqa: F811
    assert store.open_action_errors(M) == (set(), set())
    entry = store.journal_begin(fields(1))
    store.journal_fail(entry.id, "refused", slot="slot-1")
    store.report_problem(M, "record:sys1", "unreadable", "not an action")
    assert store.open_action_errors(M) == ({entry.id}, {"journal:slot-1"})
    assert store.open_action_errors("other") == (set(), set())
    [error] = [e for e in store.errors(M) if e.journal_id == entry.id]
    store.retry_error(error.id)
    assert store.open_action_errors(M) == (set(), set())
    assert store.journal_get(entry.id).state in (PENDING, FAILED)  # type: ignore[union-attr]


def test_a_record_that_is_linked_already_is_not_linked_twice(store: Store) -> None:  # noqa: F811
    linked(store, 1)
    action = create_action(1)
    entry = store.journal_start([(action, True)])[0][0]
    applied = store.apply_effects(entry.id, effects_for(action, ActionResult(issue=iss(2))))
    assert applied.made is None  # a new issue, but the record belongs to its first link
    assert store.link_for_record(M, rec(1).id).issue == iss(1)  # type: ignore[union-attr]
