"""First start: a mapping's first cycle escalates open records and recent changes only, never closed history;
``bridge plan --since`` counts the backfill and ``bridge sync --since`` makes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import cli
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Side
from bridge.sync.first_start import finished_states
from tests.fixtures.engine import World, cli_world, mapping_spec

M = "incidents"
CLOSE = {"close_code": "Solution provided", "close_notes": "Fixed"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = cli_world(tmp_path, monkeypatch, level="WARNING")
    yield w
    w.close()


def bridge(world: World, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(world.path / "config.yaml"), *args], obj=world.cli_options())


def history(world: World) -> list[str]:
    """Five incidents of the escalation group closed 90 days before bridge is installed."""
    closed = []
    for n in range(5):
        ref = world.incident(f"Old outage {n}", state="2")
        world.itsm.set_state(ref, "6", **CLOSE)
        closed.append(ref.key)
        world.clock.advance(minutes=1)
    world.clock.advance(seconds=90 * 24 * 3600)
    return closed


def test_the_first_cycle_escalates_only_open_records_and_says_what_it_left_out(world: World) -> None:
    history(world)
    fresh = world.incident("Checkout fails", state="2")
    result = bridge(world, "sync", "--once")
    assert result.exit_code == 0, result.output
    [issue] = world.jira.issues()
    assert world.issue_of(fresh) == issue.ref.key
    assert "5 closed records older than the first start: not escalated" in result.stdout
    assert "sync --since" in result.stdout
    # a later full read draws the same line: no flood when the cursors are lost
    world.clock.advance(minutes=5)
    with world.store.transaction():
        for side in ("itsm", "jira"):
            world.store.set_cursor(M, Side(side), world.clock() - timedelta(days=400))
    assert bridge(world, "sync", "--once").exit_code == 0
    assert len(world.jira.issues()) == 1


def test_plan_since_counts_the_backfill_and_sync_since_makes_it(world: World) -> None:
    start = world.clock()
    history(world)
    world.incident("Checkout fails", state="2")
    assert bridge(world, "sync", "--once").exit_code == 0
    assert len(world.jira.issues()) == 1
    world.clock.advance(minutes=5)
    since = (start - timedelta(days=1)).strftime("%Y-%m-%d")

    shown = bridge(world, "plan", "--since", since)
    assert shown.exit_code == 0, shown.output
    assert "5 closed records older than the first start escalated" in shown.stdout
    assert len(world.jira.issues()) == 1  # plan wrote nothing

    done = bridge(world, "sync", "--once", "--since", since)
    assert done.exit_code == 0, done.output
    assert len(world.jira.issues()) == 6
    assert {i.status for i in world.jira.issues()} == {"In Progress", "Done"}


def test_a_closed_record_changed_after_the_first_start_is_escalated(world: World) -> None:
    [old, *_] = history(world)
    assert world.cycle().left_out == 5  # the engine on the world's clock: "now" is after the history
    assert world.jira.issues() == []
    world.clock.advance(minutes=5)
    record = next(r for r in world.itsm.records() if r.ref.key == old)
    world.itsm.comment(record.ref, "still happening?", channel="work_notes")
    world.itsm.edit(record.ref, short_description="Old outage 0, again")
    world.clock.advance(seconds=5)
    again = world.cycle()
    assert again.left_out < 5  # the others read again in the overlap window stay left out
    assert world.store.link_for_record(M, record.ref.id) is not None


def test_finished_states_come_from_the_vendor_facts() -> None:
    assert finished_states(mapping_spec()) == frozenset({"6", "7", "8"})
    rt = MappingSpec.model_validate({**mapping_spec().model_dump(exclude_none=True),
                                     "route": {"record_type": "General", "system": "rt"}})
    assert finished_states(rt) == frozenset({"resolved", "rejected", "deleted"})
