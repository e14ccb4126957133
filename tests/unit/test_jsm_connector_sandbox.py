"""The JSM connector against the sandbox JSM site over real HTTP, Cloud and Data Center (``jsm_env``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from bridge.errors import PermanentError, WorkflowError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Marker, Ref, Side

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jsm_sandbox import JsmEnv

pytest_plugins = ["tests.fixtures.jsm_sandbox"]

MAPPING: dict[str, Any] = {
    "name": "requests",
    "route": {
        "record_type": "SUP",
        "system": "jsm",
        "where": {
            "all": [
                {"field": "priority", "in": ["Highest", "High"]},
                {"field": "Request Type", "equals": "Report a bug"},
            ]
        },
    },
    "target": {"project": "DEV", "issue_type": "Bug"},
    "comments": {"to_itsm_channel": "internal", "from_itsm_channels": ["internal", "public"]},
    "links": {"itsm_key_field": "Development issue", "itsm_url_field": "Development issue URL"},
}


def spec(**overrides: Any) -> MappingSpec:
    return MappingSpec.model_validate({**MAPPING, **overrides})


def ref(env: JsmEnv, key: str) -> Ref:
    issue = next(i for i in env.sandbox.snapshot() if i["key"] == key)
    return Ref(Side.ITSM, "SUP", issue["id"], key, f"{env.url}/browse/{key}")


def recorded_jql(env: JsmEnv) -> list[str]:
    import json

    return [
        json.loads(e["request_body"])["jql"]
        for e in env.sandbox.exchanges
        if e["path"].endswith(("/search/jql", "/search")) and e["method"] == "POST"
    ]


def test_search_selects_by_jql_and_locally_and_reads_request_fields(jsm_env: JsmEnv) -> None:
    sandbox = jsm_env.sandbox
    wanted = sandbox.create_request("Export crashes", request_type="Report a bug", priority="High")
    sandbox.create_request("Low bug", request_type="Report a bug", priority="Low")
    sandbox.create_request("Laptop", request_type="Get IT help", priority="High")
    connector = jsm_env.jsm()
    sandbox.start_recording()
    found = list(connector.search_changed(spec(), None, ["summary", "Request Type", "reporter", "priority"]))
    assert [r.ref.key for r in found] == [wanted]
    record = found[0]
    assert record.ref.kind == "SUP"
    assert record.status == "Waiting for support"
    assert record.fields["Request Type"] == "Report a bug"
    assert record.fields["priority"] == "High"
    assert record.fields["reporter"] in ("Sam Lead", "sam")  # Cloud: display name; DC: user name
    assert recorded_jql(jsm_env) == [
        'project = "SUP" AND priority in ("Highest", "High") ORDER BY updated ASC, key ASC'
    ]


def test_search_since_uses_the_cursor_in_the_accounts_zone(jsm_env: JsmEnv) -> None:
    sandbox = jsm_env.sandbox
    old = sandbox.create_request("Old", request_type="Report a bug", priority="High")
    jsm_env.clock.advance(600)
    since = jsm_env.clock()
    jsm_env.clock.advance(5)
    new = sandbox.create_request("New", request_type="Report a bug", priority="High")
    keys = [r.ref.key for r in jsm_env.jsm().search_changed(spec(), since, ["summary"])]
    assert keys == [new]
    assert old not in keys


def test_comments_keep_their_channel_and_bridges_notes_are_internal_with_a_marker(jsm_env: JsmEnv) -> None:
    sandbox = jsm_env.sandbox
    key = sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    sandbox.reply(key, "Customer: still broken", public=True)
    sandbox.reply(key, "Agent: escalating", public=False)
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    note = connector.add_comment(
        record, "Dana (Jira) wrote: fixed in 4.2", channel="internal", marker=Marker(Side.JIRA, "501")
    )
    reply = connector.add_comment(record, "The fix is live", channel="public", marker=Marker(Side.JIRA, "502"))
    read = connector.comments_since([record], None)[record.id]
    assert [(c.body, c.channel, c.marker) for c in read] == [
        ("Customer: still broken", "public", None),
        ("Agent: escalating", "internal", None),
        ("Dana (Jira) wrote: fixed in 4.2", "internal", Marker(Side.JIRA, "501")),
        ("The fix is live", "public", Marker(Side.JIRA, "502")),
    ]
    assert [c.id for c in read[2:]] == [note.id, reply.id]
    # what the customer portal goes by
    stored = {c["id"]: c for c in next(i for i in sandbox.snapshot() if i["key"] == key)["comments"]}
    props = {p["key"]: p["value"] for p in stored[note.id]["properties"]}
    assert props["sd.public.comment"] == {"internal": True}
    found = connector.find_comment_by_marker(record, Marker(Side.JIRA, "502"))
    assert found is not None
    assert (found.id, found.channel) == (reply.id, "public")


def test_set_status_walks_the_service_desk_workflow_and_demands_the_resolution(jsm_env: JsmEnv) -> None:
    key = jsm_env.sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    connector.set_status(record, "Waiting for customer", {})
    assert connector.get(record, []).status == "Waiting for customer"
    with pytest.raises(WorkflowError, match=r"status\.to_itsm") as caught:
        connector.set_status(record, "Resolved", {})
    assert caught.value.side == "jsm"
    assert connector.get(record, []).status == "Waiting for customer"
    connector.set_status(record, "Resolved", {"resolution": "Done"})
    resolved = connector.get(record, ["resolution"])
    assert (resolved.status, resolved.fields["resolution"]) == ("Resolved", "Done")
    connector.set_status(record, "In Progress", {})  # reopen: Resolved -> Waiting for support -> In Progress
    reopened = connector.get(record, ["resolution"])
    assert (reopened.status, reopened.fields["resolution"]) == ("In Progress", None)
    connector.set_status(record, "Resolved", {"resolution": "Done"})
    connector.set_status(record, "Closed", {})
    with pytest.raises(WorkflowError, match="no transition path"):
        connector.set_status(record, "In Progress", {})


def test_back_reference_is_written_once_and_found_by_jql(jsm_env: JsmEnv) -> None:
    key = jsm_env.sandbox.create_request("Printer", request_type="Report a bug", priority="High")
    other = jsm_env.sandbox.create_request("Other", request_type="Report a bug", priority="High")
    connector = jsm_env.jsm()
    record = ref(jsm_env, key)
    issue = Ref(Side.JIRA, "issue", "20001", "DEV-12", f"{jsm_env.url}/browse/DEV-12")
    values = {"Development issue": "DEV-12", "Development issue URL": issue.url}
    connector.write_back_reference(record, issue, values)
    first = connector.get(record, list(values))
    connector.write_back_reference(record, issue, values)
    again = connector.get(record, list(values))
    assert dict(first.fields) == values
    assert again.version == first.version  # nothing written the second time
    connector.write_back_reference(ref(jsm_env, other), issue, {"Development issue": "DEV-123"})
    found = connector.find_by_marker(spec(), "DEV-12")
    assert found is not None
    assert found.ref.key == key  # DEV-123 contains the same words; the exact value decides
    assert found.back_reference == "DEV-12"
    assert connector.find_by_marker(spec(), "DEV-1") is None


def test_check_passes_for_a_service_project_and_explains_what_is_wrong(jsm_env: JsmEnv) -> None:
    connector = jsm_env.jsm()
    good = connector.check([spec()])
    assert all(r.ok for r in good), [r for r in good if not r.ok]
    assert any("is a service project" in r.what for r in good)
    assert any("request type 'Report a bug'" in r.what for r in good)

    software = spec(name="wrong", route={"record_type": "OPS", "system": "jsm"})
    unknown_type = spec(
        name="typo",
        route={"record_type": "SUP", "system": "jsm", "where": {"field": "Request Type", "equals": "Report a bgu"}},
        status={"to_itsm": {"Done": {"state": "Solved", "fields": {"resolution": "Done"}}}},
    )
    jsm_env.sandbox.configure(revoked=["TRANSITION_ISSUES"])
    bad = {r.what: r for r in connector.check([software, unknown_type]) if not r.ok}
    assert "project OPS is not a service project (type software)" in bad
    assert "typo: request type 'Report a bgu' exists in SUP" in bad
    assert "Report a bug" in (bad["typo: request type 'Report a bgu' exists in SUP"].hint or "")
    assert "typo: status 'Solved' exists in SUP" in bad
    assert "permission TRANSITION_ISSUES in SUP" in bad


def test_the_sandbox_servicedeskapi_answers_like_jsm(jsm_env: JsmEnv) -> None:
    auth = jsm_env.auth
    desks = requests.get(f"{jsm_env.url}/rest/servicedeskapi/servicedesk", auth=auth, timeout=5).json()
    assert desks["isLastPage"] is True
    assert [(d["id"], d["projectKey"]) for d in desks["values"]] == [("1", "SUP")]
    types = requests.get(f"{jsm_env.url}/rest/servicedeskapi/servicedesk/SUP/requesttype", auth=auth, timeout=5)
    assert "Report a bug" in [t["name"] for t in types.json()["values"]]
    missing = requests.get(f"{jsm_env.url}/rest/servicedeskapi/servicedesk/7", auth=auth, timeout=5)
    assert missing.status_code == 404
    key = jsm_env.sandbox.create_request("Printer")
    made = requests.post(
        f"{jsm_env.url}/rest/servicedeskapi/request/{key}/comment",
        json={"body": "Only for agents", "public": False},
        auth=auth,
        timeout=5,
    )
    assert made.status_code == 201
    assert made.json()["public"] is False
    comments = jsm_env.jsm().comments_since([ref(jsm_env, key)], None)
    assert [(c.body, c.channel) for c in next(iter(comments.values()))] == [("Only for agents", "internal")]
    software = requests.post(
        f"{jsm_env.url}/rest/servicedeskapi/request/OPS-1/comment", json={"body": "x"}, auth=auth, timeout=5
    )
    assert software.status_code == 404


def test_an_unknown_channel_is_a_permanent_error_and_writes_nothing(jsm_env: JsmEnv) -> None:
    key = jsm_env.sandbox.create_request("Printer")
    with pytest.raises(PermanentError):
        jsm_env.jsm().add_comment(ref(jsm_env, key), "x", channel="work_notes", marker=Marker(Side.JIRA, "1"))
    assert next(i for i in jsm_env.sandbox.snapshot() if i["key"] == key)["comments"] == []


def test_the_bootstrap_builds_a_working_jsm_connector_from_a_config_file(tmp_path: Path) -> None:
    from bridge.bootstrap import build_connectors
    from bridge.connectors.jsm import JsmConnector
    from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_TOKEN
    from bridge.settings import load_settings
    from tests.fixtures.jira_sandbox import stop_jira
    from tests.fixtures.jsm_sandbox import start_jsm

    env = start_jsm("cloud")
    try:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"jira:\n  url: {env.url}\n  email: {BRIDGE_EMAIL}\n"
            f"itsm:\n  kind: jsm\n  url: {env.url}\n  username: {BRIDGE_EMAIL}\n"
        )
        settings = load_settings(
            config, env={"BRIDGE_JIRA__TOKEN": BRIDGE_TOKEN, "BRIDGE_ITSM__PASSWORD": BRIDGE_TOKEN}
        )
        built = build_connectors(settings)
        try:
            itsm, jira = built[Side.ITSM], built[Side.JIRA]
            assert isinstance(itsm, JsmConnector)
            assert jira.itsm_application == ("com.atlassian.servicedesk", "Jira Service Management")  # type: ignore[attr-defined]
            results = itsm.check([spec()])
            assert all(r.ok for r in results), [r for r in results if not r.ok]
        finally:
            for connector in built.values():
                connector.close()
    finally:
        stop_jira(env)
