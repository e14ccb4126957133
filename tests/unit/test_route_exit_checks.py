"""``bridge check`` on the links options that decide what keeps syncing after a route exit."""

from __future__ import annotations

from bridge.mapping.loader import load_mapping_text

BASE = """\
name: m
route:
  record_type: incident
  where: {field: priority, lte: 3}
target: {project: DEMO, issue_type: Bug}
"""


def test_a_mapping_without_a_back_reference_field_warns_that_route_exits_freeze_links() -> None:
    result = load_mapping_text(BASE + "links:\n  itsm_key_field: null\n", "m.yaml")
    [warning] = [p for p in result.problems if p.path == "links.itsm_key_field"]
    assert warning.severity == "warning"
    assert "freezes" in warning.message
    assert warning.line == 7


def test_the_default_back_reference_field_raises_no_warning() -> None:
    result = load_mapping_text(BASE, "m.yaml")
    assert [p for p in result.problems if p.path.startswith("links")] == []
