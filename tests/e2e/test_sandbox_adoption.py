"""A lost or restored state database against the sandboxes (docs/operations.md §11): the ``bridge``
executable finds its links again on the vendors instead of creating duplicate issues and comments."""

from __future__ import annotations

import shutil
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fixtures.e2e import BridgeEnv, Result

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e


def sync(env: BridgeEnv, *args: str) -> Result:
    result = env.bridge("sync", "--once", *args)
    assert result.code == 0, result.output
    return result


def census(env: BridgeEnv, incidents: list[dict[str, str]]) -> tuple[int, int, int]:
    """(issues, Jira comments, ServiceNow journal entries) across everything bridge handles."""
    issues = env.jira.issues()
    jira_comments = sum(len(i["comments"]) for i in issues)
    notes = sum(len(env.snow.app.journal("incident", i["sys_id"])) for i in incidents)
    return len(issues), jira_comments, notes


def escalate(env: BridgeEnv, text: str, **fields: Any) -> dict[str, str]:
    fields.setdefault("priority", 1)
    return env.snow.app.create_incident(text, description="Users in the EU get HTTP 500 after SSO.", **fields)


def issue_key(env: BridgeEnv, sys_id: str) -> str:
    [issue] = env.jira.issues_labelled(f"itsm-incident-{sys_id}")
    return str(issue["key"])


def test_deleted_state_database_creates_nothing_again(bridge_env_modes: BridgeEnv) -> None:
    env = bridge_env_modes
    incidents = [escalate(env, f"Login fails {n}") for n in range(3)]
    sync(env)
    env.snow.app.add_work_note("incident", incidents[0]["sys_id"], "Customer says it started at 09:00.", "Sam")
    env.jira.sandbox.add_comment(issue_key(env, incidents[1]["sys_id"]), "Found it: the certificate.", as_user="dana")
    env.sync_until_settled()
    before = census(env, incidents)
    assert before[0] == 3

    env.database.unlink()
    for _ in range(3):
        result = sync(env)
        assert "create_issue" not in result.stdout, result.output
    assert census(env, incidents) == before
    for incident in incidents:  # the back-reference still names the one issue
        record = env.snow.app.record("incident", incident["sys_id"])
        assert record["correlation_id"] == issue_key(env, incident["sys_id"])
    links = env.bridge("links")
    assert all(i["number"] in links.stdout for i in incidents), links.output

    # and the links work again: one new comment is mirrored once
    env.snow.app.add_work_note("incident", incidents[2]["sys_id"], "Any news?", "Sam")
    env.sync_until_settled()
    after = census(env, incidents)
    assert after == (before[0], before[1] + 1, before[2] + 1)


def test_restored_backup_duplicates_nothing_and_keeps_later_changes(bridge_env: BridgeEnv, tmp_path: Any) -> None:
    env = bridge_env
    incident = escalate(env, "Login fails for EU users")
    env.sync_until_settled()
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(env.database, backup)

    key = issue_key(env, incident["sys_id"])
    env.snow.app.add_work_note("incident", incident["sys_id"], "Customer says it started at 09:00.", "Sam")
    env.jira.sandbox.add_comment(key, "Found it: the SSO certificate expired.", as_user="dana")
    env.snow.app.edit("incident", incident["sys_id"], short_description="Login fails for all users")
    env.sync_until_settled()
    before = census(env, [incident])
    assert before == (1, 2, 2)
    summary = env.jira.issues()[0]["summary"]
    assert "all users" in summary

    shutil.copy(backup, env.database)
    for _ in range(3):
        sync(env)
    assert census(env, [incident]) == before
    assert env.jira.issues()[0]["summary"] == summary
    # still in sync: a change after the restore flows
    env.snow.app.edit("incident", incident["sys_id"], short_description="Login fixed?")
    env.sync_until_settled()
    assert "Login fixed?" in env.jira.issues()[0]["summary"]
    assert census(env, [incident]) == before


def test_bridge_adopt_rebuilds_the_store_and_dry_run_writes_nothing(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incidents = [escalate(env, f"Login fails {n}") for n in range(2)]
    env.snow.app.add_work_note("incident", incidents[0]["sys_id"], "Customer says it started at 09:00.", "Sam")
    env.sync_until_settled()
    before = census(env, incidents)
    env.database.unlink()

    dry = env.bridge("adopt", "--dry-run")
    assert dry.code == 0, dry.output
    assert "incident-to-bug: 2 would adopt, 0 already known, 0 conflict(s)" in dry.stdout, dry.output
    assert "record(s) without a link examined" in dry.stderr  # the progress line
    with sqlite3.connect(env.database) as db:
        assert db.execute("select count(*) from links").fetchone() == (0,)
        assert db.execute("select count(*) from journal").fetchone() == (0,)

    done = env.bridge("adopt", "--mapping", "incident-to-bug")
    assert done.code == 0, done.output
    assert "incident-to-bug: 2 adopted" in done.stdout, done.output
    again = env.bridge("adopt", "--mapping", "incident-to-bug")
    assert "incident-to-bug: 0 adopted, 2 already known" in again.stdout, again.output
    for _ in range(3):
        result = sync(env)
        assert "create_issue" not in result.stdout, result.output
        assert "add_comment" not in result.stdout, result.output
    assert census(env, incidents) == before
