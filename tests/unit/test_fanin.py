"""link_existing fan-in, the pure parts: what the planner plans, what a MarkLinked must write, the journal form."""

from __future__ import annotations

from typing import Any

from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from bridge.sync.actions import CreateIssue, LinkExisting, MarkLinked, WriteBackReference, from_json, to_json
from bridge.sync.fanin import LabelEdit, fields_to_read, label_edit
from bridge.sync.pending import pending_issue, pending_record_id, resolve_pending
from bridge.sync.planner import Plan, plan
from tests.fixtures.planning import given, issue_ref, mapping, record

COUNTED = {"link_existing": "u_jira_key", "linked_count_field": "Linked records", "linked_count_label_prefix": "inc-"}


def kinds(result: Plan) -> list[str]:
    return [type(a).__name__ for a in result.actions]


def mark(count: int | None = 2, **overrides: Any) -> MarkLinked:
    values: dict[str, Any] = {
        "mapping": "m", "link_id": 1, "issue": issue_ref(7), "jira_label": "bridge",
        "count_field": "Linked records", "count_label_prefix": "inc-", "count": count,
    }
    return MarkLinked(**{**values, **overrides})


# ------------------------------------------------------------------------------------------ planner


def test_link_existing_is_followed_by_the_mark_of_the_shared_issue() -> None:
    m = mapping(links=COUNTED)
    rec = record(1, u_jira_key="OPS-42")
    result = plan(m, given(records=[rec]))

    assert kinds(result)[:2] == ["LinkExisting", "MarkLinked"]
    [link] = [a for a in result.actions if isinstance(a, LinkExisting)]
    [marked] = [a for a in result.actions if isinstance(a, MarkLinked)]
    assert marked.issue == pending_issue(rec.ref, "OPS-42")  # resolved by the executor like any follow-up
    assert pending_record_id(marked) == rec.ref.id
    assert (marked.jira_label, marked.count_field, marked.count_label_prefix) == ("bridge", "Linked records", "inc-")
    assert marked.count is None  # only the executor knows how many records share the issue
    assert link.key != marked.key


def test_without_count_options_the_mark_still_puts_the_label_on_the_existing_issue() -> None:
    m = mapping(links={"link_existing": "u_jira_key", "jira_label": "from-sn"})
    result = plan(m, given(records=[record(1, u_jira_key="OPS-42")]))
    [marked] = [a for a in result.actions if isinstance(a, MarkLinked)]
    assert (marked.jira_label, marked.count_field, marked.count_label_prefix) == ("from-sn", None, None)


def test_two_records_naming_one_issue_get_one_mark_each() -> None:
    m = mapping(links=COUNTED)
    result = plan(m, given(records=[record(1, u_jira_key="OPS-42"), record(2, u_jira_key="OPS-42")]))
    marks = [a for a in result.actions if isinstance(a, MarkLinked)]
    assert {pending_record_id(a) for a in marks} == {"sys0001", "sys0002"}
    assert len({a.key for a in marks}) == 2


def test_a_create_is_marked_only_when_a_count_option_is_set() -> None:
    plain = plan(mapping(), given(records=[record(1)]))
    assert "MarkLinked" not in kinds(plain)

    counted = plan(mapping(links={"linked_count_label_prefix": "inc-"}), given(records=[record(1)]))
    assert kinds(counted)[:2] == ["CreateIssue", "MarkLinked"]
    [create] = [a for a in counted.actions if isinstance(a, CreateIssue)]
    assert "bridge" in create.labels
    [marked] = [a for a in counted.actions if isinstance(a, MarkLinked)]
    assert marked.issue == pending_issue(record(1).ref)
    assert kinds(counted).index("WriteBackReference") > kinds(counted).index("MarkLinked")
    assert [a for a in counted.actions if isinstance(a, WriteBackReference)]


# ------------------------------------------------------------------------------------------ action


def test_mark_linked_round_trips_through_the_journal_and_resolves_its_placeholder() -> None:
    placeholder = pending_issue(record(3).ref, "OPS-7")
    planned = mark(None, link_id=None, issue=placeholder)
    assert from_json(to_json(planned)) == planned
    resolved = resolve_pending(planned, issue_ref(7))
    assert resolved.issue == issue_ref(7)
    counted = mark(3)
    assert from_json(to_json(counted)) == counted


def test_the_key_is_the_issue_and_the_count() -> None:
    assert mark(2).key == "linked:m:10007:2"
    assert mark(3).key != mark(2).key
    assert mark(None, issue=pending_issue(record(3).ref)).key == "linked:m:pending:sys0003"
    assert mark(2).count_label == "inc-2"
    assert "2 linked records" in mark(2).describe()


# ------------------------------------------------------------------------------------------ the edit


def test_the_edit_adds_the_labels_removes_the_older_count_and_sets_the_field() -> None:
    edit = label_edit(mark(2), {"labels": ("customer-x", "inc-1"), "Linked records": 1})
    assert edit == LabelEdit(add=("bridge", "inc-2"), remove=("inc-1",), values={"Linked records": 2})
    assert fields_to_read(mark(2)) == ["labels", "Linked records"]


def test_an_issue_that_already_shows_the_mark_needs_no_write() -> None:
    assert label_edit(mark(2), {"labels": ("bridge", "inc-2", "mine"), "Linked records": 2.0}) is None


def test_without_count_options_only_the_label_is_added() -> None:
    action = mark(5, count_field=None, count_label_prefix=None)
    assert label_edit(action, {"labels": ("inc-1",)}) == LabelEdit(add=("bridge",))
    assert label_edit(action, {"labels": ("bridge",)}) is None


def test_labels_that_only_look_like_the_count_are_left_alone() -> None:
    edit = label_edit(mark(2), {"labels": ("bridge", "inc-2", "inc-2b", "xinc-1", "inc-"), "Linked records": 2})
    assert edit is None


@hypothesis_given(
    people=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), max_size=5),
    old=st.lists(st.integers(min_value=0, max_value=99), max_size=3),
    count=st.integers(min_value=1, max_value=99),
)
def test_applying_the_edit_shows_the_count_and_keeps_every_other_label(people: list[str], old: list[int],
                                                                       count: int) -> None:
    before = [*people, *(f"inc-{n}" for n in old)]
    action = mark(count)
    edit = label_edit(action, {"labels": tuple(before), "Linked records": None})
    assert edit is not None
    after = [x for x in before if x not in edit.remove] + [x for x in edit.add if x not in before]
    counts = [x for x in after if x.startswith("inc-") and x[4:].isdigit()]
    assert set(counts) == {f"inc-{count}"}
    assert "bridge" in after
    assert all(x in after for x in people if not (x.startswith("inc-") and x[4:].isdigit()))
    assert label_edit(action, {"labels": tuple(after), **edit.values}) is None  # applying it twice: no write
