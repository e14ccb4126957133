"""People both ways between the sandboxes (issue 16, users), through the ``bridge`` executable: the
ServiceNow assignee becomes the Jira assignee, and a Jira assignee change reaches ``assigned_to`` as the
``sys_user`` with the same e-mail address (Cloud and Data Center). Nobody bounces back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from bridge.sandbox.jira.catalog import USERS

if TYPE_CHECKING:
    from tests.fixtures.e2e import BridgeEnv

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e

ASSIGNEE = "  assignee: {itsm: assigned_to, user: true, direction: both}\n"


def jira_user(env: BridgeEnv, handle: str) -> dict[str, str]:
    key = "accountId" if env.mode == "cloud" else "name"
    return {key: USERS[handle][key]}


def assignee_of(env: BridgeEnv, key: str) -> Any:
    """The issue's assignee as the sandbox stores it (its user handle: ``dana``)."""
    with env.jira.sandbox.lock:
        [issue] = [i for i in env.jira.sandbox.state["issues"].values() if i["key"] == key]
        return issue["fields"].get("assignee")


def test_a_jira_assignee_change_reaches_servicenow_assigned_to(bridge_env_modes: BridgeEnv) -> None:
    env = bridge_env_modes
    path = env.mappings / "incident-to-bug.yaml"
    text = path.read_text()
    assert "\nfields:\n" in text
    path.write_text(text.replace("\nfields:\n", "\nfields:\n" + ASSIGNEE, 1))
    # ServiceNow people with the Jira sandbox's addresses (dana@example.com, sam@example.com)
    dana, sam = env.snow.app._person("Dana"), env.snow.app._person("Sam")
    incident = env.snow.app.create_incident("Login fails", description="HTTP 500 after SSO.", priority=1,
                                            assigned_to=dana["sys_id"])
    env.sync_until_settled()
    [issue] = env.jira.issues_labelled(f"itsm-incident-{incident['sys_id']}")
    assert assignee_of(env, issue["key"]) == "dana"

    env.jira.sandbox.edit_issue(issue["key"], {"assignee": jira_user(env, "sam")}, as_user="dana")
    env.sync_until_settled()
    assert env.snow.app.record("incident", incident["sys_id"])["assigned_to"] == sam["sys_id"]
    assert assignee_of(env, issue["key"]) == "sam"  # nothing bounced back

    env.jira.sandbox.edit_issue(issue["key"], {"assignee": jira_user(env, "bridge")}, as_user="dana")
    results = env.sync_until_settled()  # no ServiceNow user has bridge@example.com and there is no fallback
    assert env.snow.app.record("incident", incident["sys_id"])["assigned_to"] == sam["sys_id"]
    assert any("keep their person" in r.output for r in results), [r.output for r in results]


def test_check_online_warns_about_recent_people_without_a_jira_account(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    path = env.mappings / "incident-to-bug.yaml"
    path.write_text(path.read_text().replace("\nfields:\n", "\nfields:\n" + ASSIGNEE, 1))
    dana, carol = env.snow.app._person("Dana"), env.snow.app._person("Carol Caller")  # carol: no Jira account
    for who in (dana, carol):
        env.snow.app.create_incident("Login fails", description="HTTP 500.", priority=1, assigned_to=who["sys_id"])
    result = env.bridge("check", "--online")
    assert result.code == 0, result.output  # a warning, not an error
    warned = [line for line in result.output.splitlines() if "in recent records" in line]
    assert len(warned) == 1, result.output
    assert carol["sys_id"] in warned[0], warned
    assert "carol.caller@example.com" in warned[0], warned
