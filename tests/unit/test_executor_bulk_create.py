"""The executor's bulk creates: every create of a plan goes to ``create_many`` (before the follow-ups),
each element is settled on its own, and a crash in the middle of a bulk call is reconciled by marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.connectors.memory import SimulatedCrash
from bridge.errors import PermanentError, TransientError
from bridge.model import Ref, Side
from bridge.store import DONE, FAILED, PENDING
from bridge.sync.actions import CreateIssue, SetStatus, UpdateFields, WriteBackReference
from bridge.sync.executor import Executor, Outcome
from bridge.sync.executor_parts import journal_chunks
from bridge.sync.pending import pending_issue
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    w.jira.create_batch_size = 50  # the port's bulk size: the memory fake then gets create_many calls
    yield w
    w.close()


def executor(world: World) -> Executor:
    return Executor(world.store, world.engine.connectors, world.spec, clock=world.clock, backoff_base=30)


def create(record: Ref) -> CreateIssue:
    return CreateIssue(
        mapping=M, link_id=None, record=record, project="OPS", issue_type="Bug",
        fields={"summary": f"{record.key}: Printer on fire", "priority": "Medium"}, marker=record.token,
        labels=("bridge", "from-itsm"), record_fields={"summary": f"{record.key}: Printer on fire"}, record_status="1",
    )


def follow_up(record: Ref) -> WriteBackReference:
    placeholder = pending_issue(record)
    return WriteBackReference(M, None, record, placeholder, {"correlation_id": placeholder.key})


def test_creates_of_a_plan_go_in_one_bulk_call_and_follow_ups_run_after_their_own_create(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(3)]
    plan = [a for r in records for a in (create(r), follow_up(r))]  # the planner's order: interleaved
    outcomes = executor(world).execute(plan)
    assert [o.status for o in outcomes] == [Outcome.DONE] * 6
    assert world.jira.calls.snapshot().get("POST /rest/api/3/issue") == 3  # the fake loops create: 3 writes
    issues = {i.ref.id: i for i in world.jira.issues()}
    assert len(issues) == 3
    for record in records:
        link = world.store.link_for_record(M, record.id)
        assert link is not None
        assert link.issue.id in issues
        assert world.itsm.record(record).fields["correlation_id"] == link.issue.key


def test_a_refused_element_goes_on_the_error_list_alone(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(3)]
    world.jira.fail_next("create", PermanentError("summary: too long", side="jira", status=400))
    outcomes = executor(world).execute([create(r) for r in records])
    assert [o.status for o in outcomes] == [Outcome.FAILED, Outcome.DONE, Outcome.DONE]
    [error] = world.store.errors(M)
    assert error.item_ref == records[0].key
    assert "summary: too long" in error.message
    assert world.store.journal_entry(create(records[0]).key).state == FAILED  # type: ignore[union-attr]
    assert [world.store.link_for_record(M, r.id) is not None for r in records] == [False, True, True]


def test_a_transient_failure_defers_the_element_and_those_not_tried(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(3)]
    world.jira.fail_next("create", PermanentError("refused", side="jira", status=400))
    world.jira.fail_next("create", TransientError("timeout", side="jira"))
    outcomes = executor(world).execute([create(r) for r in records])
    assert [o.status for o in outcomes] == [Outcome.FAILED, Outcome.PENDING, Outcome.PENDING]
    assert world.jira.issues() == []
    world.clock.advance(seconds=31)
    assert [o.status for o in executor(world).reconcile()] == [Outcome.DONE, Outcome.DONE]
    assert len(world.jira.issues()) == 2


def test_a_crash_inside_the_bulk_call_is_reconciled_by_marker_without_duplicates(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(3)]
    plan = [create(r) for r in records] + [SetStatus(M, None, pending_issue(records[0]), "In Progress")]
    world.jira.crash_after_next_write("create")  # the first issue is made, then the process dies
    with pytest.raises(SimulatedCrash):
        executor(world).execute(plan)
    assert len(world.jira.issues()) == 1
    assert all(world.store.journal_entry(a.key).state == PENDING for a in plan)  # type: ignore[union-attr]
    world.restart()
    outcomes = executor(world).reconcile()
    assert [o.status for o in outcomes] == [Outcome.DONE] * 4
    assert [o.adopted for o in outcomes[:3]] == [True, False, False]
    assert len(world.jira.issues()) == 3  # none twice
    assert all(world.store.journal_entry(a.key).state == DONE for a in plan)  # type: ignore[union-attr]
    link = world.store.link_for_record(M, records[0].id)
    assert link is not None
    assert world.jira.issue(link.issue.key).status == "In Progress"


def test_a_status_follow_up_that_the_new_issue_already_has_costs_no_call(world: World) -> None:
    record = world.incident()
    initial = SetStatus(M, None, pending_issue(record), "To Do")
    moved = SetStatus(M, None, pending_issue(record), "In Progress", source_version="2")
    outcomes = executor(world).execute([create(record), initial, moved])
    assert [o.status for o in outcomes] == [Outcome.DONE] * 3
    calls = world.jira.calls.snapshot()
    assert sum(n for endpoint, n in calls.items() if endpoint.startswith("GET")) == 1  # only the real move reads
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    assert world.jira.issue(link.issue.key).status == "In Progress"


# ------------------------------------------------------------------------------ both sides at once


def parallel(world: World, workers: int = 2) -> Executor:
    return Executor(world.store, world.engine.connectors, world.spec, clock=world.clock, backoff_base=30,
                    stop=world.engine.stop, parallel_sides=True, workers_per_side=workers)


def test_both_sides_at_once_apply_everything_and_keep_each_links_order(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(6)]
    plan: list = []
    for r in records:
        placeholder = pending_issue(r)
        plan += [
            create(r),
            WriteBackReference(M, None, r, placeholder, {"correlation_id": placeholder.key}),
            SetStatus(M, None, placeholder, "In Progress", source_version="1"),
            SetStatus(M, None, placeholder, "Done", {"resolution": "Done"}, source_version="2"),
        ]
    outcomes = parallel(world).execute(plan)
    assert [o.status for o in outcomes] == [Outcome.DONE] * len(plan)
    for r in records:
        link = world.store.link_for_record(M, r.id)
        assert link is not None
        assert world.jira.issue(link.issue.key).status == "Done"  # In Progress first, then Done: in order
        assert world.itsm.record(r).fields["correlation_id"] == link.issue.key
    assert len(world.jira.issues()) == 6


def test_a_crash_in_one_lane_stops_the_others_and_leaves_the_rest_pending(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(4)]
    plan = [create(r) for r in records] + [follow_up(r) for r in records]
    world.itsm.crash_after_next_write("write_back_reference")
    with pytest.raises(SimulatedCrash):
        parallel(world, workers=1).execute(plan)
    assert not world.engine.stop.is_set()  # the operator's stop flag is not this plan's business
    states = [world.store.journal_entry(a.key).state for a in plan[4:]]  # type: ignore[union-attr]
    assert PENDING in states  # the crashed one (and any not run) wait for reconciliation
    world.restart()
    world.clock.advance(seconds=31)
    executor(world).reconcile()
    assert all(world.store.journal_entry(a.key).state == DONE for a in plan)  # type: ignore[union-attr]
    assert len(world.jira.issues()) == 4


def test_both_sides_at_once_start_a_batchs_follow_ups_before_the_next_bulk_create(world: World) -> None:
    """The pipeline: the ITSM back-reference of the first batch is written while Jira still creates the
    second batch, instead of after every create of the plan."""
    import threading

    world.jira.create_batch_size = 2
    records = [world.incident(f"Printer {n}") for n in range(4)]
    plan = [a for r in records for a in (create(r), follow_up(r))]
    first_back_reference = threading.Event()
    seen_before_second_batch: list[bool] = []
    create_many, write_back = world.jira.create_many, world.itsm.write_back_reference

    def creating(specs):  # type: ignore[no-untyped-def]
        if seen_before_second_batch or any(s.marker == records[2].token for s in specs):
            seen_before_second_batch.append(first_back_reference.wait(10))
        else:
            seen_before_second_batch.append(True)
        return create_many(specs)

    def writing_back(ref, other, values):  # type: ignore[no-untyped-def]
        write_back(ref, other, values)
        first_back_reference.set()

    world.jira.create_many = creating  # type: ignore[method-assign]
    world.itsm.write_back_reference = writing_back  # type: ignore[method-assign]
    outcomes = parallel(world).execute(plan)
    assert [o.status for o in outcomes] == [Outcome.DONE] * len(plan)
    assert seen_before_second_batch == [True, True]
    for record in records:
        link = world.store.link_for_record(M, record.id)
        assert link is not None
        assert world.itsm.record(record).fields["correlation_id"] == link.issue.key


def test_a_jira_status_write_is_told_the_status_bridge_last_synced(world: World) -> None:
    """So the Jira connector POSTs the known path at once instead of reading the issue first."""
    record = world.incident()
    world.settle()
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    synced = world.store.link_state(link.id)
    assert synced is not None
    told: list[tuple[str, str, str]] = []
    world.jira.note_status = lambda ref, status, item_type: told.append((ref.id, status, item_type))  # type: ignore[method-assign]
    outcome = executor(world).apply(SetStatus(M, link.id, link.issue, "In Progress", source_version="9"))
    assert outcome.status == Outcome.DONE
    assert told == [(link.issue.id, synced.issue.status, world.spec.target.issue_type)]


def test_a_record_write_the_connector_proves_alone_is_recorded_as_seen(world: World) -> None:
    """bridge's own echo is then not read again by the next cycle."""
    from datetime import UTC, datetime

    from bridge.sync.actions import UpdateFields

    record = world.incident()
    world.settle()
    link = world.store.link_for_record(M, record.id)
    assert link is not None
    state = world.store.link_state(link.id)
    assert state is not None
    before = state.record_state(record.id)
    assert before is not None
    asked: list[str] = []
    when = datetime(2026, 1, 5, 9, 0, 12, tzinfo=UTC)

    def proven(ref: Ref, version: str) -> tuple[str, datetime] | None:
        asked.append(version)
        return (f"{version}+1", when)

    world.itsm.written_version = proven  # type: ignore[method-assign]
    action = UpdateFields(M, link.id, record, {"priority": "2"})
    assert executor(world).apply(action).status == Outcome.DONE
    assert asked == [before.version]
    after = world.store.link_state(link.id)
    assert after is not None
    assert after.record_state(record.id).version == f"{before.version}+1"  # type: ignore[union-attr]


def test_journal_chunks_keep_a_create_with_its_follow_ups_and_a_link_with_its_actions() -> None:
    records = [Ref(Side.ITSM, "incident", f"sys{n}", f"INC{n}") for n in range(3)]
    issue = Ref(Side.JIRA, "issue", "10001", "OPS-1")
    plan = [create(r) for r in records] + [follow_up(r) for r in records] + [
        UpdateFields(M, 7, issue, {"priority": "High"}), UpdateFields(M, 7, issue, {"priority": "Low"})]
    chunks = journal_chunks(plan, 2)
    assert chunks == [[0, 1, 3, 4], [2, 5], [6, 7]]  # never split: a chunk closes between groups only
    assert journal_chunks(plan, 500) == [list(range(len(plan)))]
    assert journal_chunks([], 2) == []


def test_a_plan_is_journaled_in_chunks_each_before_its_writes(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(3)]
    plan = [a for r in records for a in (create(r), follow_up(r))]
    ex = executor(world)
    ex.journal_chunk = 2
    pending_at_first_write: list[int] = []

    def first_write(operation: str, ref: Ref) -> None:
        if not pending_at_first_write:
            pending_at_first_write.append(len(world.store.pending_entries(M)))

    world.jira.after_write = first_write
    assert [o.status for o in ex.execute(plan)] == [Outcome.DONE] * 6
    assert pending_at_first_write == [2]  # the first chunk's create and follow-up, not the whole plan
    for record in records:
        link = world.store.link_for_record(M, record.id)
        assert link is not None
        assert world.itsm.record(record).fields["correlation_id"] == link.issue.key


def test_a_stop_between_chunks_leaves_the_later_chunks_unjournaled(world: World) -> None:
    records = [world.incident(f"Printer {n}") for n in range(2)]
    plan = [a for r in records for a in (create(r), follow_up(r))]
    ex = executor(world)
    ex.journal_chunk = 2
    world.itsm.after_write = lambda operation, ref: ex.stop.set()
    outcomes = ex.execute(plan)
    assert [o.status for o in outcomes] == [Outcome.DONE, Outcome.DONE, Outcome.NOT_RUN, Outcome.NOT_RUN]
    assert [o.journal_id is None for o in outcomes[2:]] == [True, True]
    assert world.store.journal_entry(plan[2].key) is None  # its change is read and planned again
