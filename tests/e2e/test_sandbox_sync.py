"""The ``bridge`` executable against the Jira and ServiceNow sandboxes over real HTTP: what a user sees.

Each test scripts the sandboxes as people would (support logs an incident, a developer comments or moves
the Bug), runs ``bridge …`` as a subprocess with the shipped mappings, and reads both sandboxes' state.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixture module is loaded by pytest_plugins, so pytest rewrites it
    from tests.fixtures.e2e import BridgeEnv, Result

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e

INCIDENT_MARKER = "itsm-incident-{}"


def sync(env: BridgeEnv, *args: str) -> Result:
    result = env.bridge("sync", "--once", *args)
    assert result.code == 0, result.output
    return result


def raw_issue(env: BridgeEnv, key: str) -> dict[str, Any]:
    with env.jira.sandbox.lock:
        return json.loads(json.dumps(next(i for i in env.jira.sandbox.state["issues"].values() if i["key"] == key)))


def issue_for(env: BridgeEnv, sys_id: str) -> dict[str, Any]:
    [issue] = env.jira.issues_labelled(INCIDENT_MARKER.format(sys_id))
    return issue


def notes(env: BridgeEnv, table: str, sys_id: str) -> list[dict[str, str]]:
    return env.snow.app.journal(table, sys_id)


def escalate(env: BridgeEnv, text: str = "Login fails for EU users", **fields: Any) -> dict[str, str]:
    fields.setdefault("priority", 1)
    return env.snow.app.create_incident(text, description="Users in the EU get HTTP 500 after SSO.", **fields)


# ------------------------------------------------------------------------------------------- 1 create


def test_incident_becomes_bug_and_change_becomes_story(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident = escalate(env)
    change = env.snow.app.create_change(
        "Upgrade the session store", u_needs_dev=True, implementation_plan="Roll out node by node."
    )
    ignored = env.snow.app.create_incident("Printer jam", priority=4)  # priority 4 is outside the route

    result = sync(env)
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if "record(s)" in line}
    assert "1 create_issue" in lines["incident-to-bug"], result.output  # the P4 incident is not escalated
    assert "1 create_issue" in lines["change-to-story"], result.output

    bug = issue_for(env, incident["sys_id"])
    assert bug["issuetype"] == "Bug"
    assert bug["project"] == "DEMO"
    assert bug["summary"] == f"{incident['number']}: Login fails for EU users"
    assert {"servicenow", "bridge", INCIDENT_MARKER.format(incident["sys_id"])} <= set(bug["labels"])
    assert bug["fields"]["customfield_10050"] == incident["number"]  # "ServiceNow number", by name
    raw = raw_issue(env, bug["key"])
    assert raw["fields"]["priority"] == "1"  # priority 1 → Highest, the sandbox's id 1
    description = raw["fields"]["description"]
    assert isinstance(description, dict)
    assert description["type"] == "doc"  # ADF on Cloud
    assert "Users in the EU get HTTP 500 after SSO." in bug["description"]
    assert f"ServiceNow incident {incident['number']}: {env.snow.url}/incident.do?sys_id=" in bug["description"]

    record = env.snow.app.record("incident", incident["sys_id"])
    assert record["correlation_id"] == bug["key"]
    assert record["correlation_display"] == f"{env.jira.url}/browse/{bug['key']}"
    [remote] = bug["remotelinks"]
    assert remote["object"]["title"] == incident["number"]
    assert remote["object"]["url"] == f"{env.snow.url}/incident.do?sys_id={incident['sys_id']}"
    assert remote["application"]["name"] == "ServiceNow"

    [story] = env.jira.issues_labelled(f"itsm-change_request-{change['sys_id']}")
    assert story["issuetype"] == "Story"
    assert story["summary"] == f"{change['number']}: Upgrade the session store"
    assert "Roll out node by node." in story["description"]
    assert env.snow.app.record("change_request", change["sys_id"])["correlation_id"] == story["key"]

    assert not env.jira.issues_labelled(INCIDENT_MARKER.format(ignored["sys_id"]))
    assert len(env.jira.issues()) == 2
    assert env.snow.app.record("incident", ignored["sys_id"])["correlation_id"] == ""

    links = env.bridge("links")
    assert links.code == 0, links.output
    assert incident["number"] in links.stdout
    assert bug["key"] in links.stdout


# ------------------------------------------------------------------------------------------ 2 comments


def test_comments_both_ways_without_echo_or_duplicate(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident = escalate(env)
    sync(env)
    key = issue_for(env, incident["sys_id"])["key"]

    env.snow.app.add_work_note("incident", incident["sys_id"], "Customer says it started at 09:00.", "Sam Support")
    env.jira.sandbox.add_comment(key, "Found it: the SSO certificate expired.", as_user="dana")
    sync(env)

    comments = issue_for(env, incident["sys_id"])["comments"]
    mirrored = [c for c in comments if "Customer says it started at 09:00." in c["body"]]
    assert len(mirrored) == 1
    assert mirrored[0]["body"].startswith("Sam Support (ServiceNow) wrote:")  # attributed
    assert mirrored[0]["author"] == "Bridge Integration"
    work_notes = [n for n in notes(env, "incident", incident["sys_id"]) if "SSO certificate expired" in n["value"]]
    assert len(work_notes) == 1
    assert work_notes[0]["element"] == "work_notes"  # developer comments stay internal
    assert "Dana Developer" in work_notes[0]["value"]

    counts = (len(issue_for(env, incident["sys_id"])["comments"]), len(notes(env, "incident", incident["sys_id"])))
    for _ in range(3):
        sync(env)
        assert (
            len(issue_for(env, incident["sys_id"])["comments"]),
            len(notes(env, "incident", incident["sys_id"])),
        ) == counts
    bodies = [c["body"] for c in issue_for(env, incident["sys_id"])["comments"]]
    assert sum("SSO certificate expired" in b for b in bodies) == 1  # the developer's own, never echoed back
    values = [n["value"] for n in notes(env, "incident", incident["sys_id"])]
    assert sum("Customer says it started at 09:00." in v for v in values) == 1


# ------------------------------------------------------------------------------------------ 3 statuses


def test_done_resolves_the_incident_and_reopen_reopens_the_bug(bridge_env_modes: BridgeEnv) -> None:
    env = bridge_env_modes
    incident = escalate(env)
    sync(env)
    key = issue_for(env, incident["sys_id"])["key"]

    env.jira.sandbox.transition(key, "In Progress", as_user="dana")
    sync(env)
    assert env.snow.app.record("incident", incident["sys_id"])["state"] == "2"

    # In Progress → In Review → Done, the last step through the resolution screen
    assert env.jira.sandbox.transition(key, "Done", as_user="dana") == ["Review", "Done"]
    sync(env)
    record = env.snow.app.record("incident", incident["sys_id"])
    assert record["state"] == "6"
    assert record["close_code"] == "Solved (Permanently)"
    assert record["close_notes"] == f"Fixed in {key}: Done"

    env.snow.app.set_state("incident", incident["sys_id"], 2, "Sam Support")  # the customer says it is back
    sync(env)
    bug = issue_for(env, incident["sys_id"])
    assert bug["status"] == "In Progress"
    assert bug["resolution"] is None
    assert env.snow.app.record("incident", incident["sys_id"])["state"] == "2"

    for _ in range(2):  # settled: nothing flips back and forth
        sync(env)
    assert issue_for(env, incident["sys_id"])["status"] == "In Progress"
    assert env.snow.app.record("incident", incident["sys_id"])["state"] == "2"


def test_incident_reassigned_out_of_the_route_is_still_resolved_by_done(bridge_env: BridgeEnv) -> None:
    """The route decides what is escalated, not what keeps syncing: an incident handed to Network after
    escalation still receives the developer's Done and their comments (docs/mappings.md, "Links")."""
    env = bridge_env
    incident = escalate(env)
    sync(env)
    key = issue_for(env, incident["sys_id"])["key"]

    env.snow.app.edit("incident", incident["sys_id"], assignment_group="Network", priority=4)
    sync(env)
    env.jira.sandbox.add_comment(key, "Fixed the certificate rotation.", as_user="dana")
    env.jira.sandbox.transition(key, "Done", as_user="dana")
    sync(env)
    record = env.snow.app.record("incident", incident["sys_id"])
    assert record["state"] == "6"
    assert record["close_notes"] == f"Fixed in {key}: Done"
    assert any("Fixed the certificate rotation." in n["value"] for n in notes(env, "incident", incident["sys_id"]))
    assert len(env.jira.issues()) == 1


# ------------------------------------------------------------------------------------------- 7 plan


def test_plan_writes_nothing_and_lists_the_actions(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    first = escalate(env, "Checkout times out")
    sync(env)
    second = escalate(env, "Search returns nothing", priority=2)
    env.snow.app.add_work_note("incident", first["sys_id"], "Happens only with coupons.")

    jira_before, snow_before = env.jira.sandbox.snapshot(), json.dumps(env.snow.app.state, sort_keys=True)
    db_before = dump_database(env)
    result = env.bridge("plan")
    assert result.code == 0, result.output
    assert f"create Bug in DEMO for {second['number']}" in result.stdout
    assert "comment on" in result.stdout
    assert first["number"] in result.stdout
    assert env.jira.sandbox.snapshot() == jira_before
    assert json.dumps(env.snow.app.state, sort_keys=True) == snow_before
    assert dump_database(env) == db_before

    as_json = env.bridge("plan", "--json")
    assert as_json.code == 0, as_json.output
    kinds = {a["kind"] for doc in json.loads(as_json.stdout) for a in doc["actions"]}
    assert {"create_issue", "add_comment"} <= kinds
    assert env.jira.sandbox.snapshot() == jira_before
    assert dump_database(env) == db_before


def dump_database(env: BridgeEnv) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(env.database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}  # noqa: S608


# ------------------------------------------------------------------------------------------- 9 cost


def test_idle_sync_costs_one_search_per_side_per_mapping(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    escalate(env)
    env.snow.app.create_change("Rotate keys", u_needs_dev=True)
    sync(env)
    env.sync_until_settled()

    before = (env.jira.stats()["requests"], env.snow.stats()["requests"])
    result = sync(env, "--stats")
    after = (env.jira.stats()["requests"], env.snow.stats()["requests"])
    calls = stats_lines(result)
    mappings = {"incident-to-bug", "change-to-story", "problem-to-bug"}
    assert set(calls) == mappings, result.output
    for name in mappings:
        jira = calls[name]["jira"]
        # the ITSM search and the journal read of its window are one Batch API call (docs/connectors/servicenow.md)
        assert calls[name]["itsm"] == ["POST /api/now/v1/batch"], result.output
        assert jira.count("POST /rest/api/3/search/jql") == 1, result.output
        # besides the search only the process's one-time metadata reads (field ids, the account's zone)
        assert set(jira) - {"POST /rest/api/3/search/jql"} <= METADATA, result.output
    metadata = sum(len(set(c["jira"]) & METADATA) for c in calls.values())
    assert metadata <= len(METADATA)  # each at most once per process, not once per mapping or item
    # the servers saw exactly what --stats printed: one search per mapping per side, plus that metadata
    assert after[0] - before[0] == len(mappings) + metadata, result.output
    assert after[1] - before[1] == len(mappings), result.output


METADATA = {"GET /rest/api/3/field", "GET /rest/api/3/myself"}


def stats_lines(result: Result) -> dict[str, dict[str, list[str]]]:
    """``--stats`` output → {mapping: {side: [endpoint repeated count times]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    current = ""
    for line in result.stdout.splitlines():
        head = re.match(r"^([\w-]+): \d+ record", line)
        if head:
            current = head.group(1)
            out[current] = {}
            continue
        row = re.match(r"^\s+(itsm|jira)\s+(\d+)\s+(.+)$", line)
        if row and current:
            out[current].setdefault(row.group(1), []).extend([row.group(3)] * int(row.group(2)))
    return out
