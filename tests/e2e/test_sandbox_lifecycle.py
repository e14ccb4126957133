"""Deleted items over real HTTP: the ``bridge`` executable with the shipped mappings against the ServiceNow
and Jira sandboxes. A deleted incident is never written again and its Bug says so; a deleted Bug closes
the link with a work note and the incident is not escalated again; ``bridge links`` shows both closed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from bridge.sandbox.servicenow import API_PASSWORD, API_USER

if TYPE_CHECKING:
    from tests.fixtures.e2e import BridgeEnv

pytest_plugins = ["tests.fixtures.e2e"]
pytestmark = pytest.mark.e2e


def sync(env: BridgeEnv) -> None:
    result = env.bridge("sync", "--once")
    assert result.code == 0, result.output


def escalate(env: BridgeEnv, text: str) -> tuple[dict[str, str], str]:
    incident = env.snow.app.create_incident(text, description="Users get HTTP 500.", priority=1)
    sync(env)
    sync(env)  # the Jira side's first read: its cursor is set (a full read finding nothing trips the safety rail)
    [issue] = env.jira.issues_labelled(f"itsm-incident-{incident['sys_id']}")
    return incident, str(issue["key"])


def comments(env: BridgeEnv, key: str) -> list[str]:
    [issue] = [i for i in env.jira.issues() if i["key"] == key]
    return [str(c.get("body", "")) for c in issue.get("comments", [])]


def test_deleted_incident_is_never_written_again(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident, key = escalate(env, "Login fails for EU users")
    gone = requests.delete(f"{env.snow.url}/api/now/table/incident/{incident['sys_id']}",
                           auth=(API_USER, API_PASSWORD), timeout=10)
    assert gone.status_code == 204
    env.jira.sandbox.add_comment(key, "Found it: the SSO certificate expired.", as_user="dana")
    env.jira.sandbox.transition(key, "In Progress", as_user="dana")
    sync(env)
    sync(env)
    assert all(r["sys_id"] != incident["sys_id"] for r in env.snow.rows("incident"))  # not recreated
    assert any(f"{incident['number']} was deleted in ServiceNow" in c for c in comments(env, key))
    listed = env.bridge("links")
    assert listed.code == 0, listed.output
    assert any(key in line and "closed" in line and "was deleted in ServiceNow" in line
               for line in listed.stdout.splitlines()), listed.output


def test_deleted_bug_closes_the_link_and_the_incident_is_not_escalated_again(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident, key = escalate(env, "Checkout is slow")
    env.jira.sandbox.delete_issue(key)
    env.snow.app.add_work_note("incident", incident["sys_id"], "Still slow this morning")
    sync(env)
    journal: list[Any] = env.snow.app.journal("incident", incident["sys_id"])
    assert any(f"{key} was deleted in Jira; bridge no longer syncs this record" in str(e.get("value"))
               for e in journal), journal
    env.snow.app.edit("incident", incident["sys_id"], short_description="Checkout is very slow")
    sync(env)
    assert env.jira.issues_labelled(f"itsm-incident-{incident['sys_id']}") == []
    listed = env.bridge("links")
    assert any(key in line and f"{key} was deleted in Jira" in line for line in listed.stdout.splitlines())


def test_detach_on_route_exit_notes_both_sides_and_stops_syncing(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    mapping = env.mappings / "incident-to-bug.yaml"
    mapping.write_text(mapping.read_text().replace("  jira_label: bridge\n",
                                                   "  jira_label: bridge\n  on_route_exit: detach\n"))
    incident, key = escalate(env, "Login fails for EU users")
    env.snow.app.edit("incident", incident["sys_id"], priority="4")  # priority 4: out of the route
    env.sync_until_settled()
    [note] = [c for c in comments(env, key) if "no longer synced" in c]
    assert incident["number"] in note
    assert "priority is now" in note
    journal: list[Any] = env.snow.app.journal("incident", incident["sys_id"])
    assert any(f"No longer synced with {key}" in str(e.get("value")) for e in journal), journal
    listed = env.bridge("links")
    assert any(key in line and "no longer synced" in line for line in listed.stdout.splitlines()), listed.output

    env.jira.sandbox.add_comment(key, "Found it: the SSO certificate expired.", as_user="dana")
    env.jira.sandbox.transition(key, "In Progress", as_user="dana")
    env.sync_until_settled()
    assert len(env.snow.app.journal("incident", incident["sys_id"])) == len(journal)  # nothing flows any more
    assert len([c for c in comments(env, key) if "no longer synced" in c]) == 1
