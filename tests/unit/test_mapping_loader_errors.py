"""Malformed mappings: every problem names the exact file, line and key path, with a useful hint.

Each case edits a known-good mapping (``BASE``, whose line numbers are listed next to it) and states the
one problem it must produce. The table is the contract admins rely on: "file:line: path: message".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.mapping.loader import load_mapping_file, load_mapping_text

BASE = """\
name: t
route:
  record_type: incident
  where:
    all:
      - field: assignment_group
        equals: L3
      - field: priority
        lte: 3
target:
  project: DEMO
  issue_type: Bug
fields:
  summary:
    template: "{{ number }}: {{ short_description }}"
  priority:
    itsm: priority
    map: {1: Highest, 2: High}
    default: Medium
status:
  to_jira: {1: To Do, 2: In Progress, 3: In Progress, 6: Done, 7: Done, 8: Done}
  to_itsm:
    In Progress: 2
    Done:
      state: 6
      fields:
        close_code: Solved (Permanently)
        close_notes: {template: "Fixed in {{ issue.key }}"}
"""
# Lines: 1 name, 2 route, 6/8 condition items, 9 lte, 10 target, 11 project, 12 issue_type, 13 fields,
# 15 summary template, 16 priority, 18 map, 19 default, 20 status, 21 to_jira, 22 to_itsm, 23 In Progress,
# 24 Done, 25 state, 27 close_code, 28 close_notes; anything appended starts at line 29.

TO_JIRA_BLOCK = (
    "  to_jira:\n    1: To Do\n    2: In Progress\n    3: In Progress\n"
    "    6: {statuss: Done}\n    7: Done\n    8: Done\n"
)
SUMMARY = '    template: "{{ number }}: {{ short_description }}"\n'

# (id, old text, new text, line, path, fragment of message or hint, severity)
CASES = [
    ("missing-required", "  issue_type: Bug\n", "", 10, "target.issue_type", "add `issue_type: Bug`", "error"),
    ("root-key-typo", "status:\n", "statuss:\n", 20, "statuss", "did you mean `status`?", "error"),
    (
        "literal-typo",
        SUMMARY,
        SUMMARY + "    direction: bth\n",
        16,
        "fields.summary.direction",
        "did you mean `both`?",
        "error",
    ),
    (
        "number-expected",
        "        lte: 3\n",
        "        lte: three\n",
        9,
        "route.where.all[1].lte",
        "expected a number",
        "error",
    ),
    (
        "two-operators",
        "        lte: 3\n",
        "        lte: 3\n        gt: 1\n",
        8,
        "route.where.all[1]",
        "got lte, gt",
        "error",
    ),
    (
        "unknown-operator",
        "        lte: 3\n",
        "        lessthan: 3\n",
        9,
        "route.where.all[1].lessthan",
        "unknown key",
        "error",
    ),
    ("map-without-default", "    default: Medium\n", "", 16, "fields.priority", "default: Medium", "error"),
    ("map-without-itsm", "    itsm: priority\n", "    value: x\n", 16, "fields.priority", "`map:` translates", "error"),
    ("project-pattern", "  project: DEMO\n", "  project: demo\n", 11, "target.project", "upper-case", "error"),
    (
        "labels-not-list",
        "  issue_type: Bug\n",
        "  issue_type: Bug\n  labels: servicenow\n",
        13,
        "target.labels",
        "expected a list of text",
        "error",
    ),
    (
        "label-with-space",
        "  issue_type: Bug\n",
        "  issue_type: Bug\n  labels: [needs dev]\n",
        13,
        "target.labels",
        "needs-dev",
        "error",
    ),
    ("name-pattern", "name: t\n", "name: Not Valid\n", 1, "name", "lower-case", "error"),
    ("bool-expected", "name: t\n", "name: t\nenabled: maybe\n", 2, "enabled", "expected true or false", "error"),
    (
        "missing-route",
        "route:\n  record_type: incident\n  where:\n    all:\n      - field: assignment_group\n"
        "        equals: L3\n      - field: priority\n        lte: 3\n",
        "",
        1,
        "route",
        "add `route:",
        "error",
    ),
    (
        "resolve-without-close-notes",
        '        close_notes: {template: "Fixed in {{ issue.key }}"}\n',
        "",
        24,
        "status.to_itsm.Done",
        "needs `close_notes`",
        "error",
    ),
    (
        "template-syntax",
        SUMMARY,
        '    template: "{{ number }: x"\n',
        15,
        "fields.summary.template",
        "syntax error",
        "error",
    ),
    (
        "block-template-syntax-line",
        SUMMARY,
        "    template: |\n      line one\n      line two\n      {{ oops }\n",
        18,
        "fields.summary.template",
        "syntax error",
        "error",
    ),
    (
        "record-attribute",
        SUMMARY,
        '    template: "{{ record.keyy }}"\n',
        15,
        "fields.summary.template",
        "did you mean `record.key`?",
        "error",
    ),
    (
        "issue-in-to-jira",
        SUMMARY,
        '    template: "{{ issue.key }}"\n',
        15,
        "fields.summary.template",
        "not available in an ITSM→Jira field template",
        "error",
    ),
    (
        "sandbox-dunder",
        SUMMARY,
        "    template: \"{{ ''.__class__ }}\"\n",
        15,
        "fields.summary.template",
        "refused by the sandbox",
        "error",
    ),
    (
        "range-bomb",
        SUMMARY,
        '    template: "{{ range(10**9)|list }}"\n',
        15,
        "fields.summary.template",
        "limit",
        "error",
    ),
    (
        "skip-regex",
        "",
        "comments:\n  skip: ['^[auto']\n",
        30,
        "comments.skip[0]",
        "invalid regular expression",
        "error",
    ),
    (
        "attribution-variable",
        "",
        "comments:\n  attribution: '{{ number }} wrote:'\n",
        30,
        "comments.attribution",
        "available here: author, system, record",
        "error",
    ),
    (
        "visibility-literal",
        "",
        "comments:\n  jira_visibility: {type: roles, value: Devs}\n",
        30,
        "comments.jira_visibility.type",
        "did you mean `role`?",
        "error",
    ),
    (
        "journal-name",
        "",
        "comments:\n  to_itsm_channel: worknotes\n",
        30,
        "comments.to_itsm_channel",
        "work_notes",
        "error",
    ),
    (
        "max-length-range",
        "",
        "comments:\n  max_length: 10\n",
        30,
        "comments.max_length",
        "greater than or equal",
        "error",
    ),
    (
        "nested-unknown-key",
        "  to_jira: {1: To Do, 2: In Progress, 3: In Progress, 6: Done, 7: Done, 8: Done}\n",
        TO_JIRA_BLOCK,
        25,
        "status.to_jira.6.statuss",
        "did you mean `status`?",
        "error",
    ),
    (
        "category-typo",
        "    In Progress: 2\n",
        "    category:finished: 2\n",
        23,
        "status.to_itsm.category:finished",
        "category:done",
        "error",
    ),
    (
        "to-itsm-list",
        "    In Progress: 2\n",
        "    In Progress: [2]\n",
        23,
        "status.to_itsm.In Progress",
        "expected text or a mapping with keys state, fields",
        "error",
    ),
    ("duplicate-key", "name: t\n", "name: t\nname: u\n", 2, "name", "duplicate key `name`", "error"),
    (
        "nested-duplicate-key",
        "    default: Medium\n",
        "    default: Medium\n    default: High\n",
        20,
        "fields.priority.default",
        "duplicate key",
        "error",
    ),
    ("yaml-syntax", "  issue_type: Bug\n", "  issue_type: [Bug\n", 13, "", "YAML syntax error", "error"),
    (
        "unknown-template-field",
        SUMMARY,
        '    template: "{{ short_descripton }}"\n',
        15,
        "fields.summary.template",
        "did you mean `short_description`?",
        "warning",
    ),
    (
        "on-hold-without-reason",
        "    In Progress: 2\n",
        "    In Progress: 3\n",
        23,
        "status.to_itsm.In Progress",
        "hold_reason",
        "error",  # ServiceNow refuses On Hold without a hold reason (docs/connectors/servicenow.md)
    ),
    (
        "unmapped-state",
        "6: Done, 7: Done, 8: Done}",
        "6: Done, 8: Done}",
        21,
        "status.to_jira",
        "7 (Closed)",
        "warning",
    ),
    (
        "unknown-state",
        "    In Progress: 2\n",
        "    In Progress: 12\n",
        23,
        "status.to_itsm.In Progress",
        "not a known incident state",
        "warning",
    ),
    (
        "conflict-policy-for-unknown-field",
        "",
        "conflicts:\n  fields:\n    priorty: itsm_wins\n",
        31,
        "conflicts.fields.priorty",
        "did you mean `priority`?",
        "warning",
    ),
    (
        "linked-count-without-link-existing",
        "",
        "links:\n  linked_count_field: customfield_1\n",
        30,
        "links.linked_count_field",
        "link_existing",
        "warning",
    ),
    (
        "conflict-policy-literal",
        "",
        "conflicts:\n  default: itsm_win\n",
        30,
        "conflicts.default",
        "did you mean `itsm_wins`?",
        "error",
    ),
    (
        "unknown-condition-field",
        "      - field: assignment_group\n",
        "      - field: asignment_group\n",
        6,
        "route.where.all[0].field",
        "did you mean `assignment_group`?",
        "warning",
    ),
]


def test_base_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(BASE)
    result = load_mapping_file(path)
    assert result.problems == []
    assert [m.mapping.name for m in result.mappings] == ["t"]


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "fragment", "severity"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_problem_names_file_line_and_path(
    tmp_path: Path, old: str, new: str, line: int, path: str, fragment: str, severity: str
) -> None:
    if old:
        assert old in BASE
        text = BASE.replace(old, new, 1)
    else:
        text = BASE + new
    file = tmp_path / "m.yaml"
    file.write_text(text)
    result = load_mapping_file(file)
    matching = [p for p in result.problems if p.path == path and p.line == line]
    assert matching, f"no problem at line {line}, path {path!r}; got:\n" + "\n".join(map(str, result.problems))
    problem = matching[0]
    assert problem.file == str(file)
    assert problem.severity == severity
    assert fragment in f"{problem.message}\n{problem.hint}"
    rendered = str(problem)
    assert rendered.startswith(f"{file}:{line}:{problem.column}: {path or '<root>'}: ")
    if severity == "error":
        assert result.mappings == []
    else:
        assert [p for p in result.problems if p.severity == "error"] == []
        assert len(result.mappings) == 1


def test_every_schema_error_is_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace("  project: DEMO\n", "  project: demo\n").replace("status:\n", "statuss:\n")
    text = text.replace("        lte: 3\n", "        lte: three\n")
    file = tmp_path / "m.yaml"
    file.write_text(text)
    problems = load_mapping_file(file).problems
    assert {(p.line, p.path) for p in problems} == {
        (9, "route.where.all[1].lte"),
        (11, "target.project"),
        (20, "statuss"),
    }


def test_union_noise_is_one_problem(tmp_path: Path) -> None:
    # A list where a status name or a {state, fields} mapping belongs fails every union member; that is one problem.
    file = tmp_path / "m.yaml"
    file.write_text(BASE.replace("    In Progress: 2\n", "    In Progress: [2]\n"))
    problems = load_mapping_file(file).problems
    assert len(problems) == 1


def test_columns_point_at_the_value_or_key(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(BASE.replace("  project: DEMO\n", "  project: demo\n").replace("status:\n", "statuss:\n"))
    by_path = {p.path: p for p in load_mapping_file(file).problems}
    assert (by_path["target.project"].line, by_path["target.project"].column) == (11, 12)  # the value
    assert (by_path["statuss"].line, by_path["statuss"].column) == (20, 1)  # the key


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("- a\n- b\n", "not a list"), ("just text\n", "not a single value")],
)
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str, fragment: str) -> None:
    file = tmp_path / "m.yml"
    file.write_text(text)
    problems = load_mapping_file(file).problems
    assert len(problems) == 1
    assert (problems[0].file, problems[0].line, problems[0].path) == (str(file), 1, "")
    assert fragment in problems[0].message


def test_alias_bomb_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    file = tmp_path / "bomb.yaml"
    file.write_text("\n".join(lines) + "\n")
    [problem] = load_mapping_file(file).problems
    assert (problem.line, problem.path) == (1, "")
    assert "expands to more than" in problem.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_files_give_problems_never_exceptions(data: st.DataObject) -> None:
    lines = BASE.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "garble", "dedent", "indent", "duplicate"]))
        if action == "drop":
            lines.pop(index)
        elif action == "garble":
            lines[index] = data.draw(st.text(max_size=30)) + "\n"
        elif action == "dedent":
            lines[index] = lines[index][2:]
        elif action == "indent":
            lines[index] = "  " + lines[index]
        else:
            lines.insert(index, lines[index])
        if not lines:
            break
    result = load_mapping_text("".join(lines), "f.yaml")
    for problem in result.problems:
        assert problem.file == "f.yaml"
        assert problem.line >= 1
        assert problem.column >= 1
    assert bool(result.mappings) != bool(result.errors)
