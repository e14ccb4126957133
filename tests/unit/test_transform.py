"""Pure transforms with plain values: route matching, value maps both ways, templates, comment text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.mapping.schema import CommentRules, FieldRule, Route
from bridge.mapping.transform import (
    TemplateError,
    apply_comment_rules,
    condition_fields,
    is_skipped,
    matches,
    render,
    template_variables,
    to_itsm_value,
    to_jira_value,
    truncate,
)
from bridge.text_limits import omitted_in


def where(tree: dict) -> Route:
    return Route.model_validate({"record_type": "incident", "where": tree})


@pytest.mark.parametrize(
    ("tree", "fields", "expected"),
    [
        ({"field": "priority", "lte": 2}, {"priority": "2"}, True),
        ({"field": "priority", "lte": 2}, {"priority": "3"}, False),
        ({"field": "priority", "lte": 2}, {"priority": ""}, False),
        ({"field": "priority", "gt": 2}, {}, False),
        ({"field": "u_needs_dev", "equals": True}, {"u_needs_dev": "true"}, True),
        ({"field": "u_needs_dev", "equals": True}, {"u_needs_dev": "false"}, False),
        ({"field": "state", "in": [1, 2]}, {"state": "2"}, True),
        ({"field": "state", "not_in": [1, 2]}, {"state": "2"}, False),
        ({"field": "group", "not_equals": "L3"}, {"group": "L2"}, True),
        ({"field": "short_description", "matches": "(?i)login"}, {"short_description": "Login fails"}, True),
        ({"field": "short_description", "matches": "login"}, {}, False),
        ({"field": "category", "is_empty": True}, {"category": ""}, True),
        ({"field": "category", "is_empty": False}, {"category": ""}, False),
        ({"not": {"field": "a", "equals": 1}}, {"a": "1"}, False),
        ({"any": [{"field": "a", "equals": 1}, {"field": "b", "equals": 2}]}, {"a": "0", "b": "2"}, True),
        ({"all": [{"field": "a", "equals": 1}, {"field": "b", "equals": 2}]}, {"a": "0", "b": "2"}, False),
        (
            {
                "all": [
                    {"field": "assignment_group", "equals": "Application Support L3"},
                    {"field": "priority", "lte": 2},
                ]
            },
            {"assignment_group": "Application Support L3", "priority": "1"},
            True,
        ),
    ],
)
def test_matches(tree: dict, fields: dict, expected: bool) -> None:
    assert matches(where(tree).where, fields) is expected


def test_no_condition_selects_everything_and_reads_nothing() -> None:
    assert matches(None, {})
    assert condition_fields(None) == set()


def test_condition_fields_walks_the_tree() -> None:
    tree = {
        "all": [{"field": "a", "equals": 1}, {"any": [{"field": "b", "lt": 1}, {"not": {"field": "c", "equals": 1}}]}]
    }
    assert condition_fields(where(tree).where) == {"a", "b", "c"}


PRIORITY = FieldRule(itsm="priority", map={"1": "Highest", "2": "High", "3": "Medium"}, default="Medium")


def test_value_map_translates_and_defaults() -> None:
    assert to_jira_value(PRIORITY, {"priority": "1"}, {}) == "Highest"
    assert to_jira_value(PRIORITY, {"priority": 2}, {}) == "High"
    assert to_jira_value(PRIORITY, {"priority": "9"}, {}) == "Medium"
    assert to_jira_value(PRIORITY, {}, {}) == "Medium"


def test_other_sources() -> None:
    assert to_jira_value(FieldRule(value="ServiceNow"), {}, {}) == "ServiceNow"
    assert to_jira_value(FieldRule(value=["b", "a"]), {}, {}) == ("a", "b")
    assert to_jira_value(FieldRule(itsm="number"), {"number": "INC1"}, {}) == "INC1"
    rule = FieldRule(template="{{ number }}: {{ short_description }}")
    assert to_jira_value(rule, {}, {"number": "INC1", "short_description": "Login"}) == "INC1: Login"


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=False), st.booleans()))
def test_value_maps_are_total(raw: object) -> None:
    value = to_jira_value(PRIORITY, {"priority": raw}, {})
    assert value in set(PRIORITY.map.values()) | {PRIORITY.default}


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8), min_size=1, max_size=8).filter(
        lambda m: len(set(m.values())) == len(m)
    ),
    st.data(),
)
def test_invertible_maps_round_trip(mapping: dict[str, str], data: st.DataObject) -> None:
    rule = FieldRule(itsm="f", map=mapping, default="fallback", direction="both")
    key = data.draw(st.sampled_from(sorted(mapping)))
    assert to_itsm_value(rule, to_jira_value(rule, {"f": key}, {})) == key


def test_reverse_map_uses_itsm_default_for_unknown_jira_values() -> None:
    rule = FieldRule(itsm="priority", map={"1": "Highest"}, default="Medium", itsm_default="3", direction="both")
    assert to_itsm_value(rule, "Highest") == "1"
    assert to_itsm_value(rule, "Whatever") == "3"
    plain = FieldRule(itsm="u_fix_version", direction="to_itsm")
    assert to_itsm_value(plain, "1.2") == "1.2"


def test_render_is_plain_text_and_strict() -> None:
    assert render("<b>{{ x }}</b>", {"x": "a & b"}) == "<b>a & b</b>"
    with pytest.raises(TemplateError) as raised:
        render("{{ missing }}", {})
    assert raised.value.kind == "undefined"
    with pytest.raises(TemplateError) as raised:
        render("{{ x.nope }}", {"x": {}})
    assert raised.value.kind == "undefined"


def test_empty_values_print_as_nothing() -> None:
    assert render("[{{ category }}]", {"category": None}) == "[]"


def test_syntax_errors_carry_the_template_line() -> None:
    with pytest.raises(TemplateError) as raised:
        render("line\n{{ x }\n", {"x": 1})
    assert (raised.value.kind, raised.value.lineno) == ("syntax", 2)
    with pytest.raises(TemplateError):
        template_variables("{% if %}")


def test_template_variables() -> None:
    assert template_variables("{{ number }} {{ record.key }} {% for x in items %}{{ x }}{% endfor %}") == {
        "number",
        "record",
        "items",
    }


def test_runtime_failures_are_template_errors() -> None:
    with pytest.raises(TemplateError) as raised:
        render("{{ 1 // 0 }}", {})
    assert raised.value.kind == "runtime"


RULES = CommentRules(skip=[r"^\[auto\]"], max_length=200)


def test_skip_and_attribution() -> None:
    assert is_skipped("[auto] SLA breached", RULES)
    assert not is_skipped("please check [auto]", RULES)
    text = apply_comment_rules("Looks fixed", RULES, author="Jane Doe", system="ServiceNow", record={"key": "INC1"})
    assert text == "Jane Doe (ServiceNow) wrote:\nLooks fixed"
    assert apply_comment_rules("[auto] x", RULES, author="a", system="b", record={}) is None


@given(st.text(min_size=0, max_size=2000))
def test_truncation_never_exceeds_max_length_and_says_so(body: str) -> None:
    result = truncate(body, RULES)
    assert len(result) <= RULES.max_length
    if len(body) <= RULES.max_length:
        assert result == body
    else:
        assert "truncated by bridge" in result
        kept, omitted = omitted_in(result)
        assert body.startswith(kept)
        assert omitted == len(body) - len(kept)
