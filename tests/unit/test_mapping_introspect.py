"""Which fields a mapping needs from each side."""

from __future__ import annotations

from pathlib import Path

from bridge.mapping.introspect import itsm_fields_needed, jira_fields_needed
from bridge.mapping.loader import load_mappings
from bridge.mapping.schema import Mapping

REPO = Path(__file__).resolve().parents[2]

MAPPING = Mapping.model_validate(
    {
        "name": "x",
        "route": {
            "record_type": "incident",
            "where": {
                "all": [{"field": "assignment_group", "equals": "L3"}, {"not": {"field": "category", "equals": "x"}}]
            },
        },
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "fields": {
            "summary": {
                "template": "{{ number }}: {{ short_description }} {{ record.key }} {% for i in range(2) %}{% endfor %}"
            },
            "priority": {"itsm": "priority", "map": {"1": "Highest"}, "default": "Medium"},
            "fixVersions": {"itsm": "u_fix_version", "direction": "to_itsm"},
            "customfield_1": {"value": "x"},
        },
        "notes_to_itsm": [
            {"when_changed": "duedate", "template": "Due {{ issue.fields.duedate }} for {{ caller_id }}"}
        ],
        "status": {
            "to_itsm": {
                "Done": {
                    "state": "6",
                    "fields": {
                        "close_code": "Solved (Permanently)",
                        "close_notes": {"template": "{{ issue.resolution }} {{ issue.fields['customfield_9'] }}"},
                    },
                }
            }
        },
        "links": {
            "link_existing": "u_jira_key",
            "jira_marker_field": "customfield_7",
            "linked_count_field": "customfield_8",
        },
    }
)


def test_itsm_fields_needed() -> None:
    assert itsm_fields_needed(MAPPING, status_field="state") == {
        "assignment_group",
        "category",
        "state",
        "number",
        "short_description",
        "priority",
        "u_fix_version",
        "caller_id",
        "u_jira_key",
        "correlation_id",
        "correlation_display",
    }


def test_status_field_is_a_parameter() -> None:
    needed = itsm_fields_needed(MAPPING, status_field="Status")
    assert "Status" in needed
    assert "state" not in needed


def test_jira_fields_needed() -> None:
    assert jira_fields_needed(MAPPING) == {
        "summary",
        "priority",
        "fixVersions",
        "customfield_1",
        "status",
        "labels",
        "customfield_7",
        "customfield_8",
        "duedate",
        "resolution",
        "customfield_9",
    }


def test_shipped_example_needs() -> None:
    mappings = {m.mapping.name: m.mapping for m in load_mappings(REPO / "mappings").mappings}
    incident = mappings["incident-to-bug"]
    assert {
        "assignment_group.name",
        "priority",
        "number",
        "short_description",
        "description",
        "state",
    } <= itsm_fields_needed(incident, status_field="state")
    assert {"summary", "description", "priority", "ServiceNow number", "status", "labels", "resolution"} <= (
        jira_fields_needed(incident)
    )
