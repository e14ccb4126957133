"""``bridge explain`` and the readable ``plan``: an operator asking "why?" about one record or issue,
in process against the memory connectors (``GlobalOptions.connector_factories``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import cli
from bridge.errors import PermanentError
from tests.fixtures.engine import World, cli_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = cli_world(tmp_path, monkeypatch, level="WARNING")
    yield w
    w.close()


def bridge(world: World, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(world.path / "config.yaml"), *args], obj=world.cli_options())


def test_a_record_the_route_does_not_select_is_explained_condition_by_condition(world: World) -> None:
    selected = world.incident("Printer on fire", state="2")
    assert bridge(world, "sync").exit_code == 0  # creates the state database
    other = world.incident("Coffee machine", state="2", category="hardware")
    result = bridge(world, "explain", other.key)
    assert result.exit_code == 0, result.output
    assert f"{other.key}: not linked to any issue" in result.output
    assert "route of incidents (incident): not selected" in result.output
    assert "✖ category hardware ≠ software: not selected" in result.output
    # links --show on an unlinked record explains instead of failing
    shown = bridge(world, "links", "--show", other.key)
    assert shown.exit_code == 0, shown.output
    assert "✖ category hardware ≠ software: not selected" in shown.output
    linked = bridge(world, "explain", selected.key)
    assert "✔ category software = software: selected" in linked.output


def test_a_linked_record_shows_link_synced_values_errors_and_the_next_action(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    assert bridge(world, "sync").exit_code == 0
    key = world.issue_of(record)
    world.clock.advance(minutes=3)
    world.itsm.edit(record, priority="1")
    world.jira.fail_next("update_fields", PermanentError("refused", side="jira", status=400, vendor_message="no edit"))
    bridge(world, "sync")
    world.clock.advance(minutes=3)
    result = bridge(world, "explain", key)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"(incidents): {key} ↔ {record.key}" in out
    assert "last synced values:" in out
    assert f"{key}: status In Progress" in out
    assert "no edit" in out  # the error list entry, with the vendor's reason
    assert "bridge retry" in out


def test_explain_of_nothing_exits_3(world: World) -> None:
    world.incident(state="2")
    assert bridge(world, "sync").exit_code == 0
    result = bridge(world, "explain", "NOPE-1")
    assert result.exit_code == 3
    assert "nothing called 'NOPE-1'" in result.output


def test_plan_shows_old_and_new_values_and_new_issues_by_type(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    assert bridge(world, "sync").exit_code == 0
    world.clock.advance(minutes=3)
    world.itsm.edit(record, priority="1")
    fresh = world.incident("Second printer", state="2")
    result = bridge(world, "plan")
    assert result.exit_code == 0, result.output
    assert f"set priority: Medium → Highest on {world.issue_of(record)}" in result.output
    assert f"create Bug in OPS for {fresh.key}" in result.output
    assert "pending-key:" not in result.output
    assert "(new Bug)" in result.output
    assert "move (new Bug) to In Progress" in result.output
