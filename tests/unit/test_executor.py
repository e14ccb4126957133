"""The executor with hand-made actions against the memory connectors and a real SQLite store:
journal-first writes, idempotency, crash reconciliation, error classes, the stop flag."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.connectors.memory import SimulatedCrash
from bridge.errors import AuthError, RateLimitedError, TransientError
from bridge.model import Marker, Ref, Side
from bridge.store import DONE, FAILED, PENDING, LeadershipLostError
from bridge.sync.actions import (
    AddComment,
    CreateIssue,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
    WriteBackReference,
)
from bridge.sync.executor import Executor, Outcome
from bridge.sync.pending import pending_issue
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def executor(world: World) -> Executor:
    return Executor(world.store, world.engine.connectors, world.spec, clock=world.clock, backoff_base=30)


def create(record: Ref) -> CreateIssue:
    return CreateIssue(
        mapping=M,
        link_id=None,
        record=record,
        project="OPS",
        issue_type="Bug",
        fields={"summary": f"{record.key}: Printer on fire", "priority": "Medium"},
        marker=record.token,
        labels=("bridge", "from-itsm"),
        record_fields={"summary": f"{record.key}: Printer on fire", "priority": "Medium"},
        record_status="1",
    )


def comment_to_issue(world: World, record: Ref, issue: Ref, comment_id: str, link_id: int | None) -> AddComment:
    return AddComment(M, link_id, issue, record, comment_id, "Jane Doe (ServiceNow) wrote:\nhello", "comment")


def linked(world: World) -> tuple[Ref, Ref, int]:
    record = world.incident()
    outcome = executor(world).apply(create(record))
    assert outcome.status == Outcome.DONE
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    return record, link.issue, link.id


def test_create_is_journaled_recorded_and_never_applied_twice(world: World) -> None:
    record = world.incident()
    action = create(record)
    first = executor(world).apply(action)
    again = executor(world).apply(action)
    assert (first.status, again.status) == (Outcome.DONE, Outcome.SKIPPED)
    assert len(world.jira.issues()) == 1
    issue = world.jira.issues()[0]
    assert record.token in issue.fields["labels"]  # the marker that finds it again after a crash
    state = world.store.load_link_states(M, [record.id], [])[0]
    assert state.issue.ref == issue.ref
    assert state.issue.fields == {"summary": f"{record.key}: Printer on fire", "priority": "Medium"}
    assert state.records[record.id].status == "1"
    assert world.store.journal_entry(action.key).state == DONE  # type: ignore[union-attr]


def test_crash_after_create_is_reconciled_by_marker_without_a_second_issue(world: World) -> None:
    record = world.incident()
    action = create(record)
    world.jira.crash_after_next_write("create")
    with pytest.raises(SimulatedCrash):
        executor(world).apply(action)
    assert world.store.journal_entry(action.key).state == PENDING  # type: ignore[union-attr]
    assert world.store.link_for_record(M, record.id) is None
    world.restart()
    [outcome] = executor(world).reconcile()
    assert outcome.status == Outcome.DONE
    assert outcome.adopted
    assert len(world.jira.issues()) == 1
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    assert link.issue.id == world.jira.issues()[0].ref.id


def test_pending_create_with_nothing_found_is_written_then(world: World) -> None:
    record = world.incident()
    action = create(record)
    world.jira.fail_next("create", TransientError("timeout", side="jira"))
    assert executor(world).apply(action).status == Outcome.PENDING
    assert world.jira.issues() == []
    world.clock.advance(seconds=31)
    [outcome] = executor(world).reconcile()
    assert outcome.status == Outcome.DONE
    assert not outcome.adopted
    assert len(world.jira.issues()) == 1


def test_crash_after_comment_is_adopted_by_marker(world: World) -> None:
    record, issue, link_id = linked(world)
    note = world.itsm.comment(record, "hello")
    action = comment_to_issue(world, record, issue, note.id, link_id)
    world.jira.crash_after_next_write("add_comment")
    with pytest.raises(SimulatedCrash):
        executor(world).apply(action)
    world.restart()
    [outcome] = executor(world).reconcile()
    assert outcome.adopted
    mirrors = [c for c in world.jira.comments(issue) if c.marker == Marker(Side.ITSM, note.id)]
    assert len(mirrors) == 1
    state = world.store.link_state(link_id)
    assert state is not None
    assert state.mirrored_to(Side.ITSM, note.id, issue.id)
    assert state.knows_comment(Side.JIRA, mirrors[0].id)


def test_crash_after_status_change_reads_the_status_instead_of_writing_again(world: World) -> None:
    _, issue, link_id = linked(world)
    action = SetStatus(
        M,
        link_id,
        issue,
        "In Progress",
        source_version="3",
        updates=(SyncedUpdate(Side.JIRA, issue.id, status="In Progress"),),
    )
    world.jira.crash_after_next_write("set_status")
    with pytest.raises(SimulatedCrash):
        executor(world).apply(action)
    posts_before = world.jira.calls.snapshot().get("POST /rest/api/3/issue/{issueIdOrKey}/transitions", 0)
    world.restart()
    [outcome] = executor(world).reconcile()
    assert outcome.adopted
    assert world.jira.calls.snapshot().get("POST /rest/api/3/issue/{issueIdOrKey}/transitions", 0) == posts_before
    state = world.store.link_state(link_id)
    assert state is not None
    assert state.issue.status == "In Progress"


def test_crash_after_field_update_repeats_it_harmlessly(world: World) -> None:
    _, issue, link_id = linked(world)
    action = UpdateFields(
        M, link_id, issue, {"priority": "High"}, updates=(SyncedUpdate(Side.JIRA, issue.id, {"priority": "High"}),)
    )
    world.jira.crash_after_next_write("update_fields")
    with pytest.raises(SimulatedCrash):
        executor(world).apply(action)
    world.restart()
    [outcome] = executor(world).reconcile()
    assert outcome.status == Outcome.DONE
    assert world.jira.issue(issue).fields["priority"] == "High"


def test_follow_up_waits_for_its_create_then_is_resolved(world: World) -> None:
    record = world.incident()
    placeholder = pending_issue(record)
    backref = WriteBackReference(
        M, None, record, placeholder, {"correlation_id": placeholder.key, "correlation_display": placeholder.url}
    )
    world.jira.fail_next("create", TransientError("timeout", side="jira"))
    outcomes = executor(world).execute([create(record), backref])
    assert [o.status for o in outcomes] == [Outcome.PENDING, Outcome.BLOCKED]
    assert world.itsm.record(record).fields.get("correlation_id", "") == ""
    world.clock.advance(seconds=60)
    reconciled = executor(world).reconcile()
    assert [o.status for o in reconciled] == [Outcome.DONE, Outcome.DONE]
    key = world.issue_of(record)
    assert world.itsm.record(record).fields["correlation_id"] == key
    assert world.itsm.record(record).fields["correlation_display"].endswith(f"/browse/{key}")
    assert world.store.journal_entry(backref.key).state == DONE  # type: ignore[union-attr]


def test_transient_failure_backs_off_and_rate_limits_honour_retry_after(world: World) -> None:
    _, issue, link_id = linked(world)
    action = UpdateFields(M, link_id, issue, {"priority": "High"})
    world.jira.fail_next("update_fields", RateLimitedError("429", retry_after=120, side="jira"))
    assert executor(world).apply(action).status == Outcome.PENDING
    entry = world.store.journal_entry(action.key)
    assert entry is not None
    assert entry.attempts == 1
    assert entry.next_attempt_at == world.clock() + timedelta(seconds=120)
    assert executor(world).reconcile() == []  # not due yet
    world.clock.advance(seconds=121)
    assert [o.status for o in executor(world).reconcile()] == [Outcome.DONE]


def test_permanent_failure_goes_on_the_error_list_and_the_rest_flows(world: World) -> None:
    _record, issue, link_id = linked(world)
    refused = SetStatus(M, link_id, issue, "Done", source_version="9")  # Jira demands a resolution
    fine = UpdateFields(M, link_id, issue, {"priority": "High"})
    outcomes = executor(world).execute([refused, fine])
    assert [o.status for o in outcomes] == [Outcome.FAILED, Outcome.DONE]
    [error] = world.store.errors(M)
    assert error.kind == "workflow"
    assert "Field Resolution is required" in error.message
    assert error.item_ref == issue.key
    assert world.store.journal_entry(refused.key).state == FAILED  # type: ignore[union-attr]
    assert refused.key in world.store.pending_keys(M)


def test_auth_error_stops_and_keeps_the_action_pending(world: World) -> None:
    _, issue, link_id = linked(world)
    action = UpdateFields(M, link_id, issue, {"priority": "High"})
    world.jira.fail_next("update_fields", AuthError("401", side="jira", status=401))
    with pytest.raises(AuthError):
        executor(world).execute([action, UpdateFields(M, link_id, issue, {"priority": "Low"})])
    assert world.store.journal_entry(action.key).state == PENDING  # type: ignore[union-attr]
    assert world.store.errors(M) == []


def test_conflict_is_reported_without_any_write(world: World) -> None:
    record, issue, link_id = linked(world)
    before = world.jira.calls.total + world.itsm.calls.total
    conflict = ReportConflict(M, link_id, "priority", record, issue, "High", "Low")
    assert executor(world).apply(conflict).status == Outcome.REPORTED
    assert executor(world).apply(conflict).status == Outcome.FAILED  # already on the error list
    assert world.jira.calls.total + world.itsm.calls.total == before
    [error] = world.store.errors(M)
    assert error.kind == "conflict"
    assert "'High'" in error.message
    assert "'Low'" in error.message


def test_stop_flag_finishes_the_current_action_and_skips_the_rest(world: World) -> None:
    _, issue, link_id = linked(world)
    ex = executor(world)
    world.jira.after_write = lambda operation, ref: ex.stop.set()
    first = UpdateFields(M, link_id, issue, {"priority": "High"})
    second = UpdateFields(M, link_id, issue, {"priority": "Low"})
    outcomes = ex.execute([first, second])
    assert [o.status for o in outcomes] == [Outcome.DONE, Outcome.NOT_RUN]
    assert world.jira.issue(issue).fields["priority"] == "High"
    # journaled before the stop: the next run applies it first thing, nothing is forgotten
    assert world.store.journal_entry(second.key).state == PENDING  # type: ignore[union-attr]
    world.jira.after_write = None
    assert [o.status for o in executor(world).reconcile()] == [Outcome.DONE]
    assert world.jira.issue(issue).fields["priority"] == "Low"


def test_the_same_values_wanted_again_later_are_written_again(world: World) -> None:
    _, issue, link_id = linked(world)
    high = UpdateFields(M, link_id, issue, {"priority": "High"})
    assert executor(world).apply(high).status == Outcome.DONE
    assert executor(world).apply(UpdateFields(M, link_id, issue, {"priority": "Low"})).status == Outcome.DONE
    assert executor(world).apply(high).status == Outcome.DONE  # A -> B -> A: not "already done"
    assert world.jira.issue(issue).fields["priority"] == "High"
    trail = [e for e in world.store.journal_for_link(link_id) if e.kind == "update_fields"]
    assert len(trail) == 3  # the first High stays in the audit trail under an archived key


def test_a_whole_plan_is_journaled_before_the_first_write(world: World) -> None:
    record = world.incident()
    placeholder = pending_issue(record)
    backref = WriteBackReference(M, None, record, placeholder, {"correlation_id": placeholder.key})
    world.jira.crash_after_next_write("create")
    with pytest.raises(SimulatedCrash):
        executor(world).execute([create(record), backref])
    world.restart()
    assert [o.status for o in executor(world).reconcile()] == [Outcome.DONE, Outcome.DONE]
    assert world.itsm.record(record).fields["correlation_id"] == world.issue_of(record)


def test_lost_leadership_stops_writes(world: World) -> None:
    _, issue, link_id = linked(world)
    lock = world.store.acquire_lock(M)
    ex = Executor(world.store, world.engine.connectors, world.spec, lock=lock, clock=world.clock)
    world.store.release_lock(M)
    before = world.jira.calls.total
    with pytest.raises(LeadershipLostError):
        ex.apply(UpdateFields(M, link_id, issue, {"priority": "High"}))
    assert world.jira.calls.total == before
