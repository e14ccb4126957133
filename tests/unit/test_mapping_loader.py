"""Loading a mappings directory: valid files load, cross-file problems are found, errors raise together."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import MappingError
from bridge.mapping.check import check_mappings, format_problems
from bridge.mapping.checks import selectable_states
from bridge.mapping.checks_across import routes_overlap
from bridge.mapping.loader import load_mapping_text, load_mappings, load_or_raise
from bridge.mapping.schema import Mapping

REPO = Path(__file__).resolve().parents[2]


def mapping_text(name: str, where: str = "", project: str = "DEMO", record_type: str = "incident") -> str:
    text = f"name: {name}\nroute:\n  record_type: {record_type}\n"
    if where:
        text += "  where:\n" + "".join(f"    {line}\n" for line in where.splitlines())
    text += f"target:\n  project: {project}\n  issue_type: Bug\n"
    text += 'fields:\n  summary:\n    template: "{{ record.key }}"\n'  # Jira creates nothing without one
    return text


def write(directory: Path, filename: str, text: str) -> Path:
    path = directory / filename
    path.write_text(text)
    return path


def test_shipped_examples_validate_without_errors_or_warnings() -> None:
    result = load_mappings(REPO / "mappings")
    assert result.problems == []
    names = sorted(m.mapping.name for m in result.mappings)
    assert names == ["change-to-story", "incident-to-bug", "jsm-request-to-bug", "problem-to-bug", "rt-incident-to-bug"]


def test_shipped_incident_example_selects_both_demo_incidents_and_resolves_with_close_code() -> None:
    from bridge.mapping.transform import matches

    mapping = {m.mapping.name: m.mapping for m in load_mappings(REPO / "mappings").mappings}["incident-to-bug"]
    p1 = {"assignment_group.name": "Application Support L3", "priority": "1"}
    p3 = {"assignment_group.name": "Application Support L3", "priority": "3"}
    p4 = {"assignment_group.name": "Application Support L3", "priority": "4"}
    other = {"assignment_group.name": "Service Desk", "priority": "1"}
    assert [matches(mapping.route.where, r) for r in (p1, p3, p4, other)] == [True, True, False, False]
    target = mapping.status.itsm_target("Done", "done")
    assert target is not None
    assert (target.state, target.fields["close_code"]) == ("6", "Solved (Permanently)")
    assert mapping.target.issue_type == "Bug"


def test_shipped_change_example_selects_needs_dev() -> None:
    from bridge.mapping.transform import matches

    mapping = {m.mapping.name: m.mapping for m in load_mappings(REPO / "mappings").mappings}["change-to-story"]
    assert matches(mapping.route.where, {"u_needs_dev": "true"})
    assert not matches(mapping.route.where, {"u_needs_dev": "false"})
    assert mapping.target.issue_type == "Story"
    assert set(mapping.status.to_jira) == {"-5", "-4", "-3", "-2", "-1", "0", "3", "4"}


def test_both_suffixes_load_and_other_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a", "field: priority\nequals: 1"))
    write(tmp_path, "b.yml", mapping_text("b", "field: priority\nequals: 2"))
    write(tmp_path, "notes.txt", "not a mapping")
    write(tmp_path, ".hidden.yaml", "::: broken")
    result = load_mappings(tmp_path)
    assert sorted(m.mapping.name for m in result.mappings) == ["a", "b"]
    assert {m.path.name for m in result.mappings} == {"a.yaml", "b.yml"}
    assert result.errors == []


def test_duplicate_names_across_files_name_both(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", mapping_text("same", "field: priority\nequals: 1"))
    second = write(tmp_path, "b.yaml", "# second\n" + mapping_text("same", "field: priority\nequals: 2"))
    result = load_mappings(tmp_path)
    [problem] = result.errors
    assert (problem.file, problem.line, problem.path) == (str(second), 2, "name")
    assert str(first) in problem.message
    assert [m.path for m in result.mappings] == [first]


def test_overlapping_routes_into_one_project_warn(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a", "field: assignment_group\nequals: L3"))
    second = write(tmp_path, "b.yaml", mapping_text("b", "field: priority\nlte: 2"))
    result = load_mappings(tmp_path)
    [problem] = [p for p in result.problems if "same incident records" in p.message]
    assert (problem.file, problem.severity, problem.path) == (str(second), "warning", "name")
    assert len(result.mappings) == 2


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("field: priority\nequals: 1", "field: priority\nequals: 2", False),
        ("field: priority\nlte: 2", "field: priority\ngt: 2", False),
        ("field: priority\nlte: 2", "field: priority\ngte: 2", True),
        ("field: priority\nlt: 2", "field: priority\ngte: 2", False),
        ("field: priority\nin: [1, 2]", "field: priority\nequals: 3", False),
        ("field: priority\nin: [1, 2]", "field: priority\nin: [2, 3]", True),
        ("field: category\nequals: db", "not:\n  field: category\n  equals: db", False),
        ("field: category\nis_empty: true", "field: category\nmatches: '^db'", False),
        ("field: category\nis_empty: true", "field: category\nis_empty: false", False),
        ("all:\n  - field: a\n    equals: x\n  - field: b\n    equals: y", "field: b\nequals: z", False),
        ("any:\n  - field: b\n    equals: y\n  - field: c\n    equals: 1", "field: b\nequals: z", True),
        ("field: category\nequals: db", "field: priority\nequals: 1", True),
    ],
)
def test_routes_overlap(first: str, second: str, overlap: bool) -> None:
    a = load_mapping_text(mapping_text("a", first), "a.yaml").mappings[0].mapping
    b = load_mapping_text(mapping_text("b", second), "b.yaml").mappings[0].mapping
    assert routes_overlap(a, b) is overlap
    assert routes_overlap(b, a) is overlap


def test_different_projects_or_disabled_mappings_do_not_warn(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a", project="DEMO"))
    write(tmp_path, "b.yaml", mapping_text("b", project="OPS"))
    write(tmp_path, "c.yaml", mapping_text("c", project="DEMO").replace("name: c\n", "name: c\nenabled: false\n"))
    assert [p for p in load_mappings(tmp_path).problems if "may select" in p.message] == []


def test_selectable_states_follow_state_conditions() -> None:
    text = mapping_text("a", "all:\n  - field: state\n    in: [1, 2, 3]\n  - field: priority\n    equals: 1")
    mapping = load_mapping_text(text, "a.yaml").mappings[0].mapping
    assert selectable_states(mapping) == ["1", "2", "3"]
    rt = Mapping.model_validate(
        {
            "name": "rt",
            "route": {"record_type": "General", "where": {"not": {"field": "Status", "equals": "deleted"}}},
            "target": {"project": "OPS", "issue_type": "Bug"},
        }
    )
    assert selectable_states(rt) == ["new", "open", "stalled", "resolved", "rejected"]


def test_load_or_raise_carries_every_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a").replace("  issue_type: Bug\n", ""))
    write(tmp_path, "b.yaml", mapping_text("B"))
    write(tmp_path, "c.yaml", mapping_text("c", "field: priority\nequals: 9"))
    with pytest.raises(MappingError) as raised:
        load_or_raise(tmp_path)
    errors = [p for p in raised.value.problems if p.severity == "error"]
    assert {(Path(p.file).name, p.path) for p in errors} == {("a.yaml", "target.issue_type"), ("b.yaml", "name")}
    assert "2 mapping error(s)" in str(raised.value)


def test_load_or_raise_returns_mappings_when_only_warnings(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a", "field: asignment_group\nequals: x"))
    assert [m.name for m in load_or_raise(tmp_path)] == ["a"]


def test_anchors_merge_keys_and_extension_keys(tmp_path: Path) -> None:
    text = (
        "name: t\nroute: {record_type: incident}\ntarget: {project: DEMO, issue_type: Bug}\n"
        "x-rule: &rule\n  itsm: priority\n  map: {1: a}\n  default: b\n"
        "fields:\n  a: *rule\n  b:\n    <<: *rule\n    itsm: urgency\n    sync: creat\n"
        '  summary: {template: "{{ number }}"}\n'
    )
    result = load_mapping_text(text, "f.yaml")
    [problem] = result.errors
    assert (problem.line, problem.path) == (13, "fields.b.sync")
    fixed = load_mapping_text(text.replace("creat", "create"), "f.yaml").mappings[0].mapping
    assert fixed.fields["b"].itsm == "urgency"
    assert fixed.fields["b"].map == {"1": "a"}
    assert fixed.fields["a"].itsm == "priority"


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    result = load_mappings(tmp_path / "nope")
    assert len(result.errors) == 1
    assert "does not exist" in result.errors[0].message


def test_check_mappings_sorts_errors_first_and_formats(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", mapping_text("a", "field: asignment_group\nequals: x"))
    write(tmp_path, "b.yaml", mapping_text("b").replace("  project: DEMO\n", "  project: demo\n"))
    problems = check_mappings(tmp_path)
    assert next(p.severity for p in problems) == "error"
    text = format_problems(problems)
    assert f"{tmp_path / 'b.yaml'}:5:12: target.project:" in text
    assert "hint: Jira project keys" in text
    assert "[warning]" in text
    assert text.splitlines()[-1].startswith("1 error(s)")


def test_format_problems_when_clean() -> None:
    assert format_problems([]) == "mappings OK"
