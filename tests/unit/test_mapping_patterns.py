"""Mapping regexes run with a time limit (bridge/mapping/patterns.py): a hostile comment is never a hang."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.mapping import patterns
from bridge.mapping.check import check_mappings
from bridge.mapping.schema import CommentRules, FieldCondition, NotOf
from bridge.mapping.transform import RouteTimeout, is_skipped, matches, selects
from bridge.model import Comment, Ref, Side
from bridge.sync.actions import AddComment, CreateIssue, LinkExisting
from bridge.sync.comments import skip_reason
from bridge.sync.planner import plan
from tests.fixtures.planning import comment, given, mapping, record, record_ref

MEASURED_SKIP_RULE = r"^(\w+\s?)*$"
MEASURED_COMMENT = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"  # 36 characters: >10 min at 100 % CPU with `re`
EXPONENTIAL = r"(a|aa)+$"  # backtracks exponentially even in `regex`
HOSTILE = "a" * 40 + "!"


@pytest.fixture
def short_limit() -> Iterator[None]:
    before = patterns.timeout_ms()
    patterns.set_timeout_ms(20)
    yield
    patterns.set_timeout_ms(before)


def _comment(body: str) -> Comment:
    return Comment("1234", Ref(Side.ITSM, "incident", "a", "INC1"), "Ann", body, record(1).updated, "work_notes")


def test_the_measured_skip_rule_on_the_measured_comment_finishes_and_the_comment_is_mirrored() -> None:
    assert len(MEASURED_COMMENT) == 36
    started = time.monotonic()
    assert skip_reason(_comment(MEASURED_COMMENT), CommentRules(skip=[MEASURED_SKIP_RULE]), Side.JIRA) is None
    assert time.monotonic() - started < 2


def test_a_skip_rule_that_runs_out_of_time_is_not_applied_and_says_which_rule_and_comment(short_limit: None) -> None:
    heard: list[str] = []
    started = time.monotonic()
    rules = CommentRules(skip=["^never", EXPONENTIAL])
    assert skip_reason(_comment(HOSTILE), rules, Side.JIRA, heard.append) is None
    assert time.monotonic() - started < 5
    assert heard == [
        f"skip rule 2 ({EXPONENTIAL!r}) took longer than 20 ms on comment 1234: not applied, comment mirrored"
    ]


def test_a_later_skip_rule_still_applies_after_one_timed_out(short_limit: None) -> None:
    timed_out: list[int] = []
    rules = CommentRules(skip=[EXPONENTIAL, "!$"])
    assert is_skipped(HOSTILE, rules, lambda index, exc: timed_out.append(index)) is True
    assert timed_out == [0]


def test_the_planner_mirrors_the_comment_and_puts_the_timeout_on_the_error_list(short_limit: None) -> None:
    rec = record(1)
    m = mapping(comments={"skip": [EXPONENTIAL]})
    started = time.monotonic()
    result = plan(m, given(records=[rec], comments={rec.ref.id: [comment("c9", rec.ref, HOSTILE)]}))
    assert time.monotonic() - started < 5
    assert len([a for a in result.actions if isinstance(a, AddComment)]) == 1
    [problem] = result.problems
    assert problem.item == rec.ref
    assert "skip rule 1" in problem.message
    assert "comment c9" in problem.message
    assert "not applied, comment mirrored" in problem.message


def test_a_route_regex_that_runs_out_of_time_selects_nothing_and_is_a_located_problem(short_limit: None) -> None:
    m = mapping(route={"record_type": "incident", "where": {"all": [
        {"field": "category", "equals": "software"}, {"field": "short_description", "matches": EXPONENTIAL},
    ]}})
    result = plan(m, given(records=[record(1, short_description=HOSTILE)]))
    assert [a for a in result.actions if isinstance(a, CreateIssue)] == []
    [problem] = result.problems
    assert problem.item == record_ref(1)
    assert problem.message.startswith("route.where.all[1].matches: regular expression")
    assert "not escalated" in problem.message


def test_pre_filters_let_an_undecided_record_through_and_not_keeps_it_undecided(short_limit: None) -> None:
    condition = FieldCondition(field="x", matches=EXPONENTIAL)
    assert matches(condition, {"x": HOSTILE}) is True
    assert matches(NotOf(not_=condition), {"x": HOSTILE}) is True
    with pytest.raises(RouteTimeout) as caught:
        selects(NotOf(not_=condition), {"x": HOSTILE})
    assert caught.value.path == "route.where.not.matches"
    assert selects(condition, {"x": "aa"}) is True
    assert selects(condition, {"x": None}) is False


@pytest.mark.parametrize(
    ("pattern", "nested"),
    [
        (r"^(\w+\s?)*$", [r"(\w+\s?)*"]),
        (r"(a+)+b", ["(a+)+"]),
        (r"((ab)*c)+", ["((ab)*c)+"]),
        (r"(x[a-z]{2,})*", ["(x[a-z]{2,})*"]),
        (r"^\[auto\]", []),
        (r"(?i)^out of office", []),
        (r"(ab)+c*", []),
        (r"(a+)?", []),
        (r"(?>a+)+", []),
        (r"[(a+)]+", []),
        (r"\(a+\)+", []),
        (r"(a{2})+", []),
    ],
)
def test_nested_quantifiers_are_found(pattern: str, nested: list[str]) -> None:
    assert [n.group for n in patterns.nested_quantifiers(pattern)] == nested


def test_bridge_check_warns_on_a_nested_quantifier_at_the_pattern_line(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "name: m\n"
        "route: {record_type: incident}\n"
        "target: {project: OPS, issue_type: Bug}\n"
        "comments:\n"
        "  skip:\n"
        "    - '^\\[auto\\]'\n"
        "    - '^(\\w+\\s?)*$'\n",
        encoding="utf-8",
    )
    problems = [p for p in check_mappings(tmp_path) if "repeats a group" in p.message]
    assert [(p.line, p.path, p.severity) for p in problems] == [(7, "comments.skip[1]", "warning")]


def test_the_limit_is_a_positive_number() -> None:
    with pytest.raises(ValueError, match="positive"):
        patterns.set_timeout_ms(0)


def test_link_existing_outside_the_target_project_is_a_problem_naming_key_and_project() -> None:
    m = mapping(links={"link_existing": "u_jira_key"})
    result = plan(m, given(records=[record(1, u_jira_key="SEC-4")]))
    assert result.actions == []
    [problem] = result.problems
    assert "holds SEC-4, an issue in project SEC" in problem.message
    assert "only to issues in OPS" in problem.message


def test_link_existing_projects_widens_and_replaces_the_target_project() -> None:
    m = mapping(links={"link_existing": "u_jira_key", "link_existing_projects": ["SUPPORT"]})
    assert len([a for a in plan(m, given(records=[record(1, u_jira_key="SUPPORT-7")])).actions
                if isinstance(a, LinkExisting)]) == 1
    assert plan(m, given(records=[record(1, u_jira_key="OPS-7")])).problems
