"""The ServiceNow sandbox behaves like the Table API documents, over real HTTP on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.sandbox.server import SandboxServer
from bridge.sandbox.servicenow import API_PASSWORD, API_USER, OAUTH_TOKEN, Refused, ServiceNowSandbox
from tests.fixtures.servicenow import ManualClock, Snow, running_sandbox

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


SYS_ID = re.compile(r"^[0-9a-f]{32}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def api(env: Snow) -> requests.Session:
    session = requests.Session()
    session.auth = (API_USER, API_PASSWORD)
    session.headers["Accept"] = "application/json"
    return session


def get(env: Snow, path: str, **params: Any) -> requests.Response:
    return api(env).get(env.url + path, params=params, timeout=5)


def numbers(response: requests.Response) -> list[str]:
    return [row["number"] for row in response.json()["result"]]


def seed(env: Snow, count: int) -> list[dict[str, str]]:
    out = []
    for n in range(count):
        out.append(env.app.create_incident(f"Incident {n}", priority=1 + n % 4, category="software"))
        env.clock.advance(1)
    return out


# ------------------------------------------------------------------------------------ reading


def test_list_answers_strings_only_with_total_count(snow: Snow) -> None:
    seed(snow, 3)
    response = get(snow, "/api/now/table/incident", sysparm_exclude_reference_link="true")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    rows = response.json()["result"]
    assert len(rows) == 3
    for row in rows:
        assert all(isinstance(v, str) for v in row.values()), row
        assert SYS_ID.match(row["sys_id"])
        assert re.fullmatch(r"INC\d{7}", row["number"])
        assert STAMP.match(row["sys_updated_on"])
        assert row["sys_mod_count"] == "0"
        assert row["work_notes"] == ""
    assert sorted(r["number"] for r in rows) == ["INC0010001", "INC0010002", "INC0010003"]


def test_reference_fields_carry_links_unless_excluded(snow: Snow) -> None:
    inc = snow.app.create_incident("Printer down", caller="Carol Caller")
    path = f"/api/now/table/incident/{inc['sys_id']}"
    linked = get(snow, path, sysparm_fields="caller_id").json()["result"]["caller_id"]
    assert linked == {"link": f"{snow.url}/api/now/table/sys_user/{inc['caller_id']}", "value": inc["caller_id"]}
    bare = get(snow, path, sysparm_fields="caller_id", sysparm_exclude_reference_link="true").json()["result"]
    assert bare == {"caller_id": inc["caller_id"]}
    shown = get(snow, path, sysparm_fields="caller_id,state", sysparm_display_value="true",
                sysparm_exclude_reference_link="true").json()["result"]
    assert shown == {"caller_id": "Carol Caller", "state": "New"}
    both = get(snow, path, sysparm_fields="state", sysparm_display_value="all").json()["result"]
    assert both == {"state": {"display_value": "New", "value": "1"}}


def test_pagination_headers_carry_offsets(snow: Snow) -> None:
    seed(snow, 7)
    response = get(snow, "/api/now/table/incident", sysparm_limit="3", sysparm_offset="3",
                   sysparm_query="ORDERBYnumber")
    assert numbers(response) == ["INC0010004", "INC0010005", "INC0010006"]
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>;rel="(\w+)"', response.headers["Link"]))
    assert set(links) == {"first", "prev", "next", "last"}
    offsets = {rel: re.search(r"sysparm_offset=(\d+)", url).group(1) for rel, url in links.items()}  # type: ignore[union-attr]
    assert offsets == {"first": "0", "prev": "0", "next": "6", "last": "6"}
    assert "sysparm_query=ORDERBYnumber" in links["next"]
    last = get(snow, "/api/now/table/incident", sysparm_limit="3", sysparm_offset="6", sysparm_query="ORDERBYnumber")
    assert 'rel="next"' not in last.headers["Link"]
    assert numbers(last) == ["INC0010007"]
    single = get(snow, "/api/now/table/incident", sysparm_limit="50")
    assert "Link" not in single.headers
    quiet = get(snow, "/api/now/table/incident", sysparm_limit="3", sysparm_no_count="true",
                sysparm_suppress_pagination_header="true")
    assert "X-Total-Count" not in quiet.headers
    assert "Link" not in quiet.headers


def test_order_is_unstable_without_orderby(snow: Snow) -> None:
    seed(snow, 12)
    orders = {tuple(numbers(get(snow, "/api/now/table/incident"))) for _ in range(4)}
    assert len(orders) > 1
    ordered = {tuple(numbers(get(snow, "/api/now/table/incident", sysparm_query="ORDERBYsys_id"))) for _ in range(3)}
    assert len(ordered) == 1


def test_acl_drops_rows_after_paging_but_counts_them(snow: Snow) -> None:
    rows = seed(snow, 6)
    snow.app.set_acl(hidden=[rows[0]["sys_id"], rows[1]["sys_id"]])
    first = get(snow, "/api/now/table/incident", sysparm_limit="2", sysparm_query="ORDERBYnumber")
    assert first.json()["result"] == []  # empty page while four more rows exist
    assert first.headers["X-Total-Count"] == "6"
    second = get(snow, "/api/now/table/incident", sysparm_limit="2", sysparm_offset="2", sysparm_query="ORDERBYnumber")
    assert numbers(second) == ["INC0010003", "INC0010004"]
    hidden = get(snow, f"/api/now/table/incident/{rows[0]['sys_id']}")
    assert hidden.status_code == 404


def test_acl_mode_hides_a_share_of_rows(snow: Snow) -> None:
    rows = seed(snow, 30)
    snow.app.set_acl(hide_every=3)
    visible = [r["number"] for r in rows if not snow.app._hidden("incident", r)]
    assert 0 < len(visible) < 30
    pages = [get(snow, "/api/now/table/incident", sysparm_limit="7", sysparm_offset=str(offset),
                 sysparm_query="ORDERBYnumber") for offset in range(0, 30, 7)]
    assert all(p.headers["X-Total-Count"] == "30" for p in pages)
    assert [n for p in pages for n in numbers(p)] == visible
    assert any(len(p.json()["result"]) < 7 for p in pages[:-1])  # short pages while more exist


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priority=1", ["INC0010001", "INC0010005"]),
        ("priority!=1", ["INC0010002", "INC0010003", "INC0010004", "INC0010006"]),
        ("priorityIN2,3", ["INC0010002", "INC0010003", "INC0010006"]),
        ("priorityNOT IN1,2,3", ["INC0010004"]),
        ("priority<2", ["INC0010001", "INC0010005"]),
        ("priority<=2", ["INC0010001", "INC0010002", "INC0010005", "INC0010006"]),
        ("priority>3", ["INC0010004"]),
        ("priority>=3", ["INC0010003", "INC0010004"]),
        ("short_descriptionLIKEincident 1", ["INC0010002"]),  # case-insensitive
        ("short_descriptionSTARTSWITHINC", ["INC0010001", "INC0010002", "INC0010003", "INC0010004", "INC0010005",
                                            "INC0010006"]),
        ("correlation_idISEMPTY^priority=4", ["INC0010004"]),
        ("correlation_idISNOTEMPTY", []),
        ("priority=1^ORpriority=4", ["INC0010001", "INC0010004", "INC0010005"]),
        ("priority=2^NQpriority=4^short_descriptionLIKE3", ["INC0010002", "INC0010004", "INC0010006"]),
        ("priority=1^sys_created_on>=2026-01-05 09:00:14", ["INC0010005"]),
        ("priority=1^sys_created_on<2026-01-05 09:00:11", ["INC0010001"]),
        ("prioritty=1", ["INC0010001", "INC0010002", "INC0010003", "INC0010004", "INC0010005", "INC0010006"]),
        ("prioritty=1^priority=4", ["INC0010004"]),
    ],
)
def test_encoded_query_operators(snow: Snow, query: str, expected: list[str]) -> None:
    seed(snow, 6)  # priorities 1,2,3,4,1,2; created one second apart from 09:00:10
    response = get(snow, "/api/now/table/incident", sysparm_query=query + "^ORDERBYnumber")
    assert response.status_code == 200
    assert numbers(response) == expected


def test_not_equals_does_not_select_empty_values(snow: Snow) -> None:
    a = snow.app.create_incident("a", correlation_id="OPS-1")
    b = snow.app.create_incident("b")
    ne = get(snow, "/api/now/table/incident", sysparm_query="correlation_id!=OPS-2")
    assert numbers(ne) == [a["number"]]
    with_empty = get(snow, "/api/now/table/incident",
                     sysparm_query="correlation_id!=OPS-2^ORcorrelation_idISEMPTY^ORDERBYnumber")
    assert numbers(with_empty) == [a["number"], b["number"]]


def test_orderbydesc(snow: Snow) -> None:
    seed(snow, 3)
    assert numbers(get(snow, "/api/now/table/incident", sysparm_query="ORDERBYDESCnumber")) == [
        "INC0010003", "INC0010002", "INC0010001"]


def test_fields_parameter_limits_the_answer_and_v2_path_works(snow: Snow) -> None:
    seed(snow, 1)
    rows = get(snow, "/api/now/v2/table/incident", sysparm_fields="number,state,nonsense").json()["result"]
    assert rows == [{"number": "INC0010001", "state": "1"}]


# ------------------------------------------------------------------------------------ writing


def test_create_update_delete_cycle(snow: Snow) -> None:
    session = api(snow)
    created = session.post(snow.url + "/api/now/table/incident", json={
        "short_description": "Made over the API", "priority": 2, "bogus_field": "ignored"}, timeout=5)
    assert created.status_code == 201
    record = created.json()["result"]
    assert record["priority"] == "2"
    assert record["sys_created_by"] == API_USER
    assert created.headers["Location"].endswith(record["sys_id"])
    snow.clock.advance(3)
    patched = session.patch(f"{snow.url}/api/now/table/incident/{record['sys_id']}", json={"urgency": "1"}, timeout=5)
    assert patched.status_code == 200
    after = patched.json()["result"]
    assert after["sys_mod_count"] == "1"
    assert after["sys_updated_by"] == API_USER
    assert after["sys_updated_on"] == "2026-01-05 09:00:13"
    same = session.put(f"{snow.url}/api/now/table/incident/{record['sys_id']}", json={"urgency": 1}, timeout=5)
    assert same.json()["result"]["sys_mod_count"] == "1"  # nothing changed: no update
    deleted = session.delete(f"{snow.url}/api/now/table/incident/{record['sys_id']}", timeout=5)
    assert deleted.status_code == 204
    gone = session.get(f"{snow.url}/api/now/table/incident/{record['sys_id']}", timeout=5)
    assert gone.status_code == 404
    assert gone.json() == {"error": {"message": "No Record found",
                                     "detail": "Record doesn't exist or ACL restricts the record retrieval"},
                           "status": "failure"}


def test_journal_fields_are_write_only_and_append_rows(snow: Snow) -> None:
    inc = snow.app.create_incident("Checkout fails")
    session = api(snow)
    url = f"{snow.url}/api/now/table/incident/{inc['sys_id']}"
    for _ in range(2):  # a repeated PATCH appends again: journals are not idempotent
        result = session.patch(url, json={"work_notes": "Looking into it"}, timeout=5).json()["result"]
        assert result["work_notes"] == ""
    assert result["sys_mod_count"] == "2"
    rows = get(snow, "/api/now/table/sys_journal_field", sysparm_query=f"element_id={inc['sys_id']}").json()["result"]
    assert len(rows) == 2
    assert {(r["element"], r["name"], r["value"], r["sys_created_by"]) for r in rows} == {
        ("work_notes", "incident", "Looking into it", API_USER)}
    shown = session.get(url, params={"sysparm_display_value": "true", "sysparm_fields": "work_notes"}, timeout=5)
    assert "Looking into it" in shown.json()["result"]["work_notes"]


def test_resolving_needs_close_fields_in_the_same_write(snow: Snow) -> None:
    inc = snow.app.create_incident("Checkout fails")
    session = api(snow)
    url = f"{snow.url}/api/now/table/incident/{inc['sys_id']}"
    refused = session.patch(url, json={"state": "6", "close_notes": "done"}, timeout=5)
    assert refused.status_code == 403
    body = refused.json()
    assert body["status"] == "failure"
    assert "Data Policy Exception" in body["error"]["detail"]
    assert "Resolution code" in body["error"]["detail"]
    assert snow.app.record("incident", inc["sys_id"])["state"] == "1"
    bad_code = session.patch(url, json={"state": "6", "close_code": "Fixed", "close_notes": "x"}, timeout=5)
    assert bad_code.status_code == 403
    for code in ("Solved (Permanently)", "Solution provided"):
        fresh = snow.app.create_incident("again")
        ok = session.patch(f"{snow.url}/api/now/table/incident/{fresh['sys_id']}",
                           json={"state": 6, "close_code": code, "close_notes": "Patched"}, timeout=5)
        assert ok.status_code == 200
        assert ok.json()["result"]["state"] == "6"
        assert ok.json()["result"]["resolved_at"]


def test_on_hold_needs_a_reason(snow: Snow) -> None:
    inc = snow.app.create_incident("Waiting")
    with pytest.raises(Refused, match="On hold reason"):
        snow.app.set_state("incident", inc["sys_id"], 3)
    held = snow.app.set_state("incident", inc["sys_id"], 3, hold_reason=1)
    assert (held["state"], held["hold_reason"]) == ("3", "1")


def test_change_model_ignores_skipped_steps(snow: Snow) -> None:
    chg = snow.app.create_change("Upgrade the database")
    assert chg["number"] == "CHG0030001"
    assert chg["state"] == "-5"
    session = api(snow)
    url = f"{snow.url}/api/now/table/change_request/{chg['sys_id']}"
    skipped = session.patch(url, json={"state": "3", "close_code": "successful", "close_notes": "x",
                                       "description": "still written"}, timeout=5)
    assert skipped.status_code == 200
    assert skipped.json()["result"]["state"] == "-5"
    assert skipped.json()["result"]["description"] == "still written"
    for state in ("-4", "-3", "-2", "-1", "0"):
        assert session.patch(url, json={"state": state}, timeout=5).json()["result"]["state"] == state
    refused = session.patch(url, json={"state": "3", "close_code": "Solved (Permanently)", "close_notes": "x"},
                            timeout=5)
    assert refused.status_code == 403
    closed = session.patch(url, json={"state": "3", "close_code": "successful", "close_notes": "went well"}, timeout=5)
    assert closed.json()["result"]["state"] == "3"
    assert closed.json()["result"]["active"] == "false"


def test_change_on_hold_is_a_flag_with_a_reason(snow: Snow) -> None:
    chg = snow.app.create_change("Patch")
    snow.app.set_state("change_request", chg["sys_id"], -4)
    with pytest.raises(Refused):
        snow.app.edit("change_request", chg["sys_id"], on_hold=True)
    held = snow.app.edit("change_request", chg["sys_id"], on_hold=True, on_hold_reason="awaiting_info")
    assert (held["state"], held["on_hold"]) == ("-4", "true")


# ------------------------------------------------------------------------------------ errors


def test_authentication(snow: Snow) -> None:
    anonymous = requests.get(snow.url + "/api/now/table/incident", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == {"message": "User Not Authenticated",
                                         "detail": "Required to provide Auth information"}
    wrong = requests.get(snow.url + "/api/now/table/incident", auth=(API_USER, "nope"), timeout=5)
    assert wrong.status_code == 401
    bearer = requests.get(snow.url + "/api/now/table/incident",
                          headers={"Authorization": f"Bearer {OAUTH_TOKEN}"}, timeout=5)
    assert bearer.status_code == 200


def test_invalid_table_and_bad_json(snow: Snow) -> None:
    response = get(snow, "/api/now/table/foo")
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Invalid table foo", "detail": None}, "status": "failure"}
    bad = api(snow).post(snow.url + "/api/now/table/incident", data=b"{nope",
                         headers={"Content-Type": "application/json"}, timeout=5)
    assert bad.status_code == 400
    assert bad.json()["status"] == "failure"


def test_rate_limit_answers_429_with_vendor_headers(snow: Snow) -> None:
    snow.app.rate_limiter.configure(limit=None, burst_429=1)
    refused = get(snow, "/api/now/table/incident")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Rule"} <= set(refused.headers)
    assert refused.json()["status"] == "failure"
    assert get(snow, "/api/now/table/incident").status_code == 200


def test_journal_table_acl(snow: Snow) -> None:
    snow.app.set_acl(journal_readable=False)
    denied = get(snow, "/api/now/table/sys_journal_field")
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "User Not Authorized"


# ------------------------------------------------------------------------------------ scripting


def test_admin_http_scripting(snow: Snow) -> None:
    admin = requests.Session()
    made = admin.post(snow.url + "/_sandbox/servicenow/incidents", json={
        "short_description": "Login broken", "priority": 1, "author": "Sam Support"}, timeout=5)
    assert made.status_code == 201
    inc = made.json()["result"]
    assert inc["sys_created_by"] == "sam.support"
    noted = admin.post(f"{snow.url}/_sandbox/servicenow/incident/{inc['sys_id']}/journal",
                       json={"element": "comments", "text": "We are on it", "author": "Sam Support"}, timeout=5)
    assert noted.status_code == 201
    refused = admin.post(f"{snow.url}/_sandbox/servicenow/incident/{inc['sys_id']}/state",
                         json={"state": 6, "author": "Sam Support"}, timeout=5)
    assert refused.status_code == 403
    resolved = admin.post(f"{snow.url}/_sandbox/servicenow/incident/{inc['sys_id']}/state", json={
        "state": 6, "fields": {"close_code": "Solution provided", "close_notes": "Reset"}}, timeout=5)
    assert resolved.json()["result"]["state"] == "6"
    journal = admin.get(f"{snow.url}/_sandbox/servicenow/incident/{inc['sys_id']}/journal", timeout=5).json()
    assert [(j["element"], j["value"], j["sys_created_by"]) for j in journal["result"]] == [
        ("comments", "We are on it", "sam.support")]
    edited = admin.patch(f"{snow.url}/_sandbox/servicenow/incident/{inc['number']}",
                         json={"description": "more", "author": "Carol Caller"}, timeout=5)
    assert edited.json()["result"]["sys_updated_by"] == "carol.caller"


def test_state_persists_in_the_state_dir(tmp_path: Path) -> None:
    first = ServiceNowSandbox(state_dir=tmp_path)
    inc = first.create_incident("Persisted")
    first.add_work_note("incident", inc["sys_id"], "kept too")
    second = ServiceNowSandbox(state_dir=tmp_path)
    assert second.record("incident", inc["number"])["short_description"] == "Persisted"
    assert [j["value"] for j in second.journal("incident", inc["sys_id"])] == ["kept too"]
    assert second.create_incident("Next")["number"] == "INC0010002"
    assert json.loads((tmp_path / "servicenow.json").read_text())["counters"]["incident"] == 10002


def test_runs_as_a_subprocess(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.sandbox.servicenow", "--port", "0", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        made = requests.post(url + "/_sandbox/servicenow/incidents", json={"short_description": "x"}, timeout=5)
        assert made.status_code == 201
        listed = requests.get(url + "/api/now/table/incident", auth=(API_USER, API_PASSWORD), timeout=5)
        assert [r["short_description"] for r in listed.json()["result"]] == ["x"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert (tmp_path / "servicenow.json").exists()


def test_latency_knob_delays_api_calls() -> None:
    with running_sandbox() as env:
        env.app.latency = 0.3
        with pytest.raises(requests.ReadTimeout):
            requests.get(env.url + "/api/now/table/incident", auth=(API_USER, API_PASSWORD), timeout=(2, 0.05))


def test_server_binds_loopback_only() -> None:
    server = SandboxServer(ServiceNowSandbox(clock=ManualClock()))
    try:
        assert server.httpd.server_address[0] == "127.0.0.1"
    finally:
        server.httpd.server_close()
