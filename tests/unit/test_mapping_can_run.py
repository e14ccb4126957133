"""``bridge check`` refuses mappings that can never run, and says what was probably meant.

One table of cases: a mapping document, and the problems (severity, path, words of the message or hint)
it must produce — or must not. Channels, tables and statuses come from :mod:`bridge.vendors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.mapping.checks_across import check_for_system
from bridge.mapping.loader import LoadedMapping, load_mapping_text

SUMMARY = {"summary": {"template": "{{ record.key }}"}}


def doc(record_type: str = "incident", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "case",
        "route": {"record_type": record_type},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "fields": dict(SUMMARY),
    }
    for key, value in extra.items():
        if key == "system":
            base["route"]["system"] = value
        else:
            base[key] = value
    return base


@dataclass
class Case:
    id: str
    document: dict[str, Any]
    expected: list[tuple[str, str, str]] = field(default_factory=list)
    """(severity, path, text in message or hint) that must each be reported."""
    absent: list[str] = field(default_factory=list)
    """Texts no problem may contain."""
    max_warnings: int | None = None


RT_COMMENTS = {"to_itsm_channel": "comment", "from_itsm_channels": ["comment", "correspond"]}
CASES = [
    Case("table typo without system", doc("incidnet"),
         [("error", "route.record_type", "did you mean `incident`?")], max_warnings=0),
    Case("table typo with system", doc("incidnet", system="servicenow"),
         [("error", "route.record_type", "did you mean `incident`?")], max_warnings=0),
    Case("custom table", doc("u_escalation", system="servicenow"), absent=["route.record_type"]),
    Case("RT queue far from any table", doc("General", comments=RT_COMMENTS), absent=["is not a ServiceNow table"]),
    Case("RT queue declared though close to a table", doc("incidents", system="rt", comments=RT_COMMENTS),
         absent=["is not a ServiceNow table"]),
    Case("JSM record type must be a project key", doc("sup", system="jsm"),
         [("error", "route.record_type", "project key")]),
    Case("RT mapping without comments block", doc("Incidents", system="rt"),
         [("error", "comments.to_itsm_channel", "to_itsm_channel: comment"),
          ("error", "comments.from_itsm_channels[0]", "without a `comments:` block")]),
    Case("RT mapping, comments off", doc("Incidents", system="rt", comments={"direction": "none"}),
         absent=["comment channel"]),
    Case("RT channels", doc("Incidents", system="rt", comments=RT_COMMENTS), absent=["comment channel"]),
    Case("JSM channels", doc("SUP", system="jsm", comments={"to_itsm_channel": "public",
                                                            "from_itsm_channels": ["public", "internal"]}),
         absent=["comment channel"]),
    Case("JSM with ServiceNow's journal", doc("SUP", system="jsm", comments={"to_itsm_channel": "work_notes",
                                                                             "direction": "to_itsm"}),
         [("error", "comments.to_itsm_channel", "`internal` (internal, the default)")]),
    Case("ServiceNow journal typo", doc(comments={"from_itsm_channels": ["work_note"]}),
         [("error", "comments.from_itsm_channels[0]", "did you mean `work_notes`?")]),
    Case("no summary rule", {**doc(), "fields": {"priority": {"itsm": "priority"}}},
         [("error", "fields", "without a summary")]),
    Case("no fields at all", {k: v for k, v in doc().items() if k != "fields"},
         [("error", "target", "without a summary")]),
    Case("to_itsm typo", doc(status={"to_itsm": {"In Reveiw": "2"}}),
         [("warning", "status.to_itsm.In Reveiw", "did you mean `In Review`?")]),
    Case("to_itsm names a to_jira status", doc(status={"to_jira": {"1": "Triage"}, "to_itsm": {"Triage": "1"}}),
         absent=["names elsewhere"]),
    Case("to_itsm category and default statuses", doc(status={"to_itsm": {"category:done": "6", "in review": "2"}}),
         absent=["names elsewhere"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_can_it_run(case: Case) -> None:
    problems = load_mapping_text(yaml.safe_dump(case.document, sort_keys=False), "case.yaml").problems
    text = "\n".join(str(p) for p in problems)
    for severity, path, words in case.expected:
        assert any(p.severity == severity and p.path == path and words in f"{p.message} {p.hint}"
                   for p in problems), f"missing {severity} at {path} ({words}); got:\n{text}"
    for words in case.absent:
        assert words not in text
    if case.max_warnings is not None:
        assert sum(p.severity == "warning" for p in problems) <= case.max_warnings, text


def test_schema_errors_do_not_hide_the_semantic_checks() -> None:
    document = doc(
        fields={**SUMMARY, "priority": {"itsm": "priority", "sync": "creat"}},
        status={"to_itsm": {"In Reveiw": "2", "Done": {"state": "6", "fieldz": {}}}},
        comments={"to_itsm_channel": "work_nots"},
    )
    problems = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "case.yaml").problems
    paths = {(p.severity, p.path) for p in problems}
    assert ("error", "fields.priority.sync") in paths
    assert ("error", "status.to_itsm.Done.fieldz") in paths
    assert ("error", "comments.to_itsm_channel") in paths  # semantic: not a ServiceNow journal
    assert ("warning", "status.to_itsm.In Reveiw") in paths


def test_schema_errors_in_a_section_drop_its_semantic_checks() -> None:
    """A refused ``comments:`` block must not be replaced by its defaults and then blamed on them."""
    document = doc("Incidents", system="rt", comments={"to_itsm_chanel": "comment"})
    problems = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "case.yaml").problems
    assert [p.path for p in problems if p.path.startswith("comments")] == ["comments.to_itsm_chanel"]


def _loaded(*documents: dict[str, Any]) -> list[LoadedMapping]:
    loaded = []
    for i, document in enumerate(documents):
        result = load_mapping_text(yaml.safe_dump({**document, "name": f"m{i}"}, sort_keys=False), f"m{i}.yaml")
        assert result.errors == [], result.errors
        loaded.extend(LoadedMapping(m.mapping, Path(f"m{i}.yaml"), m.marks) for m in result.mappings)
    return loaded


SYSTEM_CASES = [
    ("servicenow mapping, servicenow kind", [doc()], "servicenow", []),
    ("rt mapping enabled, servicenow kind", [doc(), doc("Incidents", system="rt", comments=RT_COMMENTS)],
     "servicenow", [("error", "written for Request Tracker but itsm.kind is servicenow")]),
    ("rt mapping disabled, servicenow kind", [doc(), doc("Incidents", system="rt", comments=RT_COMMENTS,
                                                         enabled=False)], "servicenow", []),
    ("nothing enabled", [doc(enabled=False)], "servicenow", [("warning", "no enabled mapping for itsm.kind")]),
    ("only foreign mappings", [doc(enabled=True)], "rt", [("error", "written for ServiceNow but itsm.kind is rt")]),
]


@pytest.mark.parametrize(("documents", "kind", "expected"), [c[1:] for c in SYSTEM_CASES],
                         ids=[c[0] for c in SYSTEM_CASES])
def test_against_the_configured_system(documents: list[dict[str, Any]], kind: str,
                                       expected: list[tuple[str, str]]) -> None:
    problems = check_for_system(_loaded(*documents), kind)
    assert [(p.severity, next(w for s, w in expected if w in p.message)) for p in problems] == expected


def test_run_and_sync_refuse_to_start_with_nothing_enabled() -> None:
    from bridge.errors import ConfigError
    from bridge.mapping.checks_across import require_enabled

    specs = [m.mapping for m in _loaded(doc(enabled=False), doc("Incidents", system="rt", comments=RT_COMMENTS))]
    with pytest.raises(ConfigError) as refused:
        require_enabled(specs, "servicenow", "mappings")
    assert "no enabled mapping for itsm.kind servicenow" in str(refused.value)
    assert "m0 (ServiceNow, disabled), m1 (Request Tracker, enabled)" in refused.value.problems[0]
    require_enabled(specs, "rt", "mappings")  # the RT one runs when the ITSM is RT
    require_enabled(specs, "servicenow", "mappings", named=("m0",))  # named on the command line: the operator's call


def test_a_capitalised_queue_name_is_a_queue_not_a_table_typo() -> None:
    document = doc("Incidents", comments=RT_COMMENTS)
    problems = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "case.yaml").problems
    assert not [p for p in problems if p.path == "route.record_type"]
