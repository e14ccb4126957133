"""The trend report's arithmetic over hand-made facts: medians, recurring and reopened records, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.store.trends_queries import StatusEvent, StoredIssue, StoredRecord
from bridge.trends.formats import render
from bridge.trends.report import StatusPolicy, build_report, parse_since

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW = T0 + timedelta(days=20)
POLICY = StatusPolicy.of(["6", "7"], ["Done"])


def record(
    key: str, at: datetime, status: str | None = "2", *, to: tuple[str, ...] = (), **fields: object
) -> StoredRecord:
    return StoredRecord(key.lower(), key, "incident", "", status, fields, at, to)


def issue(
    key: str,
    records: list[StoredRecord],
    *,
    kind: str = "Bug",
    status: str = "In Progress",
    comment_after: float | None = None,
    events: tuple[StatusEvent, ...] = (),
) -> StoredIssue:
    start = min(r.escalated_at for r in records)
    return StoredIssue(
        link_id=hash(key) % 1000,
        mapping="incidents",
        issue_id=key,
        issue_key=key,
        issue_url="",
        issue_type=kind,
        status=status,
        created=start,
        first_jira_comment=start + timedelta(hours=comment_after) if comment_after is not None else None,
        records=tuple(records),
        status_events=events,
    )


def done_at(start: datetime, hours: float) -> StatusEvent:
    return StatusEvent(start + timedelta(hours=hours), "itsm", "x", "6")


def test_medians_per_issue_type_and_the_period() -> None:
    facts = [
        issue("OPS-1", [record("INC1", T0)], comment_after=2, events=(done_at(T0, 10),), status="Done"),
        issue(
            "OPS-2",
            [record("INC2", T0 + timedelta(days=1))],
            comment_after=4,
            events=(done_at(T0 + timedelta(days=1), 30),),
            status="Done",
        ),
        issue("OPS-3", [record("INC3", T0 + timedelta(days=2))], comment_after=9),
        issue("OPS-4", [record("CHG1", T0)], kind="Story", comment_after=1.5),
        issue("OPS-0", [record("INC0", T0 - timedelta(days=60))], comment_after=100),  # before the period
    ]
    report = build_report(facts, now=NOW, since=NOW - timedelta(days=30), policy=POLICY)
    medians = {m.issue_type: m for m in report.medians}
    assert (medians["Bug"].issues, medians["Bug"].first_comment_hours, medians["Bug"].resolution_hours) == (
        3,
        4.0,
        20.0,
    )
    assert (medians["Bug"].first_comment_samples, medians["Bug"].resolution_samples) == (3, 2)
    assert (medians["Story"].first_comment_hours, medians["Story"].resolution_hours) == (1.5, None)
    assert [(w.label, w.count) for w in report.per_week] == [("2026-W10", 4)]
    assert report.issues[-1].issue_key == "OPS-0"
    assert report.issues[-1].added_in_period == 0
    assert "OPS-0" not in [x.issue_key for x in report.by_added]


def test_recurring_and_reopened() -> None:
    facts = [
        issue("OPS-1", [record("INC1", T0, to=("OPS-1", "OPS-9")), record("INC2", T0, status="6")], status="Done"),
        issue(
            "OPS-2",
            [record("INC3", T0, status="2")],
            status="In Progress",
            events=(done_at(T0, 1), StatusEvent(T0 + timedelta(hours=3), "jira", "OPS-2", "In Progress")),
        ),
    ]
    report = build_report(facts, now=NOW, since=NOW - timedelta(days=30), policy=POLICY)
    assert [(r.record_key, r.escalations, r.issues) for r in report.recurring] == [("INC1", 2, ("OPS-1", "OPS-9"))]
    assert {(o.issue_key, o.records) for o in report.reopened} == {("OPS-1", ("INC1",)), ("OPS-2", ("INC3",))}


def test_group_by_counts_unset_values_and_reference_fields() -> None:
    facts = [
        issue(
            "OPS-1",
            [
                record("INC1", T0, assignment_group={"display_value": "Network"}),
                record("INC2", T0, assignment_group="Network"),
                record("INC3", T0),
            ],
        ),
    ]
    report = build_report(facts, now=NOW, since=NOW - timedelta(days=30), policy=POLICY, group_by=["assignment_group"])
    assert [(c.label, c.count) for c in report.per_field["assignment_group"]] == [("Network", 2), ("(none)", 1)]


def test_hostile_vendor_strings_are_escaped_in_html() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    facts = [issue("OPS-1", [record("INC1", T0, category=hostile)], kind="<b>Bug</b>")]
    page = render(
        build_report(facts, now=NOW, since=NOW - timedelta(days=30), policy=POLICY, group_by=["category"]), "html"
    )
    assert hostile not in page
    assert "<b>Bug" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("48h", NOW - timedelta(hours=48)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_parse_since_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="30d"):
        parse_since("last month", NOW)
