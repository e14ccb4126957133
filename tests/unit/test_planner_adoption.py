"""The planner's adoption rules with plain values (bridge/sync/adoption.py): a record without a stored
link whose issue exists is adopted, never created again; mirrors found by marker are never posted again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given as hgiven
from hypothesis import strategies as st

from bridge.core.actions import (
    Action,
    AddComment,
    AdoptComment,
    AdoptIssue,
    CreateIssue,
    ReportConflict,
    SetStatus,
    UpdateFields,
    WriteBackReference,
)
from bridge.core.state import CommentPair, Partners, PlanInput
from bridge.model import Issue, Marker, Record, Side
from bridge.sync.planner import Plan, plan
from tests.fixtures.planning import comment, given, issue, link_state, mapping, record

M = mapping()


def of(result: Plan, kind: type[Any]) -> list[Any]:
    return [a for a in result.actions if isinstance(a, kind)]


def marked(n: int, rec: Record, **fields: Any) -> Issue:
    return replace(issue(n, **fields), back_reference=rec.ref.token)


def with_partners(base: PlanInput, partners: dict[str, Partners]) -> PlanInput:
    return replace(base, partners=partners)


def test_an_issue_carrying_the_marker_is_adopted_with_the_current_values_of_both_sides() -> None:
    rec = record(1, status="2")
    found = marked(7, rec, summary="INC0000001: Printer 1 down (edited in Jira)", priority="High")
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((found,))}))

    assert of(result, CreateIssue) == []
    [adopt] = of(result, AdoptIssue)
    assert (adopt.record, adopt.issue, adopt.evidence) == (rec.ref, found.ref, "marker")
    assert adopt.issue_status == "In Progress"
    assert adopt.record_fields["priority"] == "Medium"  # the record's projection, not the issue's value
    assert adopt.record_status == "2"
    assert adopt.side is None  # store-only
    # the record does not name the issue yet: the back-reference (and remote link) is written
    assert {a.target for a in of(result, WriteBackReference)} == {rec.ref, found.ref}
    assert problems(result) == []
    # the sides disagree and no synced value says which one changed: the mapping decides (summary is
    # to_jira, so the record's value is written to the issue)
    [write] = of(result, UpdateFields)
    assert write.target == found.ref
    assert write.values["summary"] == "INC0000001: Printer 1 down"


SAME_1 = {"summary": "INC0000001: Printer 1 down", "priority": "Medium", "Customer": None, "Fix notes": None}


def test_back_reference_and_marker_agreeing_adopt_without_writing_anything() -> None:
    rec = replace(record(1), back_reference="OPS-7")
    found = marked(7, rec, **SAME_1)
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((found,), found)}))
    [adopt] = of(result, AdoptIssue)
    assert adopt.evidence == "marker and back-reference"
    assert [a for a in result.actions if not isinstance(a, AdoptIssue)] == []


def test_disagreeing_statuses_are_settled_by_the_mapping_not_left_apart() -> None:
    rec = replace(record(1, status="6", updated=5), back_reference="OPS-7")
    found = marked(7, rec, status="In Progress", updated=1, **SAME_1)
    partners = {rec.ref.id: Partners((found,), found)}
    newest = plan(mapping(conflicts={"default": "newest_wins"}), with_partners(given(records=[rec]), partners))
    assert len(of(newest, AdoptIssue)) == 1
    [move] = of(newest, SetStatus)
    assert (move.target, move.status) == (found.ref, "Done")  # the record moved last
    reported = plan(M, with_partners(given(records=[rec]), partners))  # policy "report"
    [conflict] = of(reported, ReportConflict)
    assert (conflict.field, conflict.itsm_value, conflict.jira_value) == ("status", "6", "In Progress")


def test_back_reference_alone_is_enough() -> None:
    rec = replace(record(1), back_reference="OPS-4")
    named = issue(4)  # lost its marker label, carries no other
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((), named)}))
    [adopt] = of(result, AdoptIssue)
    assert (adopt.issue, adopt.evidence) == (named.ref, "back-reference")


def problems(result: Plan) -> list[str]:
    return [p.message for p in result.problems]


def test_two_issues_carrying_one_marker_are_reported_naming_both() -> None:
    rec = record(1)
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((marked(4, rec), marked(7, rec)))}))
    assert result.actions == []
    [message] = problems(result)
    assert "OPS-4" in message
    assert "OPS-7" in message


def test_back_reference_and_marker_naming_different_issues_are_reported_naming_both() -> None:
    rec = replace(record(1), back_reference="OPS-4")
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((marked(7, rec),), issue(4))}))
    assert result.actions == []
    [message] = problems(result)
    assert "OPS-4" in message
    assert "OPS-7" in message


def test_back_reference_to_another_records_issue_is_reported() -> None:
    rec = replace(record(1), back_reference="OPS-4")
    other = record(2)
    result = plan(M, with_partners(given(records=[rec]), {rec.ref.id: Partners((), marked(4, other))}))
    assert result.actions == []
    [message] = problems(result)
    assert "OPS-4" in message
    assert other.ref.token in message


def test_no_partner_still_creates() -> None:
    rec = record(1)
    result = plan(M, with_partners(given(records=[rec]), {}))
    assert len(of(result, CreateIssue)) == 1
    assert of(result, AdoptIssue) == []


def test_adoption_restores_comment_pairs_and_mirrors_only_what_has_no_mirror() -> None:
    rec = replace(record(1), back_reference="OPS-7")
    found = marked(7, rec)
    mirrored_note = comment("n1", rec.ref, "customer called")
    new_note = comment("n2", rec.ref, "after the loss")
    dev = comment("j1", found.ref, "found it")
    dev_new = comment("j2", found.ref, "after the loss too")
    comments = {
        rec.ref.id: [mirrored_note, new_note, comment("n9", rec.ref, "m", marker=Marker(Side.JIRA, "j1"))],
        found.ref.id: [dev, dev_new, comment("j9", found.ref, "m", marker=Marker(Side.ITSM, "n1"))],
    }
    result = plan(M, with_partners(given(records=[rec], comments=comments), {rec.ref.id: Partners((found,), found)}))
    [adopt] = of(result, AdoptIssue)
    assert set(adopt.comment_pairs) == {
        CommentPair(Side.ITSM, "n1", rec.ref.id, found.ref.id, "j9"),
        CommentPair(Side.JIRA, "j1", found.ref.id, rec.ref.id, "n9"),
    }
    assert sorted((a.origin_comment_id, a.target.key) for a in of(result, AddComment)) == [
        ("j2", rec.ref.key), ("n2", "OPS-7")
    ]


def test_known_link_after_a_restore_adopts_mirrors_written_after_the_backup() -> None:
    rec, iss = record(1, version="2"), issue(1, version="v2")
    state = link_state(1, 1, {1: ({}, "2")})
    comments = {
        rec.ref.id: [comment("n1", rec.ref), comment("n9", rec.ref, "m", marker=Marker(Side.JIRA, "j1"))],
        iss.ref.id: [comment("j1", iss.ref), comment("j9", iss.ref, "m", marker=Marker(Side.ITSM, "n1"))],
    }
    result = plan(M, given(records=[rec], issues=[iss], comments=comments, links=[state]))
    assert of(result, AddComment) == []
    assert sorted((a.origin_comment_id, a.mirror_id, a.target.id) for a in of(result, AdoptComment)) == [
        ("j1", "n9", rec.ref.id), ("n1", "j9", iss.ref.id)
    ]


@hgiven(
    itsm=st.lists(st.booleans(), max_size=5),
    jira=st.lists(st.booleans(), max_size=5),
    known=st.booleans(),
)
def test_a_comment_is_mirrored_at_most_once_whatever_the_store_remembers(
    itsm: list[bool], jira: list[bool], known: bool
) -> None:
    """Every original comment ends with exactly one mirror: the one found by marker (adopted, never
    posted) or a new one (posted once), whether the link is known or adopted."""
    rec, found = record(1, version="2"), marked(1, record(1), version="v2")
    rec = replace(rec, back_reference=found.ref.key)
    rec_comments = [comment(f"n{i}", rec.ref) for i in range(len(itsm))]
    iss_comments = [comment(f"j{i}", found.ref) for i in range(len(jira))]
    rec_comments += [comment(f"m{i}", rec.ref, marker=Marker(Side.JIRA, f"j{i}")) for i, m in enumerate(jira) if m]
    iss_comments += [comment(f"k{i}", found.ref, marker=Marker(Side.ITSM, f"n{i}")) for i, m in enumerate(itsm) if m]
    comments = {rec.ref.id: rec_comments, found.ref.id: iss_comments}
    if known:
        base = given(records=[rec], issues=[found], comments=comments, links=[link_state(1, 1, {1: ({}, "2")})])
    else:
        base = with_partners(given(records=[rec], comments=comments), {rec.ref.id: Partners((found,), found)})
    result = plan(M, base)
    posted = {(a.origin.side, a.origin_comment_id) for a in of(result, AddComment)}
    adopted: set[tuple[Side, str]] = {(a.origin.side, a.origin_comment_id) for a in of(result, AdoptComment)}
    for action in of(result, AdoptIssue):
        adopted |= {(p.origin_side, p.origin_id) for p in action.comment_pairs}
    originals = {(Side.ITSM, f"n{i}") for i in range(len(itsm))} | {(Side.JIRA, f"j{i}") for i in range(len(jira))}
    assert posted.isdisjoint(adopted)
    assert posted | adopted == originals
    assert adopted == {(Side.ITSM, f"n{i}") for i, m in enumerate(itsm) if m} | {
        (Side.JIRA, f"j{i}") for i, m in enumerate(jira) if m
    }
    assert all(not isinstance(a, CreateIssue) for a in result.actions)
    _: list[Action] = result.actions
