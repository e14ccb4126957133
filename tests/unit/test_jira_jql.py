"""The sandbox's strict JQL subset, without HTTP: what it accepts, what it refuses and how it reads dates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.sandbox.jira import jql

ISSUES = [
    {"key": "OPS-1", "project": "OPS", "labels": ["bridge"], "status": "To Do", "updated": None},
    {"key": "OPS-2", "project": "OPS", "labels": ["bridge", "x"], "status": "Done", "updated": None},
    {"key": "DEV-10", "project": "DEV", "labels": [], "status": "To Do", "updated": None},
]
BERLIN = ZoneInfo("Europe/Berlin")


def read(issue: dict[str, Any], field: str) -> Any:
    if field == "key":
        return [issue["key"]]
    if field == "labels":
        return issue["labels"] or None
    if field == "updated":
        return issue["updated"]
    if field == "customfield_10052":
        return issue.get("ref")
    return issue.get(field)


def run(text: str, now: datetime | None = None, issues: list[dict[str, Any]] | None = None) -> list[str]:
    query = jql.parse(text, {"customfield_10052"}, {"project": {"ops", "dev"}})
    ctx = jql.Context(BERLIN, now or datetime(2026, 3, 10, 12, 0, tzinfo=UTC), read)
    found = [i for i in issues or ISSUES if query.where is None or query.where(i, ctx)]
    return [i["key"] for i in sorted(found, key=lambda i: jql.sort_key(i, query.order_by or [("key", False)], ctx))]


def test_boolean_structure_and_lists() -> None:
    assert run('project = OPS AND labels = "x"') == ["OPS-2"]
    assert run("project in (OPS, DEV) AND NOT labels = x ORDER BY key DESC") == ["OPS-1", "DEV-10"]
    assert run("labels in (x) OR (project = DEV AND status = 'To Do')") == ["DEV-10", "OPS-2"]
    assert run("labels is EMPTY") == ["DEV-10"]
    assert run("labels != x") == ["OPS-1"]  # != never matches an empty field
    assert run("key not in (OPS-1)") == ["DEV-10", "OPS-2"]


def test_keys_sort_numerically_within_a_project() -> None:
    issues = [{"key": f"OPS-{n}", "project": "OPS", "labels": [], "status": "", "updated": None} for n in (10, 9, 100)]
    assert run("project = OPS ORDER BY key ASC", issues=issues) == ["OPS-9", "OPS-10", "OPS-100"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project = ", "Expecting either a value, list or function but got 'EOF'"),
        ("project OPS", "Expecting operator but got 'OPS'"),
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("cf[99] = x", "Field 'customfield_99' does not exist"),
        ("project = MARS", "The value 'MARS' does not exist for the field 'project'."),
        ("labels ~ x", "The operator '~' is not supported by the 'labels' field."),
        ("project = OPS ORDER key", "Expecting 'by'"),
        ("project = OPS labels = x", "Expecting either 'OR' or 'AND'"),
        ("labels is bridge", "only supports EMPTY or NULL"),
        ('updated >= "2026/03/10 10:00:30"', "Date value '2026/03/10 10:00:30' for field 'updated' is invalid."),
        ("project = OPS ORDER BY a, b, c, d, e, f, g, h", "Field 'a' does not exist"),
    ],
)
def test_what_it_cannot_read_is_refused_with_jiras_message(text: str, message: str) -> None:
    with pytest.raises(jql.JqlError) as info:
        jql.parse(text, {"customfield_10052"}, {"project": {"ops", "dev"}})
    assert message in info.value.messages[0]


def test_dates_are_minute_literals_in_the_users_zone() -> None:
    issues = [dict(ISSUES[0], updated=int(datetime(2026, 3, 10, 9, 30, 15, tzinfo=UTC).timestamp() * 1000))]
    assert run('updated >= "2026/03/10 10:30"', issues=issues) == ["OPS-1"]  # Berlin 10:30 = 09:30 UTC
    assert run('updated >= "2026-03-10 10:31"', issues=issues) == []
    assert run("updated >= 2026/03/10", issues=issues) == ["OPS-1"]
    assert run("updated > -3h", issues=issues) == ["OPS-1"]  # now is 12:00 UTC
    assert run('updated > "-2h 29m"', issues=issues) == []
    assert run("updated < 1773135000000", issues=issues) == []  # epoch millis (09:30:00 UTC) are accepted


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_a_minute_literal_matches_every_instant_of_that_minute_and_later(local: datetime) -> None:
    instant = local.replace(tzinfo=BERLIN)
    if instant.astimezone(UTC).astimezone(BERLIN).replace(tzinfo=None) != local:
        return  # a wall time that does not exist (spring forward gap)
    issues = [dict(ISSUES[0], updated=int(instant.timestamp() * 1000))]
    literal = local.strftime("%Y/%m/%d %H:%M")
    assert run(f'updated >= "{literal}"', issues=issues) == ["OPS-1"]
