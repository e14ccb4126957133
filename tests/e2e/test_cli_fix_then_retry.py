"""Fix the mapping, then retry: what docs/operations.md §8 walks through, as an operator runs it.

Both sandboxes on loopback, the ``bridge`` console script as a subprocess, the shipped mappings. Each test
makes Jira refuse a write for a cause in the MAPPING (so no item changes and nothing heals by itself),
fixes the mapping file, and checks that ``bridge retry`` (or ``bridge resync``) re-plans the write from
the current mapping and both sides' current data instead of replaying the refused one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from bridge.sandbox.jira.catalog import PRIORITIES

if TYPE_CHECKING:  # the fixture module is loaded by pytest_plugins, so pytest rewrites it
    from tests.fixtures.e2e import BridgeEnv, Result

pytestmark = pytest.mark.e2e
pytest_plugins = ["tests.fixtures.e2e"]

HIGHEST = "      1: Highest\n"
UNKNOWN_PRIORITY = "      1: Urgent\n"  # not a priority of the Jira site
RESOLVED = "    6:                           # Resolved\n      status: Done\n"
DONE_WITH_RESOLUTION = RESOLVED + "      fields: {resolution: Done}\n"
DONE_WITHOUT_RESOLUTION = RESOLVED


def sync(env: BridgeEnv, code: int = 0) -> Result:
    result = env.bridge("sync", "--once")
    assert result.code == code, result.output
    return result


def edit_mapping(env: BridgeEnv, old: str, new: str) -> None:
    path = env.mappings / "incident-to-bug.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def open_errors(env: BridgeEnv) -> list[dict[str, Any]]:
    result = env.bridge("errors", "--json")
    assert result.code == 0, result.output
    return [e for e in json.loads(result.stdout) if not e["resolved"]]


def issue_of(env: BridgeEnv, sys_id: str) -> dict[str, Any]:
    [issue] = env.jira.issues_labelled(f"itsm-incident-{sys_id}")
    return issue


def retry(env: BridgeEnv, entry: dict[str, Any]) -> None:
    result = env.bridge("retry", str(entry["id"]))
    assert result.code == 0, result.output
    assert "re-queued" in result.stdout


def priority_of(env: BridgeEnv, key: str) -> str | None:
    """The issue's priority name, as the sandbox holds it (its snapshot leaves priorities out)."""
    [issue] = [i for i in env.jira.sandbox.state["issues"].values() if i["key"] == key]
    pid = issue["fields"].get("priority")
    return PRIORITIES.get(pid) if pid is not None else None


def test_fix_the_mapping_then_retry_a_refused_create(bridge_env: BridgeEnv) -> None:
    """A priority the Jira project does not have: Jira refuses the create (400, "Specify a valid 'id' or
    'name' for Priority"); the admin fixes the value map and retries."""
    env = bridge_env
    edit_mapping(env, HIGHEST, UNKNOWN_PRIORITY)
    incident = env.snow.app.create_incident("Checkout fails", priority=1)
    sync(env, code=1)
    [entry] = open_errors(env)
    assert entry["kind"] == "rejected"
    assert "Priority" in entry["message"]
    assert env.jira.issues_labelled(f"itsm-incident-{incident['sys_id']}") == []
    sync(env)  # nothing changed: not sent again, not reported again
    assert open_errors(env)[0]["count"] == 1

    edit_mapping(env, UNKNOWN_PRIORITY, HIGHEST)
    retry(env, entry)
    sync(env)
    issue = issue_of(env, incident["sys_id"])
    assert issue["summary"] == f"{incident['number']}: Checkout fails"
    assert priority_of(env, issue["key"]) == "Highest"  # re-planned from the fixed mapping
    assert env.snow.app.record("incident", incident["sys_id"])["correlation_id"] == issue["key"]
    assert open_errors(env) == []


def test_fix_the_mapping_then_retry_a_refused_update(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident = env.snow.app.create_incident("Checkout fails", priority=2)
    sync(env)
    key = issue_of(env, incident["sys_id"])["key"]
    assert priority_of(env, key) == "High"
    edit_mapping(env, HIGHEST, UNKNOWN_PRIORITY)
    env.snow.app.edit("incident", incident["sys_id"], priority=1, short_description="Checkout fails for everyone")
    sync(env, code=1)
    [entry] = open_errors(env)
    assert entry["item"] == key
    assert issue_of(env, incident["sys_id"])["summary"] == f"{incident['number']}: Checkout fails"

    edit_mapping(env, UNKNOWN_PRIORITY, HIGHEST)
    retry(env, entry)
    sync(env)
    # the retried update is planned from both sides' current data: the new summary and the fixed priority
    assert issue_of(env, incident["sys_id"])["summary"] == f"{incident['number']}: Checkout fails for everyone"
    assert priority_of(env, key) == "Highest"
    assert open_errors(env) == []


def resolve(env: BridgeEnv, incident: dict[str, str]) -> None:
    env.snow.app.set_state(
        "incident", incident["sys_id"], 6, close_code="Solved (Permanently)", close_notes="Restarted the SSO proxy"
    )


def test_fix_the_mapping_then_retry_a_refused_status_move(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    edit_mapping(env, DONE_WITH_RESOLUTION, DONE_WITHOUT_RESOLUTION)
    incident = env.snow.app.create_incident("Checkout fails", priority=1)
    sync(env)
    resolve(env, incident)
    sync(env, code=1)
    [entry] = open_errors(env)
    assert entry["kind"] == "workflow"
    assert issue_of(env, incident["sys_id"])["status"] != "Done"

    edit_mapping(env, DONE_WITHOUT_RESOLUTION, DONE_WITH_RESOLUTION)
    retry(env, entry)
    sync(env)
    issue = issue_of(env, incident["sys_id"])
    assert issue["status"] == "Done"
    assert open_errors(env) == []  # resolved by the move that succeeded: no second retry needed


def test_resync_overrides_a_refused_status_move(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    edit_mapping(env, DONE_WITH_RESOLUTION, DONE_WITHOUT_RESOLUTION)
    incident = env.snow.app.create_incident("Checkout fails", priority=1)
    sync(env)
    key = issue_of(env, incident["sys_id"])["key"]
    resolve(env, incident)
    sync(env, code=1)
    edit_mapping(env, DONE_WITHOUT_RESOLUTION, DONE_WITH_RESOLUTION)
    # resync forgets the synced values and compares both sides afresh with the conflict policies: with the
    # shipped `report`, two statuses that differ are a conflict; the incident is the authority here
    edit_mapping(env, "    priority: itsm_wins\n", "    priority: itsm_wins\n    status: itsm_wins\n")

    shown = env.bridge("resync", key, "--dry-run")
    assert shown.code == 0, shown.output
    assert f"would move {key} to Done" in shown.stdout
    result = env.bridge("resync", key)
    assert result.code == 0, result.output
    assert issue_of(env, incident["sys_id"])["status"] == "Done"
    assert open_errors(env) == []
