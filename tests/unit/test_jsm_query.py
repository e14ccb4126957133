"""Route conditions → JQL for a JSM project: exact where JQL means the same, otherwise left to local filtering.

The invariant that matters (the query never selects fewer requests than the route) is checked with
hypothesis against the sandbox's own JQL evaluator: for random condition trees and random requests, every
request the route matches is also selected by the compiled JQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.connectors.jsm_query import FieldInfo, compile_route, field_info
from bridge.mapping.schema import Condition
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.sandbox import jira_jql as jql

LOOKUP = {
    "priority": FieldInfo("priority", "named"),
    "status": FieldInfo("status", "named"),
    "Severity": FieldInfo("cf[10070]", "named"),
    "Score": FieldInfo("cf[10071]", "number"),
    "summary": FieldInfo("summary", "text"),
    "Request Type": FieldInfo("cf[10010]", "other"),
}


def where(condition: dict[str, Any]) -> Condition:
    spec = MappingSpec.model_validate(
        {
            "name": "m",
            "route": {"record_type": "SUP", "where": condition},
            "target": {"project": "DEV", "issue_type": "Bug"},
        }
    )
    assert spec.route.where is not None
    return spec.route.where


def compiled(condition: dict[str, Any]) -> tuple[str | None, bool]:
    result = compile_route(where(condition), LOOKUP.get)
    return result.jql, result.exact


def test_equals_and_in_on_named_fields_are_exact() -> None:
    assert compiled({"field": "priority", "equals": "High"}) == ('priority = "High"', True)
    assert compiled({"field": "Severity", "in": ["S1", "S2"]}) == ('cf[10070] in ("S1", "S2")', True)


def test_negations_also_select_empty_fields_like_the_local_meaning() -> None:
    assert compiled({"field": "priority", "not_equals": "Low"}) == ('(priority != "Low" OR priority is EMPTY)', True)
    assert compiled({"field": "status", "not_in": ["Closed", "Canceled"]}) == (
        '(status not in ("Closed", "Canceled") OR status is EMPTY)',
        True,
    )


def test_numbers_compare_only_on_number_fields() -> None:
    assert compiled({"field": "Score", "gte": 3}) == ("cf[10071] >= 3", True)
    # JQL compares priorities by rank; a number in a mapping means something else: local
    assert compiled({"field": "priority", "lte": 3}) == (None, False)
    assert compiled({"field": "priority", "equals": 3}) == (None, False)


def test_text_regex_request_type_and_unknown_fields_are_local_and_and_keeps_the_exact_part() -> None:
    condition = {
        "all": [
            {"field": "priority", "in": ["High"]},
            {"field": "summary", "matches": "^VIP"},
            {"field": "Request Type", "equals": "Report a bug"},
            {"field": "Nope", "equals": "x"},
        ]
    }
    assert compiled(condition) == ('priority in ("High")', False)


def test_or_with_an_inexact_branch_and_not_of_an_inexact_condition_are_unrestricted() -> None:
    assert compiled({"any": [{"field": "priority", "equals": "High"}, {"field": "summary", "matches": "x"}]}) == (
        None,
        False,
    )
    assert (
        compiled({"not": {"all": [{"field": "priority", "equals": "High"}, {"field": "summary", "matches": "x"}]}})[1]
        is False
    )
    assert compiled({"not": {"field": "priority", "equals": "High"}}) == ('NOT (priority = "High")', True)


def test_is_empty_works_on_every_known_field() -> None:
    assert compiled({"field": "summary", "is_empty": True}) == ("summary is EMPTY", True)
    assert compiled({"field": "Request Type", "is_empty": False}) == ("cf[10010] is not EMPTY", True)


def test_field_info_from_the_field_list_schema() -> None:
    assert field_info("priority", {}) == FieldInfo("priority", "named")
    assert field_info("customfield_10070", {"type": "option"}) == FieldInfo("cf[10070]", "named")
    assert field_info("customfield_10071", {"type": "number"}) == FieldInfo("cf[10071]", "number")
    assert field_info("reporter", {"type": "user"}) is None  # JQL wants account ids; names are local


# ------------------------------------------------------------------------------------ the superset invariant

PRIORITIES = ["Highest", "High", "Medium", "Low"]
STATUSES = ["Waiting for support", "In Progress", "Resolved"]
SEVERITIES = ["S1", "S2", "S3"]

leaf = st.one_of(
    st.builds(
        lambda op, v: {"field": "priority", op: v},
        st.sampled_from(["equals", "not_equals"]),
        st.sampled_from(PRIORITIES),
    ),
    st.builds(
        lambda op, v: {"field": "priority", op: v},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(PRIORITIES), min_size=1, max_size=3),
    ),
    st.builds(lambda v: {"field": "status", "equals": v}, st.sampled_from(STATUSES)),
    st.builds(lambda v: {"field": "Severity", "in": v}, st.lists(st.sampled_from(SEVERITIES), min_size=1, max_size=2)),
    st.builds(lambda op, v: {"field": "Score", op: v}, st.sampled_from(["lt", "lte", "gt", "gte"]), st.integers(0, 5)),
    st.builds(lambda v: {"field": "Severity", "is_empty": v}, st.booleans()),
    st.builds(lambda v: {"field": "summary", "matches": v}, st.sampled_from(["^VIP", "crash"])),
)
conditions = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=6,
)
requests = st.fixed_dictionaries(
    {
        "priority": st.sampled_from(PRIORITIES),
        "status": st.sampled_from(STATUSES),
        "Severity": st.one_of(st.none(), st.sampled_from(SEVERITIES)),
        "Score": st.one_of(st.none(), st.integers(0, 5)),
        "summary": st.sampled_from(["VIP printer", "crash on save", "other"]),
    }
)
_READ = {"priority": "priority", "status": "status", "customfield_10070": "Severity", "customfield_10071": "Score"}


def _selects(query: str | None, request: dict[str, Any]) -> bool:
    if query is None:
        return True
    parsed = jql.parse(query, {"customfield_10070", "customfield_10071"})

    def read(_: dict[str, Any], field: str) -> Any:
        if field == "summary":
            return request["summary"]
        return request.get(_READ[field])

    ctx = jql.Context(ZoneInfo("UTC"), datetime(2026, 1, 1, tzinfo=UTC), read)
    return parsed.where is None or bool(parsed.where({}, ctx))


@settings(max_examples=300, deadline=None)
@given(conditions, requests)
def test_the_compiled_jql_never_drops_a_request_the_route_matches(
    condition: dict[str, Any], request: dict[str, Any]
) -> None:
    tree = where(condition)
    result = compile_route(tree, LOOKUP.get)
    if matches(tree, request):
        assert _selects(result.jql, request)
    if result.exact:
        assert _selects(result.jql, request) == matches(tree, request)
