"""Whole cycles against the memory connectors and a real SQLite store: call counts, cursors and the
overlap, dry runs, the safety rail, held cursors, resync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.errors import AuthError, PermanentError, SafetyRailError, TransientError
from bridge.model import Marker, Side
from bridge.sync.cycle import itsm_fields, jira_fields, plan_cycle
from bridge.sync.resync import resync_link
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
SEARCH_ITSM = "GET /api/now/table/incident"
SEARCH_JIRA = "POST /rest/api/3/search/jql"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def steady(world: World, n: int = 1) -> list:
    refs = [world.incident(f"Printer {i} on fire", state="2") for i in range(n)]
    world.cycle()
    world.settle()
    return refs


@pytest.mark.parametrize("links", [10, pytest.param(5000, marks=pytest.mark.slow)])
def test_idle_cycle_costs_one_search_per_side_whatever_the_number_of_links(world: World, links: int) -> None:
    with world.store.transaction():
        for i in range(links):
            record = world.incident(f"r{i}", state="2")
            issue = world.jira.create_issue("OPS", "Bug", f"r{i}", labels=["bridge"])
            link = world.store.create_link(M, issue, [record])
            for item in (world.itsm.record(record), world.jira.issue(issue)):
                world.store.mark_seen(link.id, item.ref.side, item.ref.id, item.version, item.updated)
    # the state a running bridge is in: every link synced, cursors at the last change it settled
    world.clock.advance(minutes=10)
    world.store.set_cursor(M, Side.ITSM, world.clock() - timedelta(minutes=5))
    world.store.set_cursor(M, Side.JIRA, world.clock() - timedelta(minutes=5))
    assert world.store.link_count(M) == links
    world.clock.advance(minutes=1)
    report = world.cycle()
    assert report.calls == {"itsm": {SEARCH_ITSM: 1}, "jira": {SEARCH_JIRA: 1}}
    assert report.actions == []


def test_new_record_becomes_an_issue_with_its_follow_ups_in_one_cycle(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    note = world.itsm.comment(record, "customer says it smokes")
    report = world.cycle()
    assert report.actions_by_kind == {"create_issue": 1, "back_reference": 2, "set_status": 1, "add_comment": 1}
    assert report.outcomes_by_status == {"done": 5}
    [issue] = world.jira.issues()
    assert issue.status == "In Progress"
    assert world.itsm.record(record).fields["correlation_id"] == issue.ref.key
    [mirror] = world.jira.comments(issue.ref)
    assert mirror.marker == Marker(Side.ITSM, note.id)
    assert "customer says it smokes" in mirror.body
    assert world.jira.remote_links(issue.ref)[0]["object"]["url"] == record.url
    world.settle()
    assert len(world.jira.issues()) == 1
    assert len(world.jira.comments(issue.ref)) == 1


def test_mirroring_one_comment_costs_one_read_and_one_write(world: World) -> None:
    [record] = steady(world)
    world.clock.advance(minutes=5)
    world.itsm.comment(record, "any news?")
    report = world.cycle()
    assert report.calls == {
        "itsm": {SEARCH_ITSM: 1, "GET /api/now/table/sys_journal_field": 1},
        "jira": {SEARCH_JIRA: 1, "POST /rest/api/3/issue/{issueIdOrKey}/comment": 1},
    }


def test_changes_in_the_overlap_window_are_not_processed_twice(world: World) -> None:
    [record] = steady(world)
    world.clock.advance(seconds=20)
    world.itsm.edit(record, priority="1")
    first = world.cycle()
    assert first.actions_by_kind == {"update_fields": 1}
    assert world.jira.issue(world.issue_of(record)).fields["priority"] == "Highest"
    world.clock.advance(seconds=5)
    world.cycle()  # the echo of bridge's own write to Jira, read once
    world.clock.advance(seconds=5)
    again = world.cycle()  # both items are still inside the 2-minute overlap
    assert again.records_seen == 1
    assert again.records_changed == 0
    assert again.calls == {"itsm": {SEARCH_ITSM: 1}, "jira": {SEARCH_JIRA: 1}}


def test_several_edits_within_a_minute_are_all_seen(world: World) -> None:
    [record] = steady(world)
    for priority, expected in (("1", "Highest"), ("4", "Low"), ("2", "High")):
        world.clock.advance(seconds=15)
        world.itsm.edit(record, priority=priority)
        world.cycle()
        assert world.jira.issue(world.issue_of(record)).fields["priority"] == expected


def test_pending_action_holds_the_cursor_until_it_is_done(world: World) -> None:
    [record] = steady(world)
    world.clock.advance(minutes=5)
    note = world.itsm.comment(record, "hello")
    changed_at = world.itsm.record(record).updated
    world.jira.fail_next("add_comment", TransientError("503", side="jira", status=503))
    report = world.cycle()
    assert report.outcomes_by_status == {"pending": 1}
    assert world.store.get_cursor(M, Side.ITSM) == changed_at
    world.clock.advance(minutes=10)
    world.settle()
    mirrors = [c for c in world.jira.comments(world.issue_of(record)) if c.marker == Marker(Side.ITSM, note.id)]
    assert len(mirrors) == 1
    assert world.store.get_cursor(M, Side.ITSM) >= changed_at  # type: ignore[operator]


def test_dry_run_writes_nothing_anywhere(world: World) -> None:
    [record] = steady(world)
    world.clock.advance(minutes=5)
    world.itsm.edit(record, priority="1")
    world.incident("Another one", state="2")
    rows, itsm_before, jira_before = world.store.dump(), world.itsm.snapshot(), world.jira.snapshot()
    report = plan_cycle(world.engine, M)
    assert report.actions_by_kind["create_issue"] == 1
    assert report.actions_by_kind["update_fields"] == 1
    assert report.outcomes == []
    assert world.store.dump() == rows
    assert world.itsm.snapshot() == itsm_before
    assert world.jira.snapshot() == jira_before


def test_empty_full_read_with_links_is_a_safety_rail_not_a_mass_deletion(world: World) -> None:
    with world.store.transaction():
        issue = world.jira.create_issue("OPS", "Bug", "orphan", labels=["bridge"])
        world.store.create_link(M, issue, [world.itsm.create_record("incident", {"category": "hardware"})])
    with pytest.raises(SafetyRailError, match="itsm side returned nothing"):
        world.cycle()
    assert world.store.get_cursor(M, Side.JIRA) is None


def test_permanent_failure_of_one_link_does_not_block_the_others(world: World) -> None:
    bad = world.incident("first", state="2")
    world.clock.advance(seconds=1)
    good = world.incident("second", state="2")
    world.jira.fail_next(
        "create", PermanentError("refused", side="jira", status=400, vendor_message="customfield_1: required")
    )
    report = world.cycle()
    assert report.errors == 1
    assert world.store.link_for_record(M, good.id) is not None
    assert world.store.link_for_record(M, bad.id) is None
    [error] = world.store.errors(M)
    assert "customfield_1: required" in error.message
    assert error.item_ref == bad.key
    # settled: the cursor moved past the failed record, its follow-ups wait
    assert world.store.get_cursor(M, Side.ITSM) == world.itsm.record(good).updated
    world.settle()
    assert len(world.jira.issues()) == 1
    # the operator fixed the cause and re-queues it: the create and its follow-ups run
    world.store.retry_error(error.id)
    world.settle()
    assert len(world.jira.issues()) == 2
    assert world.itsm.record(bad).fields["correlation_id"] == world.issue_of(bad)
    assert world.jira.issue(world.issue_of(bad)).status == "In Progress"
    assert world.store.errors(M) == []


def test_auth_error_while_reading_stops_the_cycle_and_keeps_cursors(world: World) -> None:
    steady(world)
    cursor = world.store.get_cursor(M, Side.ITSM)
    world.itsm.fail_next("search_changed", AuthError("401", side="itsm", status=401))
    with pytest.raises(AuthError):
        world.cycle()
    assert world.store.get_cursor(M, Side.ITSM) == cursor


def test_backfill_since_replays_without_duplicates(world: World) -> None:
    records = steady(world, 3)
    for record in records:
        world.itsm.comment(record, "note")
    world.settle()
    before = world.jira.snapshot()
    report = world.cycle(since=world.clock() - timedelta(days=30))
    assert report.records_seen == 3
    assert report.actions == []
    assert world.jira.snapshot() == before


def test_resync_replans_one_link_from_both_sides_without_reposting_comments(world: World) -> None:
    [record] = steady(world)
    world.itsm.comment(record, "note")
    world.settle()
    key = world.issue_of(record)
    # someone changed Jira behind bridge's back, and bridge's memory of the values is stale
    world.jira.edit(key, priority="Low")
    report = resync_link(world.engine, record.key)
    assert report.issues_seen == 1
    comments_before = len(world.jira.comments(key))
    world.settle()
    assert len(world.jira.comments(key)) == comments_before
    assert len([c for c in world.jira.comments(key) if c.marker is not None]) == 1
    state = world.store.link_state(world.store.link_for_record(M, record.id).id)  # type: ignore[union-attr]
    assert state is not None
    assert state.issue.fields["priority"] in ("Low", "Medium")
    assert state.records[record.id].fields["priority"] == state.issue.fields["priority"]


def test_fields_fetched_cover_rules_route_links_and_templates() -> None:
    spec = mapping_spec()
    assert {"priority", "category", "short_description", "correlation_id", "correlation_display"} <= set(
        itsm_fields(spec)
    )
    assert "record" not in itsm_fields(spec)
    assert {"summary", "priority", "resolution"} <= set(jira_fields(spec))


def test_cycle_figures_reach_the_metrics(world: World) -> None:
    from bridge.metrics import Metrics
    from bridge.sync.cycle import run_cycle
    from bridge.sync.engine import Engine

    metrics = Metrics(clock=lambda: 1_000.0)
    engine = Engine(world.store, world.itsm, world.jira, [world.spec], clock=world.clock, metrics=metrics)
    world.incident(state="2")
    world.jira.fail_next("set_status", TransientError("503", side="jira", status=503))
    run_cycle(engine, M)
    text = metrics.exposition().decode()
    assert 'bridge_actions_total{kind="CreateIssue",mapping="incidents",outcome="done"} 1.0' in text
    assert 'bridge_actions_total{kind="SetStatus",mapping="incidents",outcome="pending"} 1.0' in text
    assert 'bridge_links{mapping="incidents"} 1.0' in text
    assert 'bridge_pending_actions{mapping="incidents"} 1.0' in text
    assert 'bridge_leader{mapping="incidents"} 1.0' in text
    assert 'bridge_cycles_total{mapping="incidents",outcome="ok"} 1.0' in text
    assert 'endpoint="POST /rest/api/3/issue",side="jira",status="201"} 1.0' in text
