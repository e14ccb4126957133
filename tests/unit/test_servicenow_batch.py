"""ServiceNow's Batch API: the sandbox endpoint as the vendor documents it, the connector's fold of the
change search and the journal read into one call (and its fallbacks: never a lost comment), and
``get_many`` in one query (docs/connectors/servicenow.md, "Batch API")."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from bridge.connectors.servicenow import ServiceNowConnector
from bridge.errors import PermanentError
from bridge.mapping.schema import Mapping
from bridge.model import Ref, Side
from bridge.sandbox.servicenow import API_PASSWORD, API_USER
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow

AUTH = (API_USER, API_PASSWORD)
MAPPING = Mapping.model_validate({
    "name": "incidents",
    "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
})


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


def batch(env: Snow, items: list[dict[str, Any]], path: str = "/api/now/v1/batch") -> requests.Response:
    return requests.post(env.url + path, auth=AUTH, json={"batch_request_id": "b1", "rest_requests": items},
                         timeout=10)


def get_item(item_id: str, url: str) -> dict[str, Any]:
    return {"id": item_id, "method": "GET", "url": url, "headers": [{"name": "Accept", "value": "application/json"}]}


def decoded(item: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(item["body"]))


def calls(connector: ServiceNowConnector) -> dict[str, int]:
    return connector.calls.snapshot()


# ----------------------------------------------------------------------------------- the sandbox


def test_batch_answers_each_item_with_its_own_status_and_a_base64_body(snow: Snow) -> None:
    made = snow.app.create_incident("Printer on fire", category="software")
    body = base64.b64encode(json.dumps({"short_description": "Made in a batch"}).encode()).decode()
    response = batch(snow, [
        get_item("read", f"/api/now/table/incident/{made['sys_id']}?sysparm_fields=number"),
        get_item("bad", "/api/now/table/no_such_table"),
        {"id": "make", "method": "POST", "url": "/api/now/table/incident", "body": body,
         "headers": [{"name": "Content-Type", "value": "application/json"}], "exclude_response_headers": True},
    ])
    assert response.status_code == 200
    answer = response.json()
    assert answer["batch_request_id"] == "b1"
    assert answer["unserviced_requests"] == []
    by_id = {item["id"]: item for item in answer["serviced_requests"]}
    assert (by_id["read"]["status_code"], by_id["read"]["status_text"]) == (200, "OK")
    assert decoded(by_id["read"]) == {"result": {"number": made["number"]}}
    assert by_id["bad"]["status_code"] == 400
    assert "Invalid table" in by_id["bad"]["error_message"]
    assert by_id["make"]["status_code"] == 201
    assert by_id["make"]["headers"] == []
    assert decoded(by_id["make"])["result"]["short_description"] == "Made in a batch"
    assert isinstance(by_id["read"]["execution_time"], int)
    assert {"name": "Content-Type", "value": "application/json;charset=UTF-8"} in by_id["read"]["headers"]


def test_batch_needs_its_version_segment_and_counts_as_one_request(snow: Snow) -> None:
    before = requests.get(snow.url + "/_sandbox/stats", timeout=10).json()["requests"]
    assert batch(snow, [get_item("a", "/api/now/table/sys_user?sysparm_limit=1")], "/api/now/batch").status_code == 400
    ok = batch(snow, [get_item("a", "/api/now/table/sys_user?sysparm_limit=1"),
                      get_item("b", "/api/now/table/incident?sysparm_limit=1")], "/api/now/v2/batch")
    assert ok.status_code == 200
    assert len(ok.json()["serviced_requests"]) == 2
    assert requests.get(snow.url + "/_sandbox/stats", timeout=10).json()["requests"] == before + 2


def test_acls_and_rate_limits_apply_per_item(snow: Snow) -> None:
    made = snow.app.create_incident("Hidden", category="software")
    snow.app.set_acl(hidden=[made["sys_id"]], journal_readable=False)
    answer = batch(snow, [get_item("record", f"/api/now/table/incident/{made['sys_id']}"),
                          get_item("journal", "/api/now/table/sys_journal_field?sysparm_limit=1")]).json()
    statuses = {i["id"]: i["status_code"] for i in answer["serviced_requests"]}
    assert statuses == {"record": 404, "journal": 403}
    snow.app.rate_limiter.configure(limit=2, window=60)  # the batch call itself, then its first item
    answer = batch(snow, [get_item("one", "/api/now/table/sys_user?sysparm_limit=1"),
                          get_item("two", "/api/now/table/sys_user?sysparm_limit=1")]).json()
    second = answer["serviced_requests"][1]
    assert [i["status_code"] for i in answer["serviced_requests"]] == [200, 429]
    assert {h["name"] for h in second["headers"]} >= {"Retry-After", "X-RateLimit-Rule"}


def test_items_past_the_time_limit_come_back_unserviced(snow: Snow) -> None:
    ticks = iter(range(100))
    snow.app.batch_clock = lambda: float(next(ticks))
    snow.app.batch_time_limit = 2.0  # the first item starts at 1 s, the second at 2 s: past the limit
    answer = batch(snow, [get_item(str(n), "/api/now/table/sys_user?sysparm_limit=1") for n in range(3)]).json()
    assert [i["id"] for i in answer["serviced_requests"]] == ["0"]
    assert answer["unserviced_requests"] == ["1", "2"]


def test_malformed_batches_are_refused(snow: Snow) -> None:
    assert batch(snow, [{"id": "x", "method": "GET"}]).status_code == 400  # no url
    answer = batch(snow, [{"id": "x", "method": "POST", "url": "/api/now/table/incident", "body": "!!not base64"}])
    assert answer.json()["serviced_requests"][0]["status_code"] == 400


# ------------------------------------------------------------------------------ the connector's fold


def _changed_incident(env: Snow, text: str = "Crash") -> dict[str, str]:
    made = env.app.create_incident(text, category="software")
    env.clock.advance(1)
    return made


def _ref(connector: ServiceNowConnector, row: dict[str, str]) -> Ref:
    return Ref(Side.ITSM, "incident", row["sys_id"], row["number"], f"{connector.base_url}/incident.do")


def test_the_search_and_the_journal_of_its_window_are_one_call(snow: Snow) -> None:
    old = _changed_incident(snow, "Old")
    snow.app.add_work_note("incident", old["sys_id"], "Before the window")
    snow.clock.advance(120)
    since = snow.clock.now
    snow.app.add_work_note("incident", old["sys_id"], "Inside the window")
    new = _changed_incident(snow, "New")
    snow.app.add_customer_comment("incident", new["sys_id"], "Customer says hi")
    connector = make_connector(snow.url)
    items = list(connector.search_changed(MAPPING, since, ["short_description"]))
    assert {i.ref.id for i in items} == {old["sys_id"], new["sys_id"]}
    assert calls(connector) == {"POST /api/now/v1/batch": 1}
    linked = connector.comments_since([_ref(connector, old)], since)
    history = connector.comments_since([_ref(connector, new)], None)  # created within the window: covered
    assert [c.body for c in linked[old["sys_id"]]] == ["Inside the window"]
    assert [(c.body, c.channel) for c in history[new["sys_id"]]] == [("Customer says hi", "comments")]
    assert sum(calls(connector).values()) <= 2  # the batch, and at most the authors' names (sys_user)
    assert not any("sys_journal_field" in endpoint for endpoint in calls(connector))


def test_an_idle_search_is_one_call(snow: Snow) -> None:
    _changed_incident(snow)
    snow.clock.advance(300)
    connector = make_connector(snow.url)
    assert list(connector.search_changed(MAPPING, snow.clock.now, ["short_description"])) == []
    assert calls(connector) == {"POST /api/now/v1/batch": 1}


def test_what_the_fold_does_not_cover_is_read_as_before(snow: Snow) -> None:
    old = _changed_incident(snow, "Created before the window")
    snow.app.add_work_note("incident", old["sys_id"], "Older entry")
    snow.clock.advance(120)
    since = snow.clock.now
    snow.app.edit("incident", old["sys_id"], priority=2)
    connector = make_connector(snow.url)
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    # the whole history of a record created before the window: the fold cannot know it, the journal is read
    history = connector.comments_since([_ref(connector, old)], None)
    assert [c.body for c in history[old["sys_id"]]] == ["Older entry"]
    assert calls(connector).get("GET /api/now/table/sys_journal_field") == 1


def test_a_full_journal_page_falls_back_to_the_read_by_record(snow: Snow) -> None:
    since = snow.clock.now
    made = _changed_incident(snow)
    other = snow.app.create_incident("Not in the route", category="hardware")
    for n in range(3):
        snow.app.add_work_note("incident", other["sys_id"], f"Noise {n}")
        snow.clock.advance(1)
    snow.app.add_work_note("incident", made["sys_id"], "Must not be lost")
    connector = make_connector(snow.url, page_size=2)  # the window's journal does not fit one page
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    found = connector.comments_since([_ref(connector, made)], since)
    assert [c.body for c in found[made["sys_id"]]] == ["Must not be lost"]
    assert calls(connector).get("GET /api/now/table/sys_journal_field") == 1


def test_an_instance_without_the_batch_api_gets_two_calls_and_is_not_asked_again(snow: Snow) -> None:
    snow.app.batch_enabled = False
    since = snow.clock.now
    made = _changed_incident(snow)
    snow.app.add_work_note("incident", made["sys_id"], "Still read")
    connector = make_connector(snow.url)
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    assert [c.body for c in connector.comments_since([_ref(connector, made)], since)[made["sys_id"]]] == ["Still read"]
    assert not connector.batch_api
    first = calls(connector)
    assert first["POST /api/now/v1/batch"] == 1
    assert first["GET /api/now/table/sys_journal_field"] == 1
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    assert calls(connector)["POST /api/now/v1/batch"] == 1  # remembered: the search went on its own
    assert any(r.ok and "Batch API not used" in r.what for r in connector.check([MAPPING]))


def test_doctor_says_whether_the_batch_api_is_there(snow: Snow) -> None:
    results = make_connector(snow.url).check([MAPPING])
    assert any(r.ok and "Batch API available" in r.what for r in results)
    snow.app.batch_enabled = False
    connector = make_connector(snow.url)
    assert any(r.ok and "Batch API not available" in r.what for r in connector.check([MAPPING]))
    assert not connector.batch_api


def test_the_setting_turns_the_fold_off(snow: Snow) -> None:
    connector = make_connector(snow.url, batch_api=False)
    list(connector.search_changed(MAPPING, snow.clock.now, ["short_description"]))
    assert calls(connector) == {"GET /api/now/table/incident": 1}


def test_unserviced_or_refused_items_are_sent_on_their_own(snow: Snow) -> None:
    since = snow.clock.now
    made = _changed_incident(snow)
    snow.app.add_work_note("incident", made["sys_id"], "Kept")
    snow.app.batch_time_limit = 0.0  # nothing in the batch is serviced
    connector = make_connector(snow.url)
    assert [i.ref.id for i in connector.search_changed(MAPPING, since, ["short_description"])] == [made["sys_id"]]
    assert [c.body for c in connector.comments_since([_ref(connector, made)], since)[made["sys_id"]]] == ["Kept"]
    assert connector.batch_api  # the API exists; this batch ran out of time
    snow.app.batch_time_limit = 30.0
    snow.app.set_acl(journal_readable=False)  # the journal item is refused: the read refuses as it always did
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    with pytest.raises(PermanentError):
        connector.comments_since([_ref(connector, made)], since)


def test_the_fold_is_retired_by_any_other_request(snow: Snow) -> None:
    since = snow.clock.now
    made = _changed_incident(snow)
    connector = make_connector(snow.url)
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    snow.clock.advance(5)
    snow.app.add_work_note("incident", made["sys_id"], "Written after the search")
    connector.get(_ref(connector, made), ["short_description"])  # e.g. a hinted read: the snapshot is old now
    found = connector.comments_since([_ref(connector, made)], since)
    assert [c.body for c in found[made["sys_id"]]] == ["Written after the search"]


def test_each_record_is_answered_from_the_fold_once(snow: Snow) -> None:
    since = snow.clock.now
    made = _changed_incident(snow)
    connector = make_connector(snow.url)
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    assert connector.comments_since([_ref(connector, made)], since)[made["sys_id"]] == []
    snow.app.add_work_note("incident", made["sys_id"], "Later")
    again = connector.comments_since([_ref(connector, made)], since - timedelta(seconds=1))
    assert [c.body for c in again[made["sys_id"]]] == ["Later"]


# ----------------------------------------------------------------------------------------- get_many


def test_get_many_reads_several_records_in_one_query(snow: Snow) -> None:
    made = [_changed_incident(snow, f"Incident {n}") for n in range(3)]
    connector = make_connector(snow.url, max_ids_per_query=2)
    refs = [_ref(connector, r) for r in reversed(made)]
    gone = Ref(Side.ITSM, "incident", "0" * 32, "INC9999999", "")
    items = connector.get_many([*refs, gone, refs[0]], ["short_description"])
    assert [i.ref.id for i in items] == [r.id for r in refs]
    assert [i.fields["short_description"] for i in items] == ["Incident 2", "Incident 1", "Incident 0"]
    assert calls(connector) == {"GET /api/now/table/incident": 2}  # two ids per query: 4 ids, 2 queries


def test_a_read_the_fold_cannot_answer_leaves_it_for_the_next(snow: Snow) -> None:
    old = _changed_incident(snow, "Created before the window")
    snow.clock.advance(120)
    since = snow.clock.now
    snow.app.edit("incident", old["sys_id"], priority=2)
    new = _changed_incident(snow, "New")
    snow.app.add_work_note("incident", new["sys_id"], "From the fold")
    connector = make_connector(snow.url)
    list(connector.search_changed(MAPPING, since, ["short_description"]))
    connector.comments_since([_ref(connector, old)], None)  # its whole history: read by record
    found = connector.comments_since([_ref(connector, new)], None)
    assert [c.body for c in found[new["sys_id"]]] == ["From the fold"]
    assert calls(connector).get("GET /api/now/table/sys_journal_field") == 1
