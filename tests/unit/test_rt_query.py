"""TicketSQL compilation: literals, custom-field names, and that every clause only broadens."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.connectors.rt_query import (
    changed_since_clause,
    compile_condition,
    custom_field_name,
    date_literal,
    quote,
    ticket_query,
    transaction_query,
)
from bridge.mapping.schema import Route

NEW_YORK = ZoneInfo("America/New_York")


def where(condition: object) -> object:
    return Route.model_validate({"record_type": "Incidents", "where": condition}).where


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("CF.{Jira Key}", "Jira Key"),
        ("cf.{Jira Key}", "Jira Key"),
        ("CF.Jira Key", "Jira Key"),
        ("cf:Jira Key", "Jira Key"),
        ("CustomField.{Impact.Level}", "Impact.Level"),
        ("CF.{Impact.Level}", "Impact.Level"),
        ("Subject", None),
        ("CF.{}", None),
        ("Requestor", None),
    ],
)
def test_custom_field_names(field: str, name: str | None) -> None:
    assert custom_field_name(field) == name


def test_date_literal_is_server_local_and_never_rt_own_z_format() -> None:
    """RT reads '2026-11-23T13:21:29Z' as midnight: the literal must be 'YYYY-MM-DD HH:MM:SS' local."""
    instant = datetime(2026, 11, 23, 13, 21, 29, 900_000, tzinfo=UTC)
    assert date_literal(instant, ZoneInfo("UTC")) == "'2026-11-23 13:21:29'"
    assert date_literal(instant, NEW_YORK) == "'2026-11-23 08:21:29'"  # EST, floored to the second
    summer = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
    assert date_literal(summer, NEW_YORK) == "'2026-07-01 08:00:00'"  # EDT


def test_since_clause_errs_one_second_early() -> None:
    since = datetime(2026, 11, 23, 13, 21, 29, 10, tzinfo=UTC)
    assert changed_since_clause(since, ZoneInfo("UTC")) == "LastUpdated >= '2026-11-23 13:21:28'"


def test_naive_cursor_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        date_literal(datetime(2026, 1, 1), NEW_YORK)


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote("O'Brien \\ co") == "'O\\'Brien \\\\ co'"


@pytest.mark.parametrize(
    ("condition", "sql"),
    [
        ({"field": "Status", "equals": "open"}, "Status = 'open'"),
        ({"field": "CF.{Severity}", "equals": "high"}, "CF.{Severity} = 'high'"),
        (
            {"field": "cf:Severity", "in": ["high", "critical"]},
            "(CF.{Severity} = 'high' OR CF.{Severity} = 'critical')",
        ),
        ({"field": "Priority", "gte": 50}, "Priority >= 50"),
        ({"field": "Priority", "equals": 5}, "Priority = 5"),
        ({"field": "Status", "not_in": ["rejected", "deleted"]}, "(Status != 'rejected' AND Status != 'deleted')"),
        ({"field": "CF.{Jira Key}", "is_empty": True}, "CF.{Jira Key} IS NULL"),
        ({"field": "CF.{Jira Key}", "is_empty": False}, "CF.{Jira Key} IS NOT NULL"),
        ({"field": "Subject", "matches": "^printer"}, "Subject LIKE 'printer'"),
        (
            {"all": [{"field": "Status", "equals": "new"}, {"field": "Subject", "matches": "a+b"}]},
            "Status = 'new'",  # the regex is re-checked locally; dropping a conjunct only broadens
        ),
        (
            {"any": [{"field": "Status", "equals": "new"}, {"field": "CF.{Severity}", "equals": "high"}]},
            "(Status = 'new' OR CF.{Severity} = 'high')",
        ),
    ],
)
def test_compiles(condition: object, sql: str) -> None:
    assert compile_condition(where(condition)) == sql  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "condition",
    [
        {"not": {"field": "Status", "equals": "new"}},  # a negated pre-filter would narrow
        {"field": "Subject", "not_equals": "Printer"},  # RT's != is case-insensitive: would drop "printer"
        {"field": "Status", "not_equals": "Open"},  # not canonical lower case
        {"field": "CF.{Severity}", "gt": 3},  # RT compares custom-field values as text
        {"field": "Subject", "matches": "a.c"},  # a regex, not a literal
        {"field": "Subject", "equals": "5"},  # equals 5.0 locally, not in RT's text comparison
        {"field": "Subject", "is_empty": True},  # core fields are never NULL
        {"field": "Requestor.Organization", "equals": "x"},  # not a searchable field
        {"any": [{"field": "Status", "equals": "new"}, {"not": {"field": "Subject", "equals": "x"}}]},
    ],
)
def test_does_not_compile_what_it_cannot_broaden(condition: object) -> None:
    assert compile_condition(where(condition)) is None  # type: ignore[arg-type]


def test_ticket_query_combines_queue_route_and_cursor() -> None:
    since = datetime(2026, 11, 23, 18, 0, 0, tzinfo=UTC)
    query = ticket_query("Inc'idents", where({"field": "Status", "equals": "new"}), since, NEW_YORK)  # type: ignore[arg-type]
    assert query == "Queue = 'Inc\\'idents' AND Status = 'new' AND LastUpdated >= '2026-11-23 12:59:59'"
    assert ticket_query("Incidents", None, None, NEW_YORK) == "Queue = 'Incidents'"


def test_transaction_query_covers_many_tickets_in_one_search() -> None:
    query = transaction_query(["7", 8], ["Comment", "Correspond"], None, NEW_YORK)  # type: ignore[list-item]
    assert query == (
        "ObjectType = 'RT::Ticket' AND (ObjectId = 7 OR ObjectId = 8) AND (Type = 'Comment' OR Type = 'Correspond')"
    )
    with pytest.raises(ValueError, match="invalid literal"):
        transaction_query(["7 OR 1=1"], ["Comment"], None, NEW_YORK)


@given(st.text(min_size=1, max_size=40))
def test_any_string_value_stays_one_literal(value: str) -> None:
    """Whatever a mapping or a record says, it cannot break out of the TicketSQL string literal."""
    literal = quote(value)
    body = literal[1:-1]
    assert literal[0] == literal[-1] == "'"
    # every quote inside is escaped: removing escaped pairs leaves no bare quote
    assert "'" not in body.replace("\\\\", "").replace("\\'", "")


def test_ticket_query_also_selects_linked_tickets_whatever_their_queue_and_route() -> None:
    since = datetime(2026, 11, 23, 18, 0, 0, tzinfo=UTC)
    query = ticket_query("Incidents", where({"field": "Status", "equals": "new"}), since, NEW_YORK,  # type: ignore[arg-type]
                         "CF.{Jira Key}")
    assert query == ("((Queue = 'Incidents' AND Status = 'new') OR CF.{Jira Key} IS NOT NULL)"
                     " AND LastUpdated >= '2026-11-23 12:59:59'")
    assert ticket_query("Incidents", None, None, NEW_YORK, "CF.{Jira Key}") == (
        "(Queue = 'Incidents') OR CF.{Jira Key} IS NOT NULL"
    )
    assert ticket_query("Incidents", None, None, NEW_YORK, "Subject") == "Queue = 'Incidents'"  # not a CF


def test_linked_tickets_elsewhere_are_narrowed_to_the_mappings_projects() -> None:
    """Tickets another mapping linked to another project's issues stay out of this mapping's search."""
    assert ticket_query("Incidents", None, None, NEW_YORK, "CF.{Jira Key}", ["OPS"]) == (
        "(Queue = 'Incidents') OR CF.{Jira Key} LIKE 'OPS-'"
    )
    assert ticket_query("Incidents", None, None, NEW_YORK, "CF.{Jira Key}", ["OPS", "SUP", "OPS"]) == (
        "(Queue = 'Incidents') OR (CF.{Jira Key} LIKE 'OPS-' OR CF.{Jira Key} LIKE 'SUP-')"
    )
