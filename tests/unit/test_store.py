"""The state store, run once on SQLite and once on a real PostgreSQL (see tests/fixtures/store.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event

from bridge.core.actions import (
    AddComment,
    CreateIssue,
    LinkExisting,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
)
from bridge.core.effects import MarkDone, NewLink
from bridge.core.state import CommentPair
from bridge.errors import StoreError
from bridge.model import Ref, Side
from bridge.store import DONE, FAILED, PENDING, Store
from bridge.store.migrate import current_revision, head_revision
from bridge.store.tables import metadata
from bridge.sync.effects import ActionResult, effects_for
from tests.fixtures.store import store, store_db_url  # noqa: F401

M = "incidents"


def rec(n: int) -> Ref:
    return Ref(Side.ITSM, "incident", f"sys{n}", f"INC{n:07d}", f"https://snow/{n}")


def iss(n: int) -> Ref:
    return Ref(Side.JIRA, "issue", str(10000 + n), f"OPS-{n}", f"https://jira/OPS-{n}")


def create_action(n: int) -> CreateIssue:
    return CreateIssue(
        mapping=M,
        link_id=None,
        record=rec(n),
        project="OPS",
        issue_type="Bug",
        fields={"summary": f"Printer {n} on fire", "labels": ("a", "b")},
        marker=rec(n).token,
        record_fields={"summary": f"Printer {n} on fire", "labels": ("a", "b")},
        record_status="2",
    )


def linked(store: Store, n: int) -> int:  # noqa: F811
    action = create_action(n)
    entry = store.journal_begin(action)
    link = store.apply(
        entry.id,
        effects_for(action, ActionResult(issue=iss(n), issue_status="To Do", issue_version="v1", remote_id=iss(n).id)),
    )
    assert link is not None
    return link.id


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:  # noqa: F811
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert diff == []


def test_reopening_a_migrated_database_is_a_no_op(store_db_url: str) -> None:  # noqa: F811
    first = Store.open(store_db_url)
    first.create_link(M, iss(1), [rec(1)])
    first.close()
    second = Store.open(store_db_url)
    try:
        assert second.link_count(M) == 1
    finally:
        second.close()


def test_create_issue_success_records_link_and_both_sides_synced_values(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    [state] = store.load_link_states(M, ["sys1"], [])
    assert state.link.id == link_id
    assert state.link.issue == iss(1)
    assert state.link.records == (rec(1),)
    assert state.issue.fields == {"summary": "Printer 1 on fire", "labels": ("a", "b")}
    assert state.issue.status == "To Do"
    assert state.issue.version == "v1"
    assert state.records["sys1"].status == "2"
    assert store.journal_entry(create_action(1).key).state == DONE  # type: ignore[union-attr]
    assert store.journal_entry(create_action(1).key).remote_id == iss(1).id  # type: ignore[union-attr]


def test_load_link_states_returns_only_the_links_asked_for(store: Store) -> None:  # noqa: F811
    for n in range(1, 6):
        linked(store, n)
    states = store.load_link_states(M, ["sys2"], [iss(4).id, "unknown"])
    assert sorted(s.link.issue.key for s in states) == ["OPS-2", "OPS-4"]
    assert store.load_link_states("other-mapping", ["sys2"], [iss(4).id]) == []
    assert store.link_count(M) == 5
    assert store.link_count("other-mapping") == 0


def test_load_link_states_is_a_few_batched_queries_for_many_ids(store: Store) -> None:  # noqa: F811
    for n in range(30):
        linked(store, n)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        ids = [f"sys{n}" for n in range(1200)]
        states = store.load_link_states(M, ids, [iss(n).id for n in range(1200)])
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(states) == 30
    # 3 chunks of records + 3 of issues + links/records/state/comments for one chunk of link ids
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 10


def test_link_existing_fans_records_into_one_link(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    action = LinkExisting(M, None, rec(2), "OPS-1", record_fields={"summary": "other"}, record_status="1")
    entry = store.journal_begin(action)
    link = store.apply(entry.id, effects_for(action, ActionResult(issue=iss(1), issue_status="To Do")))
    assert link is not None
    assert link.id == link_id
    assert link.records == (rec(1), rec(2))
    [state] = store.load_link_states(M, ["sys2"], [])
    assert set(state.records) == {"sys1", "sys2"}
    assert state.records["sys2"].fields == {"summary": "other"}
    assert store.find_link("INC0000002") == link
    assert store.find_link("OPS-1") == link
    assert store.find_link(str(link_id)) == link


def test_a_record_belongs_to_one_link_per_mapping(store: Store) -> None:  # noqa: F811
    store.create_link(M, iss(1), [rec(1)])
    with pytest.raises(StoreError):
        store.create_link(M, iss(2), [rec(1)])
    store.create_link("changes", iss(2), [rec(1)])
    assert store.link_count(M) == 1


def test_synced_updates_merge_over_stored_values(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    action = UpdateFields(
        M,
        link_id,
        iss(1),
        {"priority": "High"},
        updates=(
            SyncedUpdate(Side.JIRA, iss(1).id, {"priority": "High"}),
            SyncedUpdate(Side.ITSM, "sys1", {"priority": "High"}),
        ),
    )
    entry = store.journal_begin(action)
    store.apply(entry.id, effects_for(action, ActionResult()))
    state = store.link_state(link_id)
    assert state is not None
    assert state.issue.fields == {"summary": "Printer 1 on fire", "labels": ("a", "b"), "priority": "High"}
    assert state.records["sys1"].fields["priority"] == "High"
    status = SetStatus(
        M, None, iss(1), "Done", source_version="7", updates=(SyncedUpdate(Side.JIRA, iss(1).id, status="Done"),)
    )
    entry = store.journal_begin(status)
    store.apply(entry.id, effects_for(status, ActionResult()))
    state = store.link_state(link_id)
    assert state is not None
    assert state.issue.status == "Done"
    assert store.journal_get(entry.id).link_id == link_id  # type: ignore[union-attr]


def test_comment_pairs_are_recorded_once_and_survive_a_resync(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    action = AddComment(M, link_id, iss(1), rec(1), "c1", "hello", "comment")
    entry = store.journal_begin(action)
    store.apply(entry.id, effects_for(action, ActionResult(comment_id="jc9")))
    store.add_comment_pair(link_id, CommentPair(Side.ITSM, "c1", "sys1", iss(1).id, "jc9"))
    state = store.link_state(link_id)
    assert state is not None
    assert state.comments == (CommentPair(Side.ITSM, "c1", "sys1", iss(1).id, "jc9"),)
    assert state.knows_comment(Side.JIRA, "jc9")
    store.forget_synced(link_id)
    state = store.link_state(link_id)
    assert state is not None
    assert state.issue.fields == {}
    assert state.issue.version == ""
    assert len(state.comments) == 1


def test_apply_success_is_all_or_nothing(store: Store) -> None:  # noqa: F811
    action = create_action(1)
    entry = store.journal_begin(action)
    with pytest.raises(StoreError):
        store.apply(entry.id, effects_for(action, ActionResult(issue=None)))
    assert store.journal_get(entry.id).state == PENDING  # type: ignore[union-attr]
    assert store.link_count(M) == 0


def test_apply_writes_every_effect_or_none(store: Store) -> None:  # noqa: F811
    action = create_action(1)
    entry = store.journal_begin(action)
    effects = [NewLink(M, iss(1), rec(1)), MarkDone("{}"), object()]
    with pytest.raises(StoreError):
        store.apply(entry.id, effects)  # type: ignore[arg-type]
    assert store.journal_get(entry.id).state == PENDING  # type: ignore[union-attr]
    assert store.link_count(M) == 0


def test_journal_begin_is_idempotent_and_transient_failures_back_off(store: Store) -> None:  # noqa: F811
    action = create_action(1)
    first = store.journal_begin(action)
    again = store.journal_begin(action)
    assert first.id == again.id
    assert again.action == action
    later = datetime.now(UTC) + timedelta(minutes=5)
    store.journal_retry_later(first.id, "timeout", later)
    entry = store.journal_get(first.id)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.last_error) == (PENDING, 1, "timeout")
    assert entry.next_attempt_at == later
    assert store.pending_entries(M, due_before=datetime.now(UTC)) == []
    assert [e.id for e in store.pending_entries(M, due_before=later)] == [first.id]
    assert store.pending_keys(M) == {action.key}


def test_failed_action_goes_on_the_error_list_and_retry_requeues_it(store: Store) -> None:  # noqa: F811
    action = create_action(1)
    entry = store.journal_begin(action)
    error = store.journal_fail(entry.id, "issue type Bug does not exist", item_ref="INC0000001")
    assert store.journal_get(entry.id).state == FAILED  # type: ignore[union-attr]
    assert [e.id for e in store.errors(M)] == [error.id]
    assert error.journal_id == entry.id
    assert error.item_ref == "INC0000001"
    assert not error.resolved
    assert store.open_error_count(M) == 1
    assert action.key in store.pending_keys(M)
    store.retry_error(error.id)
    assert store.errors(M) == []
    assert [e.id for e in store.pending_entries(M, due_before=datetime.now(UTC))] == [entry.id]
    assert store.journal_get(entry.id).attempts == 0  # type: ignore[union-attr]
    store.apply(entry.id, effects_for(action, ActionResult(issue=iss(1))))
    assert store.errors(M, include_resolved=True)[0].resolved


def test_reported_conflict_retry_lets_the_planner_look_again(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    conflict = ReportConflict(M, link_id, "priority", rec(1), iss(1), "High", "Low")
    error = store.journal_report(conflict, conflict.describe(), kind="conflict", item_ref="OPS-1")
    assert conflict.key in store.pending_keys(M)
    assert store.errors(M)[0].kind == "conflict"
    store.retry_error(error.id)
    assert conflict.key not in store.pending_keys(M)
    assert store.journal_entry(conflict.key) is None
    with pytest.raises(StoreError):
        store.retry_error(999_999)


def test_problems_are_deduplicated_counted_and_come_back_when_seen_again(store: Store) -> None:  # noqa: F811
    first = store.report_problem(M, "template:sys1:summary", "template_error", "undefined 'x'", item_ref="INC1")
    second = store.report_problem(M, "template:sys1:summary", "template_error", "undefined 'y'", item_ref="INC1")
    assert first.id == second.id
    assert second.count == 2
    assert second.message == "undefined 'y'"
    assert second.last_seen >= first.first_seen
    store.resolve_problems(M, ["template:sys1:summary"])
    assert store.errors(M) == []
    third = store.report_problem(M, "template:sys1:summary", "template_error", "again", item_ref="INC1")
    assert not third.resolved
    assert third.count == 3


def test_cursors_round_trip_as_aware_utc(store: Store) -> None:  # noqa: F811
    assert store.get_cursor(M, Side.ITSM) is None
    value = datetime(2026, 3, 29, 2, 30, 15, 123000, tzinfo=timezone(timedelta(hours=2)))
    store.set_cursor(M, Side.ITSM, value)
    got = store.get_cursor(M, Side.ITSM)
    assert got == value
    assert got is not None
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    store.set_cursor(M, Side.ITSM, value + timedelta(seconds=1))
    assert store.get_cursor(M, Side.ITSM) == value + timedelta(seconds=1)
    assert store.get_cursor(M, Side.JIRA) is None


def test_naive_datetimes_are_refused(store: Store) -> None:  # noqa: F811
    with pytest.raises((ValueError, StoreError)):
        store.set_cursor(M, Side.ITSM, datetime(2026, 1, 1))


def test_audit_trail_of_a_link(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    comment = AddComment(M, link_id, iss(1), rec(1), "c1", "hello", "comment")
    entry = store.journal_begin(comment)
    store.journal_fail(entry.id, "comment too long")
    trail = store.journal_for_link(link_id)
    assert [(e.kind, e.state) for e in trail] == [("create_issue", DONE), ("add_comment", FAILED)]
    assert store.journal_counts(M) == {DONE: 1, FAILED: 1}


def test_mark_seen_keeps_synced_values(store: Store) -> None:  # noqa: F811
    link_id = linked(store, 1)
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store.mark_seen(link_id, Side.ITSM, "sys1", "42", at)
    state = store.link_state(link_id)
    assert state is not None
    assert state.records["sys1"].version == "42"
    assert state.records["sys1"].updated == at
    assert state.records["sys1"].status == "2"
