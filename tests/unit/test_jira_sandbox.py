"""The sandbox Jira over real HTTP: the vendor behaviours that break naive clients must be there."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from bridge.sandbox.jira import BRIDGE_EMAIL, JiraSandbox
from bridge.sandbox.server import SandboxServer

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

ADF_HELLO = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
}


def call(env: JiraEnv, method: str, path: str, **kwargs: object) -> requests.Response:
    kwargs.setdefault("auth", env.auth)
    return requests.request(method, f"{env.api}/{path.lstrip('/')}", timeout=10, **kwargs)  # type: ignore[arg-type]


def body_text(env: JiraEnv, text: str) -> object:
    return (
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
        if (env.mode == "cloud")
        else text
    )


def new_issue(env: JiraEnv, **fields: object) -> dict[str, str]:
    payload = {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": "s", "labels": ["bridge"], **fields}
    response = call(env, "POST", "issue", json={"fields": payload})
    assert response.status_code == 201, response.text
    return response.json()


# ------------------------------------------------------------------------------------------- auth


def test_anonymous_myself_is_401_with_jira_body(jira_env: JiraEnv) -> None:
    response = requests.get(f"{jira_env.api}/myself", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}


def test_myself_reports_a_non_utc_time_zone_and_the_account(jira_env: JiraEnv) -> None:
    me = call(jira_env, "GET", "myself").json()
    assert me["timeZone"] == "Europe/Berlin"
    assert me["displayName"] == "Bridge Integration"
    assert ("accountId" in me) == (jira_env.mode == "cloud")


def test_wrong_token_is_refused(jira_env: JiraEnv) -> None:
    response = call(jira_env, "GET", "myself", auth=(BRIDGE_EMAIL if jira_env.mode == "cloud" else "bridge", "wrong"))
    assert response.status_code == 401


def test_anonymous_search_is_an_empty_200_and_bad_credentials_may_be_served_as_anonymous(jira_cloud: JiraEnv) -> None:
    jira_cloud.sandbox.create_issue(summary="secret", labels=["bridge"])
    anonymous = requests.post(f"{jira_cloud.api}/search/jql", json={"jql": "project = OPS"}, timeout=10)
    assert anonymous.status_code == 200
    assert anonymous.json()["issues"] == []
    jira_cloud.sandbox.configure(bad_credentials_anonymous=True)
    bad = call(jira_cloud, "POST", "search/jql", json={"jql": "project = OPS"}, auth=(BRIDGE_EMAIL, "nope"))
    assert bad.status_code == 200
    assert bad.json()["issues"] == []


def test_plain_text_401_when_configured(jira_dc: JiraEnv) -> None:
    jira_dc.sandbox.configure(text_401=True)
    response = requests.get(f"{jira_dc.api}/myself", timeout=10, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "must be authenticated" in response.text


def test_server_info_names_the_deployment(jira_env: JiraEnv) -> None:
    info = requests.get(f"{jira_env.api}/serverInfo", timeout=10).json()
    assert info["deploymentType"] == ("Cloud" if jira_env.mode == "cloud" else "Server")


# ------------------------------------------------------------------------------------------- fields


def test_field_list_has_the_custom_fields_bridge_maps(jira_env: JiraEnv) -> None:
    fields = {f["id"]: f for f in call(jira_env, "GET", "field").json()}
    assert fields["customfield_10050"]["name"] == "ServiceNow Number"
    assert fields["customfield_10051"]["schema"]["type"] == "number"
    assert fields["customfield_10052"]["clauseNames"][0] == "cf[10052]"
    assert fields["summary"]["custom"] is False


# ------------------------------------------------------------------------------------------- search


def test_cloud_search_pages_with_tokens_and_no_token_on_the_last_page(jira_cloud: JiraEnv) -> None:
    for n in range(5):
        jira_cloud.sandbox.create_issue(summary=f"n{n}", labels=["bridge"])
    keys: list[str] = []
    body: dict[str, object] = {"jql": "project = OPS ORDER BY key ASC", "fields": ["summary"], "maxResults": 2}
    pages = 0
    while True:
        page = call(jira_cloud, "POST", "search/jql", json=body).json()
        pages += 1
        keys += [i["key"] for i in page["issues"]]
        assert "total" not in page
        assert "startAt" not in page
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        body["nextPageToken"] = page["nextPageToken"]
    assert keys == [f"OPS-{n}" for n in range(1, 6)]
    assert pages == 3


def test_cloud_search_default_fields_are_id_only_and_short_pages_happen(jira_cloud: JiraEnv) -> None:
    for n in range(3):
        jira_cloud.sandbox.create_issue(summary=f"n{n}", labels=["bridge"])
    jira_cloud.sandbox.configure(page_size=1)
    page = call(jira_cloud, "GET", "search/jql", params={"jql": "project = OPS", "maxResults": 50}).json()
    assert page["issues"] == [{"id": "10003"}]
    assert page["isLast"] is False
    assert page["nextPageToken"]


def test_cloud_old_search_is_gone(jira_cloud: JiraEnv) -> None:
    response = call(jira_cloud, "GET", "search", params={"jql": "project = OPS"})
    assert response.status_code == 410
    assert "search/jql" in response.json()["errorMessages"][0]


def test_a_token_of_another_query_is_refused(jira_cloud: JiraEnv) -> None:
    for n in range(3):
        jira_cloud.sandbox.create_issue(summary=f"n{n}")
    first = call(jira_cloud, "POST", "search/jql", json={"jql": "project = OPS", "maxResults": 1}).json()
    other = call(
        jira_cloud, "POST", "search/jql", json={"jql": "project = DEV", "nextPageToken": first["nextPageToken"]}
    )
    assert other.status_code == 400


def test_dc_search_has_start_at_and_total(jira_dc: JiraEnv) -> None:
    for n in range(3):
        jira_dc.sandbox.create_issue(summary=f"n{n}")
    page = call(
        jira_dc, "GET", "search", params={"jql": "project = OPS ORDER BY key ASC", "startAt": 1, "maxResults": 1}
    ).json()
    assert page["total"] == 3
    assert page["startAt"] == 1
    assert [i["key"] for i in page["issues"]] == ["OPS-2"]


@pytest.mark.parametrize(
    "literal", ["2026/03/10 10:30:15", "2026-03-10T10:30", "2026/03/10 10:30+0100", "yesterday", "2026/13/01"]
)
def test_jql_date_literals_outside_the_documented_forms_are_400(jira_env: JiraEnv, literal: str) -> None:
    path = "search/jql" if jira_env.mode == "cloud" else "search"
    response = call(jira_env, "POST", path, json={"jql": f'project = OPS AND updated >= "{literal}"'})
    assert response.status_code == 400
    message = response.json()["errorMessages"][0]
    assert message.startswith(f"Date value '{literal}' for field 'updated' is invalid. Valid formats include:")


@pytest.mark.parametrize(
    "jql", ["project = ", "project = OPS AND", "foo = bar", "project = NOPE", "labels ~ x", "(project = OPS"]
)
def test_unparseable_jql_is_400(jira_cloud: JiraEnv, jql: str) -> None:
    response = call(jira_cloud, "POST", "search/jql", json={"jql": jql})
    assert response.status_code == 400
    assert response.json()["errorMessages"]


def test_jql_dates_are_read_in_the_users_zone_at_minute_precision(jira_cloud: JiraEnv) -> None:
    # 09:30:15 UTC is 10:30 in Berlin (UTC+1 in March before DST).
    key = jira_cloud.sandbox.create_issue(summary="edge", labels=["bridge"])

    def found(literal: str) -> bool:
        page = call(jira_cloud, "POST", "search/jql", json={"jql": f'updated >= "{literal}"', "fields": ["key"]}).json()
        return key in [i["key"] for i in page["issues"]]

    assert found("2026/03/10 10:30")  # same minute, user's zone
    assert not found("2026/03/10 10:31")
    assert found("2026-03-10 09:31")  # read in Berlin: 08:31 UTC, so a client sending UTC gets too much
    jira_cloud.sandbox.set_time_zone("UTC")
    assert found("2026/03/10 09:30")
    assert not found("2026/03/10 10:30")


def test_relative_dates_and_boolean_structure(jira_cloud: JiraEnv) -> None:
    a = jira_cloud.sandbox.create_issue(summary="a", labels=["x"])
    jira_cloud.clock.advance(600)
    b = jira_cloud.sandbox.create_issue(project="DEV", summary="b", labels=["y"], issuetype="Story")
    page = call(
        jira_cloud,
        "POST",
        "search/jql",
        json={"jql": "(labels = x OR issuetype = Story) AND updated >= -5m ORDER BY key DESC", "fields": ["key"]},
    ).json()
    assert [i["key"] for i in page["issues"]] == [b]
    page = call(
        jira_cloud,
        "POST",
        "search/jql",
        json={"jql": "key in (OPS-1, DEV-1) ORDER BY updated ASC, key ASC", "fields": ["key"]},
    ).json()
    assert [i["key"] for i in page["issues"]] == [a, b]


def test_marker_field_is_searchable_by_cf_and_name(jira_cloud: JiraEnv) -> None:
    key = jira_cloud.sandbox.create_issue(summary="m", fields={"customfield_10052": "itsm-incident-abc"})
    for jql in ('cf[10052] = "itsm-incident-abc"', 'customfield_10052 ~ "itsm-incident-abc"'):
        page = call(jira_cloud, "POST", "search/jql", json={"jql": jql, "fields": ["key"]}).json()
        assert [i["key"] for i in page["issues"]] == [key]


# ------------------------------------------------------------------------------------------- issues


def test_v3_rich_text_must_be_adf_and_dc_takes_strings(jira_env: JiraEnv) -> None:
    response = call(
        jira_env,
        "POST",
        "issue",
        json={
            "fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": "s", "description": "plain"}
        },
    )
    if jira_env.mode == "cloud":
        assert response.status_code == 400
        assert response.json()["errors"]["description"].startswith("Operation value must be an Atlassian Document")
        assert new_issue(jira_env, description=ADF_HELLO)["key"] == "OPS-1"
    else:
        assert response.status_code == 201


def test_create_validates_required_and_unknown_fields(jira_env: JiraEnv) -> None:
    response = call(
        jira_env,
        "POST",
        "issue",
        json={"fields": {"project": {"key": "OPS"}, "customfield_99": "x", "priority": {"name": "Urgent!"}}},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"issuetype", "summary", "customfield_99", "priority"}
    assert (
        errors["customfield_99"]
        == "Field 'customfield_99' cannot be set. It is not on the appropriate screen, or unknown."
    )


def test_created_issue_has_jira_timestamps_in_the_users_zone(jira_env: JiraEnv) -> None:
    created = new_issue(jira_env, priority={"name": "High"}, components=[{"name": "Backend"}], customfield_10051=3)
    assert created["self"].endswith(f"/issue/{created['id']}")
    issue = call(
        jira_env, "GET", f"issue/{created['key']}", params={"fields": "updated,priority,components,customfield_10051"}
    ).json()
    assert issue["fields"]["updated"] == "2026-03-10T10:30:15.000+0100"
    assert issue["fields"]["priority"]["name"] == "High"
    assert issue["fields"]["components"][0]["name"] == "Backend"
    assert issue["fields"]["customfield_10051"] == 3
    assert set(issue["fields"]) == {"updated", "priority", "components", "customfield_10051"}


def test_missing_issue_is_jiras_404(jira_env: JiraEnv) -> None:
    response = call(jira_env, "GET", "issue/OPS-999")
    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


def test_edit_is_204_and_bumps_updated(jira_env: JiraEnv) -> None:
    key = new_issue(jira_env)["key"]
    jira_env.clock.advance(61)
    assert (
        call(
            jira_env, "PUT", f"issue/{key}", json={"fields": {"summary": "new"}, "update": {"labels": [{"add": "z"}]}}
        ).status_code
        == 204
    )
    issue = call(jira_env, "GET", f"issue/{key}").json()["fields"]
    assert issue["summary"] == "new"
    assert issue["labels"] == ["bridge", "z"]
    assert issue["updated"] == "2026-03-10T10:31:16.000+0100"
    refused = call(jira_env, "PUT", f"issue/{key}", json={"fields": {"resolution": {"name": "Done"}}})
    assert refused.status_code == 400
    assert "resolution" in refused.json()["errors"]


# ------------------------------------------------------------------------------------------- workflow


def test_transitions_offer_only_moves_from_the_current_status_with_per_project_ids(jira_env: JiraEnv) -> None:
    ops = new_issue(jira_env)["key"]
    dev = call(
        jira_env,
        "POST",
        "issue",
        json={"fields": {"project": {"key": "DEV"}, "issuetype": {"name": "Bug"}, "summary": "d"}},
    ).json()["key"]
    ops_t = call(jira_env, "GET", f"issue/{ops}/transitions").json()["transitions"]
    dev_t = call(jira_env, "GET", f"issue/{dev}/transitions").json()["transitions"]
    assert [t["to"]["name"] for t in ops_t] == ["In Progress"] == [t["to"]["name"] for t in dev_t]
    assert ops_t[0]["id"] != dev_t[0]["id"]
    assert "fields" not in ops_t[0]


def test_done_screen_requires_resolution_and_reopen_clears_it(jira_env: JiraEnv) -> None:
    key = new_issue(jira_env)["key"]
    jira_env.sandbox.transition(key, "In Review")
    transitions = call(jira_env, "GET", f"issue/{key}/transitions", params={"expand": "transitions.fields"}).json()[
        "transitions"
    ]
    done = next(t for t in transitions if t["to"]["name"] == "Done")
    assert done["fields"]["resolution"]["required"] is True
    post = lambda body: call(jira_env, "POST", f"issue/{key}/transitions", json=body)  # noqa: E731
    missing = post({"transition": {"id": done["id"]}})
    assert missing.status_code == 400
    assert missing.json()["errorMessages"] == ["Field Resolution is required."]
    invalid = post({"transition": {"id": "99999"}})
    assert invalid.json()["errorMessages"] == ["Transition id '99999' is not valid for this issue."]
    back = next(t for t in transitions if t["to"]["name"] == "In Progress")
    off_screen = post({"transition": {"id": back["id"]}, "fields": {"resolution": {"name": "Done"}}})
    assert off_screen.json()["errors"] == {
        "resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."
    }
    assert post({"transition": {"id": done["id"]}, "fields": {"resolution": {"name": "Done"}}}).status_code == 204
    issue = call(jira_env, "GET", f"issue/{key}", params={"fields": "status,resolution"}).json()["fields"]
    assert issue["status"]["statusCategory"]["key"] == "done"
    assert issue["resolution"]["name"] == "Done"
    jira_env.sandbox.transition(key, "In Progress")
    assert call(jira_env, "GET", f"issue/{key}", params={"fields": "resolution"}).json()["fields"]["resolution"] is None


# ------------------------------------------------------------------------------------------- comments


def test_comments_need_the_right_body_shape_and_visibility(jira_env: JiraEnv) -> None:
    key = new_issue(jira_env)["key"]
    wrong = {"body": "plain"} if jira_env.mode == "cloud" else {"body": ADF_HELLO}
    assert call(jira_env, "POST", f"issue/{key}/comment", json=wrong).status_code == 400
    unknown_role = call(
        jira_env,
        "POST",
        f"issue/{key}/comment",
        json={"body": body_text(jira_env, "x"), "visibility": {"type": "role", "value": "Wizards"}},
    )
    assert unknown_role.status_code == 400
    assert "commentLevel" in unknown_role.json()["errors"]
    created = call(
        jira_env,
        "POST",
        f"issue/{key}/comment",
        params={"expand": "properties"},
        json={
            "body": body_text(jira_env, "x"),
            "visibility": {"type": "role", "value": "Developers"},
            "properties": [{"key": "bridge.origin", "value": {"side": "itsm", "origin_id": "1"}}],
        },
    )
    assert created.status_code == 201
    assert created.json()["properties"] == [{"key": "bridge.origin", "value": {"side": "itsm", "origin_id": "1"}}]
    assert ("jsdPublic" in created.json()) == (jira_env.mode == "cloud")
    listing = call(jira_env, "GET", f"issue/{key}/comment", params={"orderBy": "created"}).json()
    assert listing["total"] == 1
    assert "properties" not in listing["comments"][0]
    assert call(jira_env, "GET", f"issue/{key}/comment", params={"orderBy": "author"}).status_code == 400


def test_restricted_comments_are_hidden_from_non_members(jira_cloud: JiraEnv) -> None:
    key = jira_cloud.sandbox.create_issue(summary="v")
    jira_cloud.sandbox.add_comment(
        key, "for admins", as_user="sam", visibility={"type": "role", "value": "Administrators"}
    )
    jira_cloud.sandbox.add_comment(key, "for all", as_user="dana")
    listing = call(jira_cloud, "GET", f"issue/{key}/comment").json()
    assert [c["author"]["displayName"] for c in listing["comments"]] == ["Dana Developer"]


def test_comment_bumps_issue_updated(jira_env: JiraEnv) -> None:
    key = new_issue(jira_env)["key"]
    jira_env.clock.advance(120)
    jira_env.sandbox.add_comment(key, "later")
    updated = call(jira_env, "GET", f"issue/{key}", params={"fields": "updated"}).json()["fields"]["updated"]
    assert updated == "2026-03-10T10:32:15.000+0100"


# ------------------------------------------------------------------------------------------- remote links


def test_remote_link_upsert_by_global_id_nulls_omitted_fields(jira_env: JiraEnv) -> None:
    key = new_issue(jira_env)["key"]
    link = {"globalId": "system=x&id=1", "relationship": "rel", "object": {"url": "https://x/1", "title": "INC1"}}
    first = call(jira_env, "POST", f"issue/{key}/remotelink", json=link)
    second = call(
        jira_env,
        "POST",
        f"issue/{key}/remotelink",
        json={"globalId": "system=x&id=1", "object": {"url": "https://x/1", "title": "INC1b"}},
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    links = call(jira_env, "GET", f"issue/{key}/remotelink").json()
    assert len(links) == 1
    assert "relationship" not in links[0]
    assert links[0]["object"]["title"] == "INC1b"
    single = call(jira_env, "GET", f"issue/{key}/remotelink", params={"globalId": "system=x&id=1"}).json()
    assert isinstance(single, dict)
    assert single["globalId"] == "system=x&id=1"
    untitled = call(jira_env, "POST", f"issue/{key}/remotelink", json={"object": {"url": "https://x"}})
    assert untitled.status_code == 400
    assert untitled.json()["errors"]["title"] == "'title' is required."


# ------------------------------------------------------------------------------------------- limits


def test_rate_limit_answers_429_with_atlassian_headers_and_early_retries_keep_failing(jira_env: JiraEnv) -> None:
    jira_env.sandbox.rate_limiter.configure(limit=None, burst_429=1)
    first = call(jira_env, "GET", "myself")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.headers["RateLimit-Reason"] == "jira-burst-based"
    assert first.headers["X-RateLimit-Reset"] == "2026-03-10T09:30Z"
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining"} <= set(first.headers)
    assert call(jira_env, "GET", "myself").status_code == 429  # retried before Retry-After
    jira_env.clock.advance(1.0)
    assert call(jira_env, "GET", "myself").status_code == 200


def test_scripted_503_with_retry_after(jira_env: JiraEnv) -> None:
    jira_env.sandbox.fail_next(1, 503, retry_after=7)
    response = call(jira_env, "GET", "myself")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert call(jira_env, "GET", "myself").status_code == 200


def test_mypermissions_requires_keys_on_cloud_and_reports_revoked_ones(jira_env: JiraEnv) -> None:
    jira_env.sandbox.configure(revoked=["LINK_ISSUES"])
    perms = call(
        jira_env, "GET", "mypermissions", params={"projectKey": "OPS", "permissions": "LINK_ISSUES,ADD_COMMENTS"}
    ).json()
    assert perms["permissions"]["LINK_ISSUES"]["havePermission"] is False
    assert perms["permissions"]["ADD_COMMENTS"]["havePermission"] is True
    if jira_env.mode == "cloud":
        assert call(jira_env, "GET", "mypermissions").status_code == 400


# ------------------------------------------------------------------------------------------- scripting


def test_admin_http_scripting_acts_as_a_person(jira_env: JiraEnv) -> None:
    admin = f"{jira_env.url}/_sandbox/jira"
    key = requests.post(
        f"{admin}/issues", json={"summary": "via http", "labels": ["bridge"], "description": "a\nb"}, timeout=10
    ).json()["key"]
    assert requests.post(f"{admin}/issues/{key}/comments", json={"body": "dev note"}, timeout=10).status_code == 201
    moved = requests.post(
        f"{admin}/issues/{key}/transition", json={"status": "Done", "resolution": "Won't Do"}, timeout=10
    ).json()
    assert moved == {"transitions": ["Start progress", "Review", "Done"]}
    assert (
        requests.put(f"{admin}/issues/{key}", json={"fields": {"ServiceNow Number": "INC9"}}, timeout=10).status_code
        == 204
    )
    assert requests.put(f"{admin}/timezone", json={"timeZone": "Asia/Tokyo"}, timeout=10).status_code == 204
    listing = requests.get(f"{admin}/issues", timeout=10).json()["issues"][0]
    assert listing["status"] == "Done"
    assert listing["resolution"] == "Won't Do"
    assert listing["comments"][0]["author"] == "Dana Developer"
    assert listing["comments"][0]["body"] == "dev note"
    assert listing["fields"]["customfield_10050"] == "INC9"
    assert listing["description"] == "a\nb"
    assert call(jira_env, "GET", "myself").json()["timeZone"] == "Asia/Tokyo"
    assert requests.post(f"{admin}/issues/NOPE-1/comments", json={"body": "x"}, timeout=10).status_code == 404


def test_state_survives_a_restart(tmp_path: Path, jira_start: Any) -> None:
    env = jira_start("cloud", state_dir=tmp_path)
    key = env.sandbox.create_issue(summary="persisted")
    env.server.stop()
    again = jira_start("cloud", state_dir=tmp_path)
    assert call(again, "GET", f"issue/{key}").json()["fields"]["summary"] == "persisted"


def test_runs_as_a_subprocess_and_prints_its_url(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge.sandbox.jira",
            "--port",
            "0",
            "--mode",
            "datacenter",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        token = base64.b64encode(b"bridge:sandbox-password").decode()
        me = requests.get(f"{url}/rest/api/2/myself", headers={"Authorization": f"Basic {token}"}, timeout=10)
        assert me.json()["name"] == "bridge"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_sandbox_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="mode"):
        JiraSandbox(mode="server")


def test_every_route_names_a_handler_and_the_old_import_paths_still_work() -> None:
    from bridge.sandbox import jira_jql, jira_text
    from bridge.sandbox.jira import ROUTES, jql, render

    for mode in ("cloud", "datacenter"):
        sandbox = JiraSandbox(mode=mode)
        assert all(callable(getattr(sandbox, handler)) for _, _, handler, _ in ROUTES)
    assert jira_jql.parse is jql.parse
    assert jira_text.text_to_adf is render.text_to_adf


def test_server_binds_loopback_only() -> None:
    with SandboxServer(JiraSandbox()) as server:
        assert server.httpd.server_address[0] == "127.0.0.1"
        assert json.loads(requests.get(f"{server.url}/_sandbox/stats", timeout=10).text)["requests"] == 0


def test_server_turns_nagle_off_for_every_request_of_a_keep_alive_connection() -> None:
    # With Nagle on, the body write waited for the ACK of the header write: 20-44 ms per request.
    nodelay: list[int] = []
    with SandboxServer(JiraSandbox()) as server:
        frame_handler: Any = server.httpd.RequestHandlerClass

        class Recording(frame_handler):  # type: ignore[misc,valid-type]
            def handle_one_request(self) -> None:
                nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                super().handle_one_request()

        server.httpd.RequestHandlerClass = Recording
        with requests.Session() as session:
            for _ in range(3):
                assert session.get(f"{server.url}/_sandbox/stats", timeout=10).status_code == 200
    assert len(nodelay) >= 3
    assert all(nodelay)


def test_search_index_lag_hides_new_issues_unless_reconciled(jira_cloud: JiraEnv) -> None:
    jira_cloud.sandbox.configure(index_lag_seconds=5)
    key = jira_cloud.sandbox.create_issue(summary="fresh")
    issue_id = jira_cloud.sandbox.snapshot()[0]["id"]
    body = {"jql": "project = OPS", "fields": ["key"]}
    assert call(jira_cloud, "POST", "search/jql", json=body).json()["issues"] == []
    reconciled = call(jira_cloud, "POST", "search/jql", json={**body, "reconcileIssues": [int(issue_id)]}).json()
    assert [i["key"] for i in reconciled["issues"]] == [key]
    jira_cloud.clock.advance(5)
    assert [i["key"] for i in call(jira_cloud, "POST", "search/jql", json=body).json()["issues"]] == [key]
