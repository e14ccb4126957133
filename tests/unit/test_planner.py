"""The planner's rules, one test per rule, with plain values (see bridge/sync/planner.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.model import Marker, Ref, Side, Visibility
from bridge.sync.actions import (
    Action,
    AddComment,
    CreateIssue,
    LinkExisting,
    ReportConflict,
    SetStatus,
    SyncedUpdate,
    UpdateFields,
    WriteBackReference,
    from_json,
    to_json,
)
from bridge.sync.pending import pending_issue, pending_record_id, resolve_pending
from bridge.sync.planner import Plan, plan
from bridge.sync.state import CommentPair
from bridge.text_limits import omitted_in
from tests.fixtures.planning import (
    apply_synced,
    comment,
    given,
    issue,
    issue_ref,
    link_state,
    mapping,
    record,
    record_ref,
)

SYNCED_1 = {"summary": "INC0000001: Printer 1 down", "priority": "Medium", "Customer": None, "Fix notes": None}


def of(result: Plan, kind: type[Action]) -> list[Any]:
    return [a for a in result.actions if isinstance(a, kind)]


def same(updates: Any, expected: list[SyncedUpdate]) -> bool:
    """Equal as multisets (SyncedUpdate holds a dict, so it is not hashable)."""
    return sorted(map(repr, updates)) == sorted(map(repr, expected))


def linked(**kwargs: Any) -> Any:
    """Link 1: issue OPS-1 with record 1, both synced at SYNCED_1 / state 2 / In Progress."""
    return link_state(1, 1, {1: (SYNCED_1, "2")}, issue_fields=SYNCED_1, **kwargs)


# ------------------------------------------------------------------------------------ new records


def test_a_new_record_the_route_selects_becomes_one_create_with_every_to_jira_value() -> None:
    rec = record(1, priority="2", company="ACME")
    result = plan(mapping(), given(records=[rec]))

    [create] = of(result, CreateIssue)
    assert create.record == rec.ref
    assert (create.project, create.issue_type) == ("OPS", "Bug")
    assert dict(create.fields) == {
        "summary": "INC0000001: Printer 1 down",
        "priority": "High",
        "Customer": "ACME",
        "Origin": "ServiceNow",
    }
    assert create.labels == ("from-itsm", "bridge")
    assert create.marker == rec.ref.token
    assert create.link_id is None
    assert create.record_fields["priority"] == "High"
    assert create.record_fields["Fix notes"] is None  # to_itsm rules are projected (synced) but not sent
    assert create.record_status == "2"
    assert result.problems == []


def test_a_new_record_the_route_does_not_select_is_left_alone() -> None:
    result = plan(mapping(), given(records=[record(1, category="hardware")]))
    assert result.actions == []


def test_a_new_record_gets_back_references_status_and_comments_in_the_same_plan() -> None:
    rec = record(1, status="6")
    notes = [
        comment("c1", rec.ref, "Customer called again"),
        comment("c2", rec.ref, "mirror", marker=Marker(Side.JIRA, "99")),
    ]
    result = plan(mapping(), given(records=[rec], comments={rec.ref.id: notes}))

    kinds = [type(a).__name__ for a in result.actions]
    assert kinds == ["CreateIssue", "WriteBackReference", "WriteBackReference", "SetStatus", "AddComment"]
    placeholder = pending_issue(rec.ref)
    record_backref, remote_link = of(result, WriteBackReference)
    assert record_backref.target == rec.ref
    assert dict(record_backref.values) == {"correlation_id": placeholder.key, "correlation_display": placeholder.url}
    assert remote_link.target == placeholder
    assert remote_link.other == rec.ref
    assert remote_link.values["title"] == rec.ref.key
    [status] = of(result, SetStatus)
    assert (status.target, status.status, dict(status.fields)) == (placeholder, "Done", {"resolution": "Done"})
    [mirror] = of(result, AddComment)
    assert (mirror.target, mirror.origin_comment_id) == (placeholder, "c1")
    assert all(pending_record_id(a) == rec.ref.id for a in result.actions[1:])
    assert len({a.key for a in result.actions}) == len(result.actions)


def test_resolve_pending_puts_the_created_issue_everywhere_the_placeholder_was() -> None:
    rec = record(1, status="6")
    result = plan(mapping(), given(records=[rec], comments={rec.ref.id: [comment("c1", rec.ref)]}))
    created = issue_ref(7)
    resolved = [resolve_pending(a, created) for a in result.actions[1:]]

    assert all(pending_record_id(a) is None for a in resolved)
    record_backref = resolved[0]
    assert isinstance(record_backref, WriteBackReference)
    assert dict(record_backref.values) == {"correlation_id": "OPS-7", "correlation_display": created.url}
    status = resolved[2]
    assert isinstance(status, SetStatus)
    assert status.target == created
    assert status.updates == (SyncedUpdate(Side.JIRA, created.id, {}, "Done"),)
    assert resolve_pending(result.actions[0], created) is result.actions[0]


def test_placeholder_actions_survive_the_journal_round_trip() -> None:
    rec = record(1, status="6")
    result = plan(mapping(), given(records=[rec]))
    for action in result.actions:
        again = from_json(to_json(action))
        assert again == action
        assert again.key == action.key
        assert pending_record_id(again) == pending_record_id(action)


def test_new_records_with_the_same_status_get_distinct_status_keys() -> None:
    result = plan(mapping(), given(records=[record(1, status="6"), record(2, status="6")]))
    assert len({a.key for a in of(result, SetStatus)}) == 2


def test_an_unmapped_initial_state_adds_no_status_action() -> None:
    result = plan(mapping(), given(records=[record(1, status="1")]))
    assert of(result, SetStatus) == []
    assert len(of(result, CreateIssue)) == 1


def test_link_existing_links_instead_of_creating_and_does_not_move_the_shared_issue() -> None:
    m = mapping(links={"link_existing": "u_jira_key"})
    rec = record(1, status="6", u_jira_key="OPS-42")
    result = plan(m, given(records=[rec], comments={rec.ref.id: [comment("c1", rec.ref)]}))

    assert of(result, CreateIssue) == []
    [link] = of(result, LinkExisting)
    assert (link.record, link.issue_key, link.record_status) == (rec.ref, "OPS-42", "6")
    assert of(result, SetStatus) == []
    backref = of(result, WriteBackReference)[0]
    assert backref.values["correlation_id"] == "OPS-42"
    [mirror] = of(result, AddComment)
    assert mirror.target.key == "OPS-42"  # the placeholder already knows the existing key
    assert pending_record_id(mirror) == rec.ref.id


def test_link_existing_with_something_that_is_not_a_key_is_a_problem_not_a_guess() -> None:
    m = mapping(links={"link_existing": "u_jira_key"})
    result = plan(m, given(records=[record(1, u_jira_key="see email")]))
    assert result.actions == []
    [problem] = result.problems
    assert problem.item == record_ref(1)
    assert "not a Jira issue key" in problem.message


def test_an_empty_link_existing_field_creates_an_issue() -> None:
    m = mapping(links={"link_existing": "u_jira_key"})
    result = plan(m, given(records=[record(1, u_jira_key="")]))
    assert len(of(result, CreateIssue)) == 1


def test_a_template_error_on_one_record_is_a_problem_and_the_others_are_planned() -> None:
    broken = record(1)
    broken_fields = {k: v for k, v in broken.fields.items() if k != "short_description"}
    broken = type(broken)(broken.ref, broken_fields, status="2", updated=broken.updated)
    result = plan(mapping(), given(records=[broken, record(2)]))

    assert [a.record for a in of(result, CreateIssue)] == [record_ref(2)]
    [problem] = result.problems
    assert problem.item == record_ref(1)
    assert "short_description" in problem.message


def test_pending_keys_are_not_planned_again() -> None:
    first = plan(mapping(), given(records=[record(1, status="6")]))
    pending = {first.actions[0].key, first.actions[3].key}
    again = plan(mapping(), given(records=[record(1, status="6")], pending=pending))
    assert [a.key for a in again.actions] == [a.key for a in first.actions if a.key not in pending]


# ------------------------------------------------------------------------------------ fields


def test_a_record_change_is_written_to_the_issue_in_jira_vocabulary() -> None:
    result = plan(mapping(), given(records=[record(1, priority="1", company="ACME")], links=[linked()]))

    [update] = of(result, UpdateFields)
    assert update.target == issue_ref(1)
    assert dict(update.values) == {"priority": "Highest", "Customer": "ACME"}
    assert same(update.updates, [
        SyncedUpdate(Side.JIRA, issue_ref(1).id, {"priority": "Highest", "Customer": "ACME"}),
        SyncedUpdate(Side.ITSM, record_ref(1).id, {"priority": "Highest", "Customer": "ACME"}),
    ])
    assert update.link_id == 1


def test_a_jira_change_of_a_both_field_is_written_to_every_linked_record() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1)
    result = plan(mapping(), given(issues=[issue(1, priority="Highest")], links=[state]))

    updates = of(result, UpdateFields)
    assert [u.target for u in updates] == [record_ref(1), record_ref(2)]
    assert all(dict(u.values) == {"priority": "1"} for u in updates)
    assert SyncedUpdate(Side.ITSM, record_ref(2).id, {"priority": "Highest"}) in updates[1].updates


def test_an_unmapped_jira_value_goes_to_itsm_as_itsm_default_and_is_synced_as_what_the_record_shows() -> None:
    result = plan(mapping(), given(issues=[issue(1, priority="Blocker")], links=[linked()]))
    [update] = of(result, UpdateFields)
    assert dict(update.values) == {"priority": "3"}
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"priority": "Medium"}) in update.updates
    assert SyncedUpdate(Side.JIRA, issue_ref(1).id, {"priority": "Blocker"}) in update.updates


def test_a_to_itsm_field_flows_from_jira_only() -> None:
    m = mapping()
    from_jira = plan(m, given(issues=[issue(1, **{"Fix notes": "patched"})], links=[linked()]))
    [update] = of(from_jira, UpdateFields)
    assert (update.target, dict(update.values)) == (record_ref(1), {"u_fix_notes": "patched"})

    from_itsm = plan(m, given(records=[record(1, u_fix_notes="local edit")], links=[linked()]))
    assert of(from_itsm, UpdateFields) == []
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"Fix notes": "local edit"}) in from_itsm.acknowledgements


def test_a_jira_edit_of_a_to_jira_field_is_acknowledged_not_reverted() -> None:
    result = plan(mapping(), given(issues=[issue(1, Customer="Globex")], links=[linked()]))
    assert result.actions == []
    assert result.acknowledgements == [SyncedUpdate(Side.JIRA, issue_ref(1).id, {"Customer": "Globex"})]


def test_a_sync_create_field_is_not_kept_in_sync() -> None:
    m = mapping(fields={"Customer": {"itsm": "company", "sync": "create"}})
    state = link_state(1, 1, {1: ({"Customer": "ACME"}, "2")}, issue_fields={"Customer": "ACME"})
    result = plan(m, given(records=[record(1, company="Globex")], links=[state]))
    assert result.actions == []


def test_both_sides_changed_to_the_same_value_is_acknowledged_without_a_write() -> None:
    result = plan(mapping(), given(records=[record(1, priority="1")], issues=[issue(1, priority="Highest")],
                                   links=[linked()]))
    assert of(result, UpdateFields) == []
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"priority": "Highest"}) in result.acknowledgements
    assert SyncedUpdate(Side.JIRA, issue_ref(1).id, {"priority": "Highest"}) in result.acknowledgements


def conflict_plan(policy: str, record_minutes: float = 5, issue_minutes: float = 3) -> Plan:
    m = mapping(conflicts={"default": "report", "fields": {"priority": policy}})
    return plan(m, given(records=[record(1, priority="1", updated=record_minutes)],
                         issues=[issue(1, priority="Low", updated=issue_minutes)], links=[linked()]))


def test_a_conflict_under_report_writes_nothing_and_reports_both_values() -> None:
    result = conflict_plan("report")
    assert of(result, UpdateFields) == []
    [conflict] = of(result, ReportConflict)
    assert (conflict.field, conflict.itsm_value, conflict.jira_value) == ("priority", "Highest", "Low")
    assert (conflict.itsm_item, conflict.issue) == (record_ref(1), issue_ref(1))
    assert result.acknowledgements == []


def test_itsm_wins_writes_the_record_value_to_the_issue() -> None:
    [update] = of(conflict_plan("itsm_wins"), UpdateFields)
    assert (update.target, dict(update.values)) == (issue_ref(1), {"priority": "Highest"})


def test_jira_wins_writes_the_issue_value_to_the_record() -> None:
    [update] = of(conflict_plan("jira_wins"), UpdateFields)
    assert (update.target, dict(update.values)) == (record_ref(1), {"priority": "4"})


@pytest.mark.parametrize(
    ("record_minutes", "issue_minutes", "expected"),
    [(5, 3, "itsm"), (3, 5, "jira"), (4, 4, "report")],
)
def test_newest_wins_compares_update_times_and_reports_a_tie(record_minutes: float, issue_minutes: float,
                                                             expected: str) -> None:
    result = conflict_plan("newest_wins", record_minutes, issue_minutes)
    if expected == "report":
        assert of(result, UpdateFields) == []
        assert len(of(result, ReportConflict)) == 1
    else:
        [update] = of(result, UpdateFields)
        assert update.target.side is (Side.ITSM if expected == "jira" else Side.JIRA)


def test_the_newest_of_several_records_changing_one_field_is_written() -> None:
    synced_2 = {**SYNCED_1, "summary": "INC0000002: Printer 2 down"}
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (synced_2, "2")}, issue_fields=SYNCED_1)
    result = plan(mapping(), given(records=[record(2, priority="4", updated=9), record(1, priority="1", updated=2)],
                                   links=[state]))
    [update] = of(result, UpdateFields)
    assert dict(update.values) == {"priority": "Low"}
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"priority": "Highest"}) in result.acknowledgements


# ------------------------------------------------------------------------------------ statuses


def test_a_record_status_change_moves_the_issue_with_the_transition_fields() -> None:
    result = plan(mapping(), given(records=[record(1, "6", version="7")], links=[linked()]))
    [move] = of(result, SetStatus)
    assert (move.target, move.status, dict(move.fields)) == (issue_ref(1), "Done", {"resolution": "Done"})
    assert move.source_version == "7"
    assert same(move.updates, [
        SyncedUpdate(Side.ITSM, record_ref(1).id, {}, "6"),
        SyncedUpdate(Side.JIRA, issue_ref(1).id, {}, "Done"),
    ])


def test_a_record_status_the_issue_already_shows_is_acknowledged() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "1")}, issue_fields=SYNCED_1, issue_status="In Progress")
    result = plan(mapping(), given(records=[record(1, "2")], links=[state]))
    assert of(result, SetStatus) == []
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {}, "2") in result.acknowledgements


def test_an_issue_status_change_moves_every_linked_record_with_rendered_close_fields() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1)
    result = plan(mapping(), given(issues=[issue(1, "Done", version="v9", resolution="Done")], links=[state]))
    moves = of(result, SetStatus)
    assert [m.target for m in moves] == [record_ref(1), record_ref(2)]
    for move in moves:
        assert move.status == "6"
        assert dict(move.fields) == {"close_code": "Solution provided", "close_notes": "Fixed in OPS-1"}
        assert move.source_version == "v9"
    assert len({m.key for m in moves}) == 2


def test_an_exact_status_name_wins_over_its_category() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "1")}, issue_fields=SYNCED_1, issue_status="To Do")
    result = plan(mapping(), given(issues=[issue(1, "In Progress")], links=[state]))
    [move] = of(result, SetStatus)
    assert move.status == "2"


def test_a_status_bridge_set_is_not_mirrored_back() -> None:
    state = linked()
    first = plan(mapping(), given(records=[record(1, "6")], links=[state]))
    stored = apply_synced(state, [u for a in first.actions for u in a.synced] + first.acknowledgements)
    echo = plan(mapping(), given(records=[record(1, "6", updated=1)], issues=[issue(1, "Done", updated=1)],
                                 links=[stored]))
    assert echo.actions == []


def test_a_status_conflict_follows_the_status_policy() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "1")}, issue_fields=SYNCED_1, issue_status="To Do")
    changes: dict[str, Any] = {"records": [record(1, "6", updated=5)], "issues": [issue(1, "In Progress", updated=6)],
                               "links": [state]}
    reported = plan(mapping(), given(**changes))
    [conflict] = of(reported, ReportConflict)
    assert (conflict.field, conflict.itsm_value, conflict.jira_value) == ("status", "6", "In Progress")
    assert of(reported, SetStatus) == []

    itsm_wins = plan(mapping(conflicts={"fields": {"status": "itsm_wins"}}), given(**changes))
    [move] = of(itsm_wins, SetStatus)
    assert (move.target, move.status) == (issue_ref(1), "Done")

    jira_wins = plan(mapping(conflicts={"fields": {"status": "jira_wins"}}), given(**changes))
    [move] = of(jira_wins, SetStatus)
    assert (move.target, move.status) == (record_ref(1), "2")


def test_an_issue_status_the_itsm_has_no_state_for_is_no_conflict() -> None:
    result = plan(mapping(), given(records=[record(1, "6", updated=5)], issues=[issue(1, "To Do", updated=6)],
                                   links=[linked()]))
    assert of(result, ReportConflict) == []
    [move] = of(result, SetStatus)
    assert (move.target, move.status) == (issue_ref(1), "Done")


def test_statuses_that_agree_are_no_conflict() -> None:
    result = plan(mapping(), given(records=[record(1, "6")], issues=[issue(1, "Done")], links=[linked()]))
    assert of(result, SetStatus) == []
    assert of(result, ReportConflict) == []


def test_a_broken_state_template_is_a_problem() -> None:
    m = mapping(status={"to_itsm": {"Done": {"state": "6", "fields": {"close_notes": {"template": "{{ nope }}"}}}}})
    result = plan(m, given(issues=[issue(1, "Done")], links=[linked()]))
    assert of(result, SetStatus) == []
    [problem] = result.problems
    assert problem.item == record_ref(1)
    assert result.acknowledgements == []  # the move is planned again when the issue next changes


def test_state_templates_see_the_record_when_it_changed_and_say_why_not_otherwise() -> None:
    m = mapping(status={"to_itsm": {"Done": {"state": "6", "fields": {
        "close_code": "Solution provided",
        "close_notes": {"template": "{{ record.key }} ({{ short_description }}) fixed in {{ issue.key }}"},
    }}}})
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1)
    result = plan(m, given(records=[record(1)], issues=[issue(1, "Done")], links=[state]))
    [move] = of(result, SetStatus)
    assert move.target == record_ref(1)
    assert move.fields["close_notes"] == "INC0000001 (Printer 1 down) fixed in OPS-1"
    [problem] = result.problems
    assert problem.item == record_ref(2)
    assert "did not change this cycle" in problem.message


def test_the_attribution_template_sees_the_record() -> None:
    rec = record(1)
    m = mapping(comments={"attribution": "{{ author }} ({{ system }}, {{ record.key }}) wrote:"})
    result = plan(m, given(records=[rec], links=[linked()], comments={rec.ref.id: [comment("j1", rec.ref, "hi")]}))
    [mirror] = of(result, AddComment)
    assert mirror.body == "Jane Doe (ServiceNow, INC0000001) wrote:\nhi"


# ------------------------------------------------------------------------------------ comments


def test_an_itsm_comment_reaches_the_issue_once_attributed_and_restricted() -> None:
    rec = record(1)
    result = plan(mapping(), given(records=[rec], links=[linked()],
                                   comments={rec.ref.id: [comment("j1", rec.ref, "Rebooted it", author="Ann Lee")]}))
    [mirror] = of(result, AddComment)
    assert mirror.target == issue_ref(1)
    assert mirror.origin == rec.ref
    assert mirror.channel == "comment"
    assert mirror.visibility == Visibility("role", "Developers")
    assert mirror.body == "Ann Lee (ServiceNow) wrote:\nRebooted it"
    assert mirror.marker == Marker(Side.ITSM, "j1")


def test_a_jira_comment_fans_out_to_every_linked_record() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1)
    iss = issue(1)
    result = plan(mapping(), given(issues=[iss], links=[state],
                                   comments={iss.ref.id: [comment("500", iss.ref, "Fixed in build 7", author="Dev")]}))
    mirrors = of(result, AddComment)
    assert [m.target for m in mirrors] == [record_ref(1), record_ref(2)]
    assert all(m.channel == "work_notes" and m.body == "Dev (Jira) wrote:\nFixed in build 7" for m in mirrors)


def test_comments_bridge_wrote_or_already_mirrored_are_never_mirrored() -> None:
    rec, iss = record(1), issue(1)
    pairs = [
        CommentPair(Side.ITSM, "j-old", rec.ref.id, iss.ref.id, "600"),  # j-old already reached the issue as 600
        CommentPair(Side.JIRA, "501", iss.ref.id, rec.ref.id, "j-mirror"),  # 501 already reached the record
    ]
    comments = {
        rec.ref.id: [
            comment("j-old", rec.ref),
            comment("j-mirror", rec.ref),
            comment("j-marked", rec.ref, marker=Marker(Side.JIRA, "502")),
        ],
        iss.ref.id: [
            comment("600", iss.ref),
            comment("501", iss.ref),
            comment("503", iss.ref, marker=Marker(Side.ITSM, "j-x")),
        ],
    }
    result = plan(mapping(), given(records=[rec], issues=[iss], links=[linked(comments=pairs)], comments=comments))
    assert of(result, AddComment) == []


def test_a_jira_comment_mirrored_to_one_record_still_reaches_the_other() -> None:
    pairs = [CommentPair(Side.JIRA, "501", issue_ref(1).id, record_ref(1).id, "m1")]
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1, comments=pairs)
    iss = issue(1)
    result = plan(mapping(), given(issues=[iss], links=[state], comments={iss.ref.id: [comment("501", iss.ref)]}))
    assert [m.target for m in of(result, AddComment)] == [record_ref(2)]


@pytest.mark.parametrize(
    ("comments_rules", "channel", "body", "mirrored"),
    [
        ({}, "work_notes", "hello", True),
        ({}, "comments", "hello", True),
        ({"from_itsm_channels": ["work_notes"]}, "comments", "hello", False),
        ({"direction": "to_itsm"}, "work_notes", "hello", False),
        ({"direction": "none"}, "work_notes", "hello", False),
        ({"skip": ["^\\[auto\\]"]}, "work_notes", "[auto] SLA breached", False),
        ({"skip": ["^\\[auto\\]"]}, "work_notes", "not [auto]", True),
    ],
)
def test_itsm_comment_policy(comments_rules: dict[str, Any], channel: str, body: str, mirrored: bool) -> None:
    rec = record(1)
    result = plan(mapping(comments=comments_rules),
                  given(records=[rec], links=[linked()], comments={rec.ref.id: [comment("j1", rec.ref, body,
                                                                                         channel=channel)]}))
    assert len(of(result, AddComment)) == (1 if mirrored else 0)


def test_jira_comments_follow_direction_and_go_to_the_configured_channel() -> None:
    iss = issue(1)
    comments = {iss.ref.id: [comment("500", iss.ref)]}
    to_jira_only = plan(mapping(comments={"direction": "to_jira"}), given(issues=[iss], links=[linked()],
                                                                          comments=comments))
    assert of(to_jira_only, AddComment) == []
    public = plan(mapping(comments={"to_itsm_channel": "comments"}), given(issues=[iss], links=[linked()],
                                                                           comments=comments))
    [mirror] = of(public, AddComment)
    assert mirror.channel == "comments"


def test_a_long_comment_is_truncated_with_a_notice_saying_how_much() -> None:
    rec = record(1)
    body = "x" * 1000
    result = plan(mapping(comments={"max_length": 300}),
                  given(records=[rec], links=[linked()], comments={rec.ref.id: [comment("j1", rec.ref, body)]}))
    [mirror] = of(result, AddComment)
    assert len(mirror.body) <= 300
    full = "Jane Doe (ServiceNow) wrote:\n" + body
    kept, omitted = omitted_in(mirror.body)  # "… (truncated by bridge: 731 more characters in INC…)"
    assert "truncated by bridge" in mirror.body
    assert rec.ref.key in mirror.body.rsplit("\n", 1)[1]
    assert full.startswith(kept)
    assert omitted == len(full) - len(kept)


# ------------------------------------------------------------------------------------ notes


def test_a_changed_note_field_writes_one_note_per_record_once() -> None:
    state = link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")}, issue_fields=SYNCED_1)
    iss = issue(1, fixVersions=("2.4",))
    result = plan(mapping(), given(issues=[iss], links=[state]))
    notes = of(result, AddComment)
    assert [n.target for n in notes] == [record_ref(1), record_ref(2)]
    assert notes[0].body == "Fix version set in OPS-1: ('2.4',)"
    assert notes[0].origin == iss.ref
    assert notes[0].origin_comment_id.startswith("note:fixVersions:")
    assert notes[0].channel == "work_notes"
    assert SyncedUpdate(Side.JIRA, iss.ref.id, {"fixVersions": ("2.4",)}) in result.acknowledgements

    done = [CommentPair(Side.JIRA, n.origin_comment_id, iss.ref.id, n.target.id, f"m{i}") for i, n in enumerate(notes)]
    again = plan(mapping(), given(issues=[iss], links=[link_state(1, 1, {1: (SYNCED_1, "2"), 2: (SYNCED_1, "2")},
                                                                  issue_fields=SYNCED_1, comments=done)]))
    assert of(again, AddComment) == []


def test_the_plan_is_deterministic() -> None:
    rec, iss = record(1, "6", priority="1"), issue(1, "In Progress", Customer="X")
    args = (mapping(), given(records=[rec, record(2)], issues=[iss], links=[linked()],
                             comments={rec.ref.id: [comment("j1", rec.ref)], iss.ref.id: [comment("9", iss.ref)]}))
    assert [a.key for a in plan(*args).actions] == [a.key for a in plan(*args).actions]
    assert plan(*args) == plan(*args)


def test_pending_issue_refs_are_recognised_only_for_placeholders() -> None:
    ref = Ref(Side.ITSM, "incident", "pending:1", "X")
    action = WriteBackReference("m", None, ref, issue_ref(1), {})
    assert pending_record_id(action) is None
