"""The in-memory connectors' own promises: vendor quirks, scripting, fault injection, thread safety.

What every connector must do is in tests/contract/; this is what only the fakes promise (their
scripting and fault-injection API, the exact endpoints they count) and the vendor quirks they copy.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bridge.connectors.base import CreateSpec
from bridge.connectors.memory import (
    INTEGRATION_USER,
    ManualClock,
    MemoryItsm,
    MemoryJira,
    SimulatedCrash,
)
from bridge.errors import PermanentError, TransientError, WorkflowError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Marker, Ref, Side, Visibility

MAPPING = MappingSpec.model_validate(
    {
        "name": "m",
        "route": {"record_type": "incident"},
        "target": {"project": "OPS", "issue_type": "Bug"},
        "status": {"to_jira": {"2": "In Progress", "6": "Closed"}},
    }
)
RECORD = Ref(Side.ITSM, "incident", "abc", "INC1", "https://itsm.example/incident.do?sys_id=abc")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC))


@pytest.fixture
def jira(clock: ManualClock) -> MemoryJira:
    return MemoryJira(clock=clock, page_size=2)


@pytest.fixture
def itsm(clock: ManualClock) -> MemoryItsm:
    return MemoryItsm(clock=clock, page_size=2)


def spec(marker: str = "itsm-incident-abc") -> CreateSpec:
    return CreateSpec("OPS", "Bug", {"summary": "Printer down"}, marker, labels=("bridge",))


# ------------------------------------------------------------------------------------ fault injection


def test_fail_next_refuses_before_anything_changes_then_recovers(jira: MemoryJira) -> None:
    jira.fail_next("create", TransientError("boom", status=503), times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            jira.create(spec())
    assert jira.issues() == []
    assert jira.calls.statuses()[("POST /rest/api/3/issue", 503)] == 2
    created = jira.create(spec())
    assert [i.ref for i in jira.issues()] == [created.ref]


def test_fail_next_names_only_real_operations(jira: MemoryJira) -> None:
    with pytest.raises(ValueError, match="no operation"):
        jira.fail_next("creat", TransientError("x"))


def test_after_write_sees_every_write_and_a_raise_leaves_the_write_done(jira: MemoryJira) -> None:
    seen: list[tuple[str, str]] = []
    jira.after_write = lambda operation, ref: seen.append((operation, ref.key))
    created = jira.create(spec())
    jira.add_comment(created.ref, "hi", channel="comment", marker=Marker(Side.ITSM, "c1"))
    assert seen == [("create", created.ref.key), ("add_comment", created.ref.key)]

    def die(operation: str, ref: Ref) -> None:
        raise KeyboardInterrupt("process killed")

    jira.after_write = die
    with pytest.raises(KeyboardInterrupt):
        jira.update_fields(created.ref, {"summary": "changed"})
    assert jira.issue(created.ref).fields["summary"] == "changed"


def test_crash_after_next_write_is_one_shot_and_can_target_an_operation(jira: MemoryJira) -> None:
    jira.crash_after_next_write("add_comment")
    created = jira.create(spec())  # not the armed operation: no crash
    with pytest.raises(SimulatedCrash):
        jira.add_comment(created.ref, "mirror", channel="comment", marker=Marker(Side.ITSM, "c9"))
    # the comment exists: reconciliation must find it by its marker instead of writing it again
    found = jira.find_comment_by_marker(created.ref, Marker(Side.ITSM, "c9"))
    assert found is not None
    jira.add_comment(created.ref, "next", channel="comment", marker=Marker(Side.ITSM, "c10"))
    assert len(jira.comments(created.ref)) == 2


def test_a_crash_after_create_leaves_an_issue_findable_by_marker(jira: MemoryJira) -> None:
    jira.crash_after_next_write()
    with pytest.raises(SimulatedCrash):
        jira.create(spec("itsm-incident-zz"))
    found = jira.find_by_marker(MAPPING, "itsm-incident-zz")
    assert found is not None
    assert found.back_reference == "itsm-incident-zz"


# ------------------------------------------------------------------------------------ time precision


def test_jira_search_compares_at_minute_precision(jira: MemoryJira, clock: ManualClock) -> None:
    created = jira.create(spec())  # 09:00:10
    assert [i.ref for i in jira.search_changed(MAPPING, datetime(2026, 1, 5, 9, 0, 50, tzinfo=UTC), [])] == [
        created.ref
    ]
    assert list(jira.search_changed(MAPPING, datetime(2026, 1, 5, 9, 1, tzinfo=UTC), [])) == []


def test_itsm_timestamps_have_second_precision(itsm: MemoryItsm, clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 5, 9, 0, 10, 700000, tzinfo=UTC))
    ref = itsm.create_record("incident", {"short_description": "x"})
    assert itsm.record(ref).updated == datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)
    assert len(list(itsm.search_changed(MAPPING, datetime(2026, 1, 5, 9, 0, 10, 900000, tzinfo=UTC), []))) == 1
    assert list(itsm.search_changed(MAPPING, datetime(2026, 1, 5, 9, 0, 11, tzinfo=UTC), [])) == []


def test_journal_writes_bump_the_parent(itsm: MemoryItsm, jira: MemoryJira, clock: ManualClock) -> None:
    record = itsm.create_record("incident", {})
    issue = jira.create(spec()).ref
    before = (itsm.record(record).version, jira.issue(issue).version)
    clock.advance(30)
    itsm.add_comment(record, "note", channel="work_notes", marker=Marker(Side.JIRA, "1"))
    jira.add_comment(issue, "note", channel="comment", marker=Marker(Side.ITSM, "1"))
    assert itsm.record(record).version != before[0]
    assert jira.issue(issue).version != before[1]
    assert itsm.record(record).updated_by == INTEGRATION_USER


# ------------------------------------------------------------------------------------ Jira workflow


def test_jira_walks_the_shortest_path_one_transition_per_step(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    assert jira.path("To Do", "Done") == ["In Progress", "In Review", "Done"]
    before = jira.calls.snapshot()
    jira.set_status(ref, "Done", {"resolution": "Fixed"})
    spent = jira.calls.since(before)
    assert spent["POST /rest/api/3/issue/{issueIdOrKey}/transitions"] == 3
    assert spent["GET /rest/api/3/issue/{issueIdOrKey}/transitions"] == 3
    assert jira.issue(ref).fields["resolution"] == "Fixed"


def test_reopening_clears_the_resolution(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    jira.set_status(ref, "Done", {"resolution": "Done"})
    jira.set_status(ref, "To Do", {})
    reopened = jira.issue(ref)
    assert (reopened.status, reopened.status_category, reopened.fields["resolution"]) == ("To Do", "new", None)


def test_a_resolution_off_the_done_screen_is_refused(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    with pytest.raises(WorkflowError, match="cannot be set"):
        jira.set_status(ref, "In Progress", {"resolution": "Done"})
    assert jira.issue(ref).status == "To Do"


def test_no_path_is_a_workflow_error(clock: ManualClock) -> None:
    jira = MemoryJira(clock=clock, workflow={"To Do": ("Done",), "Done": ()},
                      categories={"To Do": "new", "Done": "done", "Archived": "done"})
    ref = jira.create(spec()).ref
    with pytest.raises(WorkflowError, match="no workflow path"):
        jira.set_status(ref, "Archived", {"resolution": "Done"})


def test_a_person_may_jump_to_any_status(jira: MemoryJira) -> None:
    ref = jira.create_issue(summary="by hand", labels=["bridge"])
    jira.transition_to(ref, "Done")
    assert (jira.issue(ref).status, jira.issue(ref).fields["resolution"]) == ("Done", "Done")
    with pytest.raises(ValueError, match="unknown status"):
        jira.transition_to(ref, "Closed")


def test_jira_refuses_status_edits_and_bad_comments(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    with pytest.raises(PermanentError, match="cannot be set"):
        jira.update_fields(ref, {"status": "Done"})
    with pytest.raises(PermanentError, match="no channel"):
        jira.add_comment(ref, "x", channel="work_notes", marker=Marker(Side.ITSM, "1"))
    with pytest.raises(PermanentError, match="32767"):
        jira.add_comment(ref, "x" * 40000, channel="comment", marker=Marker(Side.ITSM, "2"))


def test_jira_keeps_the_marker_out_of_the_body_and_honours_visibility(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    jira.add_comment(ref, "secret", channel="comment", marker=Marker(Side.ITSM, "n1"),
                     visibility=Visibility("role", "Developers"))
    [stored] = jira.snapshot()[ref.key]["comments"]
    assert "[bridge:" not in stored[2]
    [comment] = jira.comments(ref)
    assert comment.internal
    assert comment.visibility == Visibility("role", "Developers")
    assert comment.marker == Marker(Side.ITSM, "n1")


def test_a_remote_link_upsert_nulls_what_it_omits(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref
    jira.write_back_reference(ref, RECORD, {"title": "INC1", "summary": "Printer"})
    jira.write_back_reference(ref, RECORD, {"title": "INC1"})
    [link] = jira.remote_links(ref)
    assert link["object"]["summary"] is None
    assert jira.calls.statuses()[("POST /rest/api/3/issue/{issueIdOrKey}/remotelink", 200)] == 1


def test_jira_check_names_what_is_missing(jira: MemoryJira) -> None:
    results = jira.check([MAPPING])
    bad = [r for r in results if not r.ok]
    assert [r.what for r in bad] == ["mapping m: status Closed"]
    assert bad[0].hint is not None
    assert "In Review" in bad[0].hint


# ------------------------------------------------------------------------------------ ITSM specifics


def test_itsm_values_are_strings_like_servicenow(itsm: MemoryItsm) -> None:
    ref = itsm.create_record("incident", {"priority": 2, "active": True, "assigned_to": None})
    itsm.update_fields(ref, {"impact": 1})
    fields = itsm.get(ref, ["priority", "active", "assigned_to", "impact", "missing"]).fields
    assert dict(fields) == {"priority": "2", "active": "true", "assigned_to": "", "impact": "1", "missing": ""}


def test_itsm_data_policies(itsm: MemoryItsm) -> None:
    incident = itsm.create_record("incident", {})
    with pytest.raises(PermanentError, match="hold_reason"):
        itsm.set_status(incident, "3", {})
    itsm.set_status(incident, "3", {"hold_reason": "4"})
    change = itsm.create_record("change_request", {}, state="-5")
    assert change.key.startswith("CHG")
    with pytest.raises(PermanentError, match="close_code"):
        itsm.set_state(change, "3")  # a person gets the same data policy as the API
    itsm.set_state(change, "3", close_code="successful", close_notes="done")
    assert itsm.record(change).status == "3"
    assert itsm.calls.statuses()[("PATCH /api/now/table/incident/{sys_id}", 403)] == 1


def test_itsm_keeps_the_marker_as_the_last_line_of_the_entry(itsm: MemoryItsm) -> None:
    ref = itsm.create_record("incident", {})
    itsm.add_comment(ref, "From Jira", channel="work_notes", marker=Marker(Side.JIRA, "10042"))
    [stored] = itsm.snapshot()[ref.key]["comments"]
    assert stored[2] == "From Jira\n[bridge:jira:10042]"
    [comment] = itsm.comments(ref)
    assert (comment.body, comment.marker) == ("From Jira", Marker(Side.JIRA, "10042"))


def test_itsm_journal_reads_are_batched(itsm: MemoryItsm) -> None:
    refs = [itsm.create_record("incident", {}) for _ in range(150)]
    before = itsm.calls.snapshot()
    result = itsm.comments_since(refs, None)
    assert len(result) == 150
    assert itsm.calls.since(before) == {"GET /api/now/table/sys_journal_field": 2}


def test_itsm_refuses_unknown_journals(itsm: MemoryItsm) -> None:
    ref = itsm.create_record("incident", {})
    with pytest.raises(PermanentError, match="no journal"):
        itsm.add_comment(ref, "x", channel="comment", marker=Marker(Side.JIRA, "1"))


# ------------------------------------------------------------------------------------ snapshots, threads


def test_snapshot_is_a_deep_copy(itsm: MemoryItsm) -> None:
    ref = itsm.create_record("incident", {"short_description": "before"})
    snap = itsm.snapshot()
    snap[ref.key]["fields"]["short_description"] = "tampered"
    itsm.update_fields(ref, {"short_description": "after"})
    assert snap[ref.key]["fields"]["short_description"] == "tampered"
    assert itsm.snapshot()[ref.key]["fields"]["short_description"] == "after"


def test_concurrent_writers_lose_nothing(jira: MemoryJira) -> None:
    ref = jira.create(spec()).ref

    def write(worker: int) -> None:
        for n in range(50):
            jira.add_comment(ref, f"{worker}-{n}", channel="comment", marker=Marker(Side.ITSM, f"{worker}-{n}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    comments = jira.comments(ref)
    assert len(comments) == 400
    assert len({c.id for c in comments}) == 400
    assert jira.calls.snapshot()["POST /rest/api/3/issue/{issueIdOrKey}/comment"] == 400
