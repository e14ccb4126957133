"""The ServiceNow connector's parsing and request shapes, with ``responses`` standing in for an instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from pydantic import SecretStr

from bridge.connectors.http import HttpOptions
from bridge.connectors.servicenow import ServiceNowConnector, parse_time, sn_message, trailing_marker
from bridge.errors import AuthError, ConfigError, NotFoundError, PermanentError, RateLimitedError, TransientError
from bridge.mapping.schema import Mapping
from bridge.model import Marker, Ref, Side
from tests.fixtures.servicenow import SleepRecorder

BASE = "https://acme.service-now.com"
TABLE = f"{BASE}/api/now/table/incident"
JOURNAL = f"{BASE}/api/now/table/sys_journal_field"
SYS_ID = "9d385017c611228701d22104cc95c371"


def connector(sleep: SleepRecorder | None = None, **kwargs: Any) -> ServiceNowConnector:
    # the Table API's request shapes, one call each; the Batch API fold has tests of its own
    # (tests/unit/test_servicenow_batch.py)
    kwargs.setdefault("batch_api", False)
    return ServiceNowConnector(
        BASE, user="svc.bridge", password=SecretStr("pw-secret"), sleep=sleep or SleepRecorder(),
        options=HttpOptions(base_url=BASE, requests_per_second=1000, burst=1000, max_attempts=3), **kwargs)


MAPPING = Mapping.model_validate({
    "name": "m", "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
})


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {"sys_id": f"{n:032x}", "number": f"INC{n:07d}", "state": "2", "sys_updated_on": "2026-01-05 09:00:10",
            "sys_mod_count": "4", "sys_updated_by": "sam.support", "category": "software",
            "short_description": f"Row {n}", "correlation_id": "", "correlation_display": "", **extra}


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query, keep_blank_values=True).items()}


@responses.activate
def test_search_parses_all_string_records() -> None:
    responses.get(TABLE, json={"result": [row(1, priority="1", correlation_id="OPS-9",
                                              assigned_to={"link": f"{BASE}/api/now/table/sys_user/abc",
                                                           "value": "abc"})]},
                  headers={"X-Total-Count": "1"})
    (item,) = connector().search_changed(MAPPING, None, ["short_description", "priority", "assigned_to"])
    assert item.ref == Ref(Side.ITSM, "incident", f"{1:032x}", "INC0000001", f"{BASE}/incident.do?sys_id={1:032x}")
    assert dict(item.fields) == {"short_description": "Row 1", "priority": "1", "assigned_to": "abc"}
    assert (item.status, item.version, item.updated_by, item.back_reference) == ("2", "4", "sam.support", "OPS-9")
    assert item.updated == datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)


@responses.activate
def test_search_request_shape() -> None:
    responses.get(TABLE, json={"result": []}, headers={"X-Total-Count": "0"})
    since = datetime(2026, 1, 5, 10, 0, 59, 999999, tzinfo=UTC)
    assert list(connector(page_size=50).search_changed(MAPPING, since, ["short_description"])) == []
    params = query(responses.calls[0])
    assert params["sysparm_query"] == ("category=software^sys_updated_on>=2026-01-05 10:00:59"
                                       "^NQcorrelation_idISNOTEMPTY^sys_updated_on>=2026-01-05 10:00:59"
                                       "^ORDERBYsys_updated_on^ORDERBYsys_id")
    assert params["sysparm_fields"].split(",") == [
        "sys_id", "number", "state", "sys_updated_on", "sys_mod_count", "sys_updated_by", "short_description",
        "category", "correlation_id", "correlation_display"]
    assert (params["sysparm_limit"], params["sysparm_offset"]) == ("50", "0")
    assert (params["sysparm_display_value"], params["sysparm_exclude_reference_link"]) == ("false", "true")
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_pagination_follows_the_total_not_the_page_length() -> None:
    responses.get(TABLE, json={"result": [row(1)]}, headers={"X-Total-Count": "7"})  # ACL-short
    responses.get(TABLE, json={"result": []}, headers={"X-Total-Count": "6"})  # ACL-empty: 6 after row 1
    responses.get(TABLE, json={"result": [row(7), row(1)]}, headers={"X-Total-Count": "6"})  # duplicate row 1
    items = list(connector(page_size=3).search_changed(MAPPING, None, []))
    assert [i.ref.key for i in items] == ["INC0000001", "INC0000007"]
    # keyset paging: after row 1 the query restarts past it; the empty page is stepped over by offset
    assert [query(c)["sysparm_offset"] for c in responses.calls] == ["0", "0", "3"]
    assert f"sys_id>{1:032x}" in query(responses.calls[1])["sysparm_query"]


@responses.activate
def test_keyset_paging_restarts_after_the_last_row_read() -> None:
    responses.get(TABLE, json={"result": [row(1), row(2)]}, headers={"X-Total-Count": "3"})
    responses.get(TABLE, json={"result": [row(3)]}, headers={"X-Total-Count": "1"})
    items = list(connector(page_size=2).search_changed(MAPPING, None, []))
    assert [i.ref.key for i in items] == ["INC0000001", "INC0000002", "INC0000003"]
    second = query(responses.calls[1])
    assert second["sysparm_offset"] == "0"
    stamp = row(2)["sys_updated_on"]
    assert second["sysparm_query"] == (
        f"category=software^sys_updated_on>{stamp}^NQcategory=software^sys_updated_on={stamp}^sys_id>{2:032x}"
        f"^NQcorrelation_idISNOTEMPTY^sys_updated_on>{stamp}"
        f"^NQcorrelation_idISNOTEMPTY^sys_updated_on={stamp}^sys_id>{2:032x}"
        "^ORDERBYsys_updated_on^ORDERBYsys_id"
    )


@responses.activate
def test_pagination_without_a_count_follows_the_link_header() -> None:
    link = f'<{TABLE}?sysparm_offset=2&sysparm_limit=2>;rel="next"'
    responses.get(TABLE, json={"result": [row(1)]}, headers={"Link": link})
    responses.get(TABLE, json={"result": [row(2)]}, headers={"Link": link})
    responses.get(TABLE, json={"result": []})
    assert len(list(connector(page_size=2).search_changed(MAPPING, None, []))) == 2
    assert len(responses.calls) == 3


@responses.activate
def test_records_outside_the_route_are_filtered_locally() -> None:
    responses.get(TABLE, json={"result": [row(1), row(2, category="Software"), row(3, category="")]},
                  headers={"X-Total-Count": "3"})
    assert [i.ref.key for i in connector().search_changed(MAPPING, None, [])] == ["INC0000001"]


def test_parse_time_and_the_marker_line() -> None:
    assert parse_time("2026-02-03 04:05:06") == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert trailing_marker("text\n\n[bridge:jira:10001]") == Marker(Side.JIRA, "10001")
    assert trailing_marker("text [bridge:jira:10001] more") is None
    assert trailing_marker("") is None


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
               "status": "failure"}, AuthError, "User Not Authenticated: Required to provide Auth information"),
        (404, {"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record "
                         "retrieval"}, "status": "failure"}, NotFoundError,
         "No Record found: Record doesn't exist or ACL restricts the record retrieval"),
        (400, {"error": {"message": "Invalid table foo", "detail": None}, "status": "failure"}, PermanentError,
         "Invalid table foo"),
        (403, {"error": {"message": "Operation Failed", "detail": "Data Policy Exception: \n\tThe following fields "
                         "are mandatory: Resolution code\n"}, "status": "failure"}, PermanentError,
         "Operation Failed: Data Policy Exception: The following fields are mandatory: Resolution code"),
    ],
)
def test_error_envelope_becomes_a_typed_error(status: int, body: dict[str, Any], error: type[Exception],
                                              text: str) -> None:
    responses.get(f"{TABLE}/{SYS_ID}", status=status, json=body)
    with pytest.raises(error) as caught:
        connector().get(Ref(Side.ITSM, "incident", SYS_ID, "INC1"), [])
    assert caught.value.vendor_message == text  # type: ignore[attr-defined]
    assert "pw-secret" not in str(caught.value)
    assert len(responses.calls) == 1


@responses.activate
def test_html_error_pages_do_not_break_parsing() -> None:
    responses.get(f"{TABLE}/{SYS_ID}", status=502, body="<html>Bad gateway</html>")
    with pytest.raises(TransientError):
        connector().get(Ref(Side.ITSM, "incident", SYS_ID, "INC1"), [])
    assert len(responses.calls) == 3


def test_sn_message_refuses_foreign_shapes() -> None:
    class Fake:
        def json(self) -> Any:
            return {"message": "not servicenow"}

    with pytest.raises(ValueError, match="envelope"):
        sn_message(Fake())  # type: ignore[arg-type]


@responses.activate
def test_429_retry_after_is_honoured_and_bounded() -> None:
    sleep = SleepRecorder()
    headers = {"Retry-After": "2", "X-RateLimit-Limit": "1000", "X-RateLimit-Reset": "1767603600",
               "X-RateLimit-Rule": "d5a3b7c1"}
    responses.get(TABLE, status=429, headers=headers,
                  json={"error": {"message": "Too Many Requests", "detail": None}, "status": "failure"})
    with pytest.raises(RateLimitedError) as caught:
        list(connector(sleep).search_changed(MAPPING, None, []))
    assert caught.value.retry_after == 2.0
    assert len(responses.calls) == 3
    assert len(sleep.waits) == 2
    assert all(2.0 <= w <= 2.2 for w in sleep.waits)


@responses.activate
def test_comments_since_is_one_query_for_all_records() -> None:
    a, b = f"{1:032x}", f"{2:032x}"
    responses.get(JOURNAL, json={"result": [
        {"sys_id": "j1", "element": "comments", "element_id": a, "name": "incident", "value": "Hello",
         "sys_created_on": "2026-01-05 09:00:11", "sys_created_by": "carol.caller"},
        {"sys_id": "j2", "element": "work_notes", "element_id": a, "name": "incident",
         "value": "Fixed\n\n[bridge:jira:10001]", "sys_created_on": "2026-01-05 09:00:12",
         "sys_created_by": "svc.bridge"},
    ]}, headers={"X-Total-Count": "2"})
    responses.get(f"{BASE}/api/now/table/sys_user", json={"result": [
        {"sys_id": "u1", "user_name": "carol.caller", "name": "Carol Caller"}]}, headers={"X-Total-Count": "1"})
    refs = [Ref(Side.ITSM, "incident", a, "INC1"), Ref(Side.ITSM, "incident", b, "INC2")]
    got = connector().comments_since(refs, datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC))
    assert got[b] == []
    hello, fixed = got[a]
    assert (hello.author, hello.channel, hello.internal, hello.body, hello.marker) == (
        "Carol Caller", "comments", False, "Hello", None)
    assert (fixed.author, fixed.internal, fixed.body, fixed.marker) == (
        "svc.bridge", True, "Fixed", Marker(Side.JIRA, "10001"))
    params = query(responses.calls[0])
    assert params["sysparm_query"] == (f"element_idIN{a},{b}^elementINcomments,work_notes"
                                       "^sys_created_on>=2026-01-05 09:00:00^ORDERBYsys_created_on^ORDERBYsys_id")


@responses.activate
def test_add_comment_is_one_non_retried_patch_and_its_id_is_the_one_every_read_gives_the_entry() -> None:
    """No journal lookup after the PATCH: the entry bridge wrote is named from its marker, the same way
    by add_comment, comments_since and find_comment_by_marker."""
    responses.patch(f"{TABLE}/{SYS_ID}", status=503)
    ref = Ref(Side.ITSM, "incident", SYS_ID, "INC1")
    with pytest.raises(TransientError):
        connector().add_comment(ref, "Body", channel="work_notes", marker=Marker(Side.JIRA, "5"))
    assert len(responses.calls) == 1
    responses.replace(responses.PATCH, f"{TABLE}/{SYS_ID}",
                      json={"result": {"sys_id": SYS_ID, "sys_mod_count": "5"}})
    comment = connector().add_comment(ref, "Body", channel="work_notes", marker=Marker(Side.JIRA, "5"))
    assert len(responses.calls) == 2  # the PATCH only
    assert responses.calls[1].request.body == b'{"work_notes": "Body\\n\\n[bridge:jira:5]"}'
    journal_row = {"sys_id": "j9", "element": "work_notes", "element_id": SYS_ID, "value": "Body\n\n[bridge:jira:5]",
                   "sys_created_on": "2026-01-05 09:00:12", "sys_created_by": "svc.bridge"}
    responses.get(JOURNAL, json={"result": [journal_row]}, headers={"X-Total-Count": "1"})
    responses.get(f"{BASE}/api/now/table/sys_user", json={"result": []}, headers={"X-Total-Count": "0"})
    reader = connector()
    assert [c.id for c in reader.comments_since([ref], None)[SYS_ID]] == [comment.id]
    found = reader.find_comment_by_marker(ref, Marker(Side.JIRA, "5"))
    assert found is not None
    assert found.id == comment.id
    assert any("valueLIKE[bridge:jira:5]" in query(c).get("sysparm_query", "") for c in responses.calls[2:])


@responses.activate
def test_set_status_detects_a_quiet_refusal() -> None:
    responses.patch(f"{TABLE}/{SYS_ID}", json={"result": {"sys_id": SYS_ID, "state": "2", "sys_mod_count": "3"}})
    with pytest.raises(PermanentError, match="did not apply state 6"):
        connector().set_status(Ref(Side.ITSM, "incident", SYS_ID, "INC1"), "6",
                               {"close_code": "Solution provided", "close_notes": "x"})
    assert responses.calls[0].request.body == (
        b'{"close_code": "Solution provided", "close_notes": "x", "state": "6"}')


def test_credentials_are_required_and_exclusive() -> None:
    with pytest.raises(ConfigError):
        ServiceNowConnector(BASE)
    with pytest.raises(ConfigError):
        ServiceNowConnector(BASE, user="u", password=SecretStr("p"), token=SecretStr("t"))


@responses.activate
def test_a_patch_proves_it_was_the_only_change_when_sys_mod_count_moved_by_one() -> None:
    """The executor records that version, so the next cycle does not read bridge's own echo."""
    ref = Ref(Side.ITSM, "incident", SYS_ID, "INC1")
    responses.patch(f"{TABLE}/{SYS_ID}", json={"result": {
        "sys_id": SYS_ID, "sys_mod_count": "8", "sys_updated_on": "2026-01-05 09:00:12"}})
    sn = connector()
    sn.update_fields(ref, {"priority": "2"})
    assert "sys_updated_on" in query(responses.calls[0])["sysparm_fields"]
    assert sn.written_version(ref, "7") == ("8", datetime(2026, 1, 5, 9, 0, 12, tzinfo=UTC))
    assert sn.written_version(ref, "7") is None  # asked once per write
    sn.update_fields(ref, {"priority": "2"})
    assert sn.written_version(ref, "6") is None  # someone else wrote in between: the echo is read
    sn.update_fields(ref, {"priority": "2"})
    assert sn.written_version(ref, "") is None
