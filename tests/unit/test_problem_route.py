"""ServiceNow problem records as a route: ``bridge check`` knows the problem table's states, fields and
what a resolving write must carry (docs/connectors/servicenow.md, "Problem records")."""

from __future__ import annotations

from bridge.mapping import catalog
from bridge.mapping.checks import selectable_states
from bridge.mapping.loader import load_mapping_text

PROBLEM = """\
name: problem-to-bug
route:
  record_type: problem
  where:
    field: state
    in: [101, 102, 103, 104]
target:
  project: OPS
  issue_type: Bug
fields:
  summary:
    template: "{{ record.key }}: {{ short_description }}"
status:
  to_jira:
    "101": To Do
    "102": To Do
    "103": In Progress
    "104": In Progress
  to_itsm:
    In Progress: "103"
    category:done:
      state: "106"
      fields:
        resolution_code: fix_applied
        cause_notes: Root cause found in Jira
        fix_notes: Fixed in Jira
"""


def test_a_problem_mapping_validates_without_problems() -> None:
    result = load_mapping_text(PROBLEM, "problem.yaml")
    assert result.problems == []
    mapping = result.mappings[0].mapping
    assert catalog.system_of("problem", None) == "servicenow"
    assert selectable_states(mapping) == ["101", "102", "103", "104"]


def test_resolving_a_problem_without_a_resolution_code_is_an_error() -> None:
    text = PROBLEM.replace("        resolution_code: fix_applied\n", "")
    problems = load_mapping_text(text, "problem.yaml").problems
    assert [(p.severity, "resolution_code" in p.message) for p in problems] == [("error", True)]
    assert "106 (Resolved)" in problems[0].message


def test_notes_the_fix_needs_are_recommended_and_unknown_states_named() -> None:
    text = PROBLEM.replace("        cause_notes: Root cause found in Jira\n", "").replace(
        '"103": In Progress', '"105": In Progress'
    )
    messages = [(p.severity, p.message) for p in load_mapping_text(text, "problem.yaml").problems]
    assert ("warning", "`105` is not a known problem state") in messages
    assert any(s == "warning" and "`cause_notes`" in m for s, m in messages)
