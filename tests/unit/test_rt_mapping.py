"""The shipped RT example mapping loads without a single problem and compiles to the TicketSQL we expect."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from bridge.connectors.rt.reading import linked_projects
from bridge.connectors.rt_query import custom_field_name, ticket_query
from bridge.mapping.loader import load_mapping_file
from bridge.mapping.transform import matches

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "rt-incident-to-bug.yaml"


def test_example_loads_with_zero_problems() -> None:
    result = load_mapping_file(EXAMPLE)
    assert result.problems == []
    assert [m.mapping.name for m in result.mappings] == ["rt-incident-to-bug"]
    assert result.mappings[0].mapping.enabled is False  # the shipped tree's demo runs ServiceNow


def test_example_enabled_loads_with_zero_problems_too(tmp_path: Path) -> None:
    enabled = EXAMPLE.read_text().replace("enabled: false", "enabled: true")
    (tmp_path / "rt.yaml").write_text(enabled)
    result = load_mapping_file(tmp_path / "rt.yaml")
    assert result.problems == []
    assert result.mappings[0].mapping.enabled is True


def test_example_route_compiles_to_a_pre_filter_and_statuses_cover_the_default_lifecycle() -> None:
    mapping = load_mapping_file(EXAMPLE).mappings[0].mapping
    query = ticket_query(mapping.route.record_type, mapping.route.where, None, ZoneInfo("UTC"))
    assert query == (
        "Queue = 'Incidents' AND ((CF.{Severity} = 'critical' OR CF.{Severity} = 'high' OR CF.{Severity} = 'medium')"
        " AND (Status != 'rejected' AND Status != 'deleted'))"
    )
    assert matches(mapping.route.where, {"CF.{Severity}": "high", "Status": "open"})
    assert not matches(mapping.route.where, {"CF.{Severity}": "low", "Status": "open"})
    assert set(mapping.status.to_jira) == {"new", "open", "stalled", "resolved", "rejected"}
    assert set(mapping.status.to_itsm.values()) <= {"new", "open", "stalled", "resolved", "rejected"}
    assert mapping.comments.to_itsm_channel == "comment"
    assert custom_field_name(mapping.links.itsm_key_field or "") == "Jira Key"


def test_example_keeps_syncing_tickets_that_leave_its_route() -> None:
    """The example maps `resolved` and `rejected`, which its route excludes (or will once resolved): that
    only works because linked tickets are searched by their back-reference in the same query."""
    mapping = load_mapping_file(EXAMPLE).mappings[0].mapping
    assert not matches(mapping.route.where, {"CF.{Severity}": "high", "Status": "rejected"})
    assert "rejected" in mapping.status.to_jira
    query = ticket_query(mapping.route.record_type, mapping.route.where, None, ZoneInfo("UTC"),
                         mapping.links.itsm_key_field, linked_projects(mapping))
    assert query.endswith(f") OR CF.{{Jira Key}} LIKE '{mapping.target.project}-'")
    assert query.startswith("(Queue = 'Incidents' AND ")
