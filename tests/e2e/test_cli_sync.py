"""The sync commands as an operator runs them, in process through click's CliRunner, with the memory
connectors passed to the CLI as factories (``GlobalOptions.connector_factories``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import cli
from bridge.errors import AuthError, PermanentError
from bridge.store import Store
from tests.fixtures.engine import World, cli_world

M = "incidents"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = cli_world(tmp_path, monkeypatch, level="WARNING")
    yield w
    w.close()


def bridge(world: World, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(world.path / "config.yaml"), *args], obj=world.cli_options())


def test_sync_once_creates_the_issue_and_links_show_the_audit_trail(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    result = bridge(world, "sync", "--once")
    assert result.exit_code == 0, result.output
    assert "incidents: 1 record(s)" in result.stdout
    [issue] = world.jira.issues()
    links = bridge(world, "links")
    assert links.exit_code == 0
    assert issue.ref.key in links.stdout
    assert record.key in links.stdout
    shown = bridge(world, "links", "--show", record.key)
    assert shown.exit_code == 0
    assert "create_issue" in shown.stdout
    assert "done" in shown.stdout
    assert f"create Bug in OPS for {record.key}" in shown.stdout
    assert bridge(world, "links", "--show", "NOPE-1").exit_code == 3


def test_stats_prints_vendor_calls_per_endpoint(world: World) -> None:
    world.incident(state="2")
    result = bridge(world, "sync", "--stats")
    assert result.exit_code == 0, result.output
    assert "POST /rest/api/3/issue" in result.stdout
    assert "GET /api/now/table/incident" in result.stdout


def test_plan_writes_nothing_and_prints_json(world: World) -> None:
    world.incident(state="2")
    assert bridge(world, "sync").exit_code == 0
    world.clock.advance(minutes=3)
    record = world.incident("Second printer", state="2")
    database = world.path / "bridge.sqlite3"
    rows, raw, jira = world.store.dump(), database.read_bytes(), world.jira.snapshot()
    result = bridge(world, "plan", "--json")
    assert result.exit_code == 0, result.output
    [document] = json.loads(result.stdout)
    kinds = [a["kind"] for a in document["actions"]]
    assert kinds[0] == "create_issue"
    assert document["actions"][0]["action"]["record"]["key"] == record.key
    assert world.store.dump() == rows
    assert database.read_bytes() == raw
    assert world.jira.snapshot() == jira
    table = bridge(world, "plan")
    assert f"create Bug in OPS for {record.key}" in table.stdout


def test_second_sync_while_one_runs_exits_4(world: World) -> None:
    holder = Store.open(world.url)
    try:
        holder.acquire_lock(M)
        result = bridge(world, "sync", "--once")
        assert result.exit_code == 4
    finally:
        holder.close()
    assert bridge(world, "sync", "--once").exit_code == 0


def test_error_list_retry_and_exit_codes(world: World) -> None:
    record = world.incident(state="2")
    world.jira.fail_next("create", PermanentError("refused", side="jira", status=400, vendor_message="bad field"))
    assert bridge(world, "sync").exit_code == 1
    listed = bridge(world, "errors")
    assert listed.exit_code == 0
    assert "bad field" in listed.stdout
    assert record.key in listed.stdout
    [entry] = json.loads(bridge(world, "errors", "--json").stdout)
    assert entry["retryable"] is True
    assert bridge(world, "retry").exit_code == 2
    assert bridge(world, "retry", "999").exit_code == 2
    retried = bridge(world, "retry", str(entry["id"]))
    assert retried.exit_code == 0
    assert "1 entry re-queued" in retried.stdout
    world.clock.advance(seconds=5)
    assert bridge(world, "sync").exit_code == 0
    assert len(world.jira.issues()) == 1
    assert "the error list is empty" in bridge(world, "errors").stdout


def test_side_refusing_credentials_exits_3(world: World) -> None:
    world.jira.fail_next("search_changed", AuthError("refused", side="jira", status=401))
    assert bridge(world, "sync").exit_code == 3


def test_unknown_mapping_and_bad_since_exit_2(world: World) -> None:
    assert bridge(world, "sync", "--mapping", "nope").exit_code == 2
    assert bridge(world, "sync", "--since", "yesterday-ish").exit_code == 2


def test_backfill_since_and_resync(world: World) -> None:
    record = world.incident(state="2")
    assert bridge(world, "sync").exit_code == 0
    world.clock.advance(minutes=10)
    result = bridge(world, "sync", "--since", "2020-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert len(world.jira.issues()) == 1
    resynced = bridge(world, "resync", record.key)
    assert resynced.exit_code == 0, resynced.output
    assert len(world.jira.issues()) == 1


def test_run_syncs_until_sigterm_then_exits_0(world: World) -> None:
    import os
    import signal

    record = world.incident(state="2")

    def stop(operation: str, ref: object) -> None:
        if operation == "create":
            os.kill(os.getpid(), signal.SIGTERM)

    world.jira.after_write = stop
    result = bridge(world, "run")
    assert result.exit_code == 0, result.output
    assert world.issue_of(record) == "OPS-1"
    world.jira.after_write = None
    assert bridge(world, "sync").exit_code == 0  # the follow-ups left pending by the stop run now
    assert world.itsm.record(record).fields["correlation_id"] == "OPS-1"
    assert len(world.jira.issues()) == 1
