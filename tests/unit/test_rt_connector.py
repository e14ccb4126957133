"""RTConnector's parsing and RT's traps, one connector over ``responses`` (answers copied from RT 5.0.3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from pydantic import SecretStr

from bridge.connectors import own_account
from bridge.connectors.http import HttpOptions
from bridge.connectors.rt import RTConnector
from bridge.connectors.rt_parse import (
    custom_field_values,
    failed_messages,
    next_page,
    normalise_value,
    parse_datetime,
    status_changed,
    ticket_id,
)
from bridge.errors import AuthError, ConfigError, MergedError, NotFoundError, PermanentError, WorkflowError
from bridge.mapping.schema import Mapping
from bridge.model import Marker, Ref, Side

ROOT = "https://rt.example.test/rt"
REST = f"{ROOT}/REST/2.0"
TOKEN = "1-14-7e07df662e9f034cc7c644498e976592"
MAPPING = Mapping.model_validate(
    {
        "name": "rt-unit",
        "route": {"record_type": "Incidents", "where": {"field": "CF.{Severity}", "equals": "high"}},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "links": {"itsm_key_field": "CF.{Jira Key}", "itsm_url_field": "CF.{Jira URL}"},
    }
)
REF = Ref(Side.ITSM, "Incidents", "7", "RT#7")


def connector(**kwargs: Any) -> RTConnector:
    options = HttpOptions(base_url="ignored", max_attempts=2, backoff_base=0.0, requests_per_second=1000, burst=1000)
    return RTConnector(ROOT, token=SecretStr(TOKEN), options=options, timezone="Europe/Berlin",
                       bridge_user="bridge", **kwargs)


def ticket(rt_id: str, *, updated: str = "2026-11-23T13:21:09Z", severity: str = "high", key: str | None = None,
           status: str = "new") -> dict[str, Any]:
    return {
        "id": rt_id,
        "type": "ticket",
        "_url": f"{REST}/ticket/{rt_id}",
        "Subject": f"Ticket {rt_id}",
        "Status": status,
        "Queue": {"id": "3", "Name": "Incidents", "type": "queue", "_url": f"{REST}/queue/3"},
        "Owner": {"id": "Nobody", "type": "user", "_url": f"{REST}/user/Nobody"},
        "LastUpdated": updated,
        "LastUpdatedBy": {"id": "agent", "type": "user", "_url": f"{REST}/user/agent"},
        "Due": "1970-01-01T00:00:00Z",
        "Priority": "5",
        "Requestor": [{"id": "b@example.test", "type": "user"}, {"id": "a@example.test", "type": "user"}],
        "CustomFields": [
            {"id": "4", "name": "Severity", "type": "customfield", "values": [severity]},
            {"id": "2", "name": "Jira Key", "type": "customfield", "values": [key] if key else []},
        ],
    }


def page(items: list[dict[str, Any]], *, page_no: int = 1, pages: Any = 1, per_page: int = 100,
         next_url: str | None = None, total: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"count": len(items), "page": page_no, "per_page": per_page, "pages": pages,
                            "total": len(items) if total is None else total, "items": items}
    if next_url:
        body["next_page"] = next_url
    return body


def live(rt_id: str = "7", **kwargs: Any) -> None:
    """RT's answer to the check before every write: ``GET /ticket/{id}`` of the live ticket itself."""
    responses.get(f"{REST}/ticket/{rt_id}", json={**ticket(rt_id, **kwargs), "EffectiveId": {
        "id": rt_id, "type": "ticket", "_url": f"{REST}/ticket/{rt_id}"}})


def query_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


# ------------------------------------------------------------------------------------------ parsing


def test_ids_are_strings_whatever_rt_sends() -> None:
    assert ticket_id("33") == ticket_id(33) == ticket_id(33.0) == "33"
    for bad in (None, True, "x", "1 OR 1=1"):
        with pytest.raises(ValueError, match="not an RT id"):
            ticket_id(bad)


def test_dates_and_the_never_set_epoch() -> None:
    assert parse_datetime("2026-11-23T13:21:09Z") == datetime(2026, 11, 23, 13, 21, 9, tzinfo=UTC)
    assert parse_datetime("1970-01-01T00:00:00Z") is None
    assert normalise_value("1970-01-01T00:00:00Z") is None


def test_users_queues_and_role_lists_become_names() -> None:
    assert normalise_value({"id": "root", "type": "user"}) == "root"
    assert normalise_value({"id": "3", "Name": "Incidents"}) == "Incidents"
    assert normalise_value([{"id": "b@x"}, {"id": "a@x"}]) == ("a@x", "b@x")
    assert custom_field_values(ticket("1", key="DEMO-1")) == {"Severity": "high", "Jira Key": "DEMO-1"}
    assert custom_field_values({"CustomFields": [{"name": "Tags", "values": ["b", "a", ""]}]}) == {"Tags": ("a", "b")}


@pytest.mark.parametrize(
    ("data", "page_no", "expected"),
    [
        ({"count": 0, "pages": 0.0, "items": []}, 1, None),  # RT's empty answer: a float zero
        ({"count": 100, "pages": 3, "items": [{}] * 100}, 1, 2),
        ({"count": 100, "pages": 3, "items": [{}] * 100}, 3, None),
        ({"count": 100, "pages": None, "items": [{}] * 100}, 1, 2),  # non-superuser lists: no page count
        ({"count": 40, "pages": None, "items": [{}] * 40}, 4, None),
    ],
)
def test_next_page(data: dict[str, Any], page_no: int, expected: int | None) -> None:
    assert next_page(data, page_no, 100) == expected


@pytest.mark.parametrize(
    ("messages", "failed"),
    [
        (["Ticket 1: Status 'bogus' isn't a valid status for this ticket."], True),
        (["Permission Denied"], True),
        (["Ticket 1: Status changed from 'open' to 'resolved'", "Jira Key DEMO-1 added"], False),
        (["You can't change status from 'open' to 'open'."], False),  # already so: a no-op
        (["You can't change status from 'resolved' to 'stalled'."], True),
        (["Subject changed from 'a' to 'Login failed'"], False),  # a value may say "failed"
        (["Jira Key DEMO-1 changed to DEMO-2"], False),
        ([], False),
    ],
)
def test_failed_messages(messages: list[str], failed: bool) -> None:
    assert bool(failed_messages(messages)) is failed


def test_status_changed() -> None:
    assert status_changed(["Ticket 1: Status changed from 'new' to 'open'"], "open")
    assert not status_changed(["Ticket 1: Status changed from 'new' to 'open'"], "resolved")
    assert status_changed(["You can't change status from 'open' to 'open'."], "open")


def test_constructor_needs_credentials_and_a_real_zone() -> None:
    with pytest.raises(ConfigError, match="auth token"):
        RTConnector(ROOT)
    with pytest.raises(ConfigError, match="time zone"):
        RTConnector(ROOT, token=SecretStr(TOKEN), timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="page size"):
        RTConnector(ROOT, token=SecretStr(TOKEN), page_size=500)


# ------------------------------------------------------------------------------------------ search


@responses.activate
def test_search_is_a_get_with_ticketsql_in_the_server_zone_and_follows_next_page() -> None:
    second = f"{REST}/tickets?page=2"
    responses.get(f"{REST}/tickets", json=page([ticket("2"), ticket("3", severity="low")], pages=2, next_url=second))
    responses.get(f"{REST}/tickets", json=page([ticket("11", key="DEMO-9")], page_no=2, pages=2))
    rt = connector()
    since = datetime(2026, 11, 23, 13, 0, 0, tzinfo=UTC)
    items = list(rt.search_changed(MAPPING, since, ["Subject", "CF.{Severity}", "Requestor", "Due"]))
    assert [i.ref.id for i in items] == ["2", "11"]  # "3" is low: dropped by the local re-check
    assert items[1].back_reference == "DEMO-9"
    assert dict(items[0].fields) == {"Subject": "Ticket 2", "CF.{Severity}": "high",
                                     "Requestor": ("a@example.test", "b@example.test"), "Due": None}
    assert items[0].updated_by == "agent"
    assert items[0].version.startswith("2026-11-23T13:21:09Z#")
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]
    params = query_of(responses.calls[0])
    assert params["query"] == [
        "((Queue = 'Incidents' AND CF.{Severity} = 'high') OR CF.{Jira Key} LIKE 'DEMO-')"
        " AND LastUpdated >= '2026-11-23 13:59:59'"  # Berlin, UTC+1
    ]
    assert params["orderby"] == ["LastUpdated", "id"]
    assert params["per_page"] == ["100"]
    assert "CustomFields" in params["fields"][0].split(",")
    assert responses.calls[0].request.headers["Authorization"] == f"token {TOKEN}"
    assert rt.calls.snapshot() == {"GET /rt/REST/2.0/tickets": 2}


@responses.activate
def test_empty_search_with_float_zero_pages_is_one_call() -> None:
    responses.get(f"{REST}/tickets", json={"count": 0, "page": 1, "per_page": 100, "pages": 0.0, "total": 0,
                                           "items": []})
    rt = connector()
    assert list(rt.search_changed(MAPPING, None, [])) == []
    assert rt.calls.total == 1


@responses.activate
def test_version_differs_for_two_changes_in_one_second() -> None:
    responses.get(f"{REST}/tickets", json=page([ticket("2", status="new")]))
    responses.get(f"{REST}/tickets", json=page([ticket("2", status="open")]))
    rt = connector()
    first = rt.get(REF, [])
    second = rt.get(REF, [])
    assert first.updated == second.updated
    assert first.version != second.version


@responses.activate
def test_401_is_an_auth_error_without_the_token() -> None:
    responses.get(f"{REST}/tickets", status=401, json={"message": "Unauthorized"})
    with pytest.raises(AuthError) as caught:
        list(connector().search_changed(MAPPING, None, []))
    assert "Unauthorized" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert "7e07df" not in repr(caught.value.__dict__)


# ---------------------------------------------------------------------------------------- comments


@responses.activate
def test_comments_come_from_transactions_and_their_attachments_in_two_calls() -> None:
    responses.get(f"{REST}/transactions", json=page([
        {"id": "40", "Type": "Comment", "ObjectId": "7", "Created": "2026-11-23T14:50:33Z",
         "Creator": {"id": "agent", "type": "user"}, "Content": ""},
        {"id": "41", "Type": "Correspond", "ObjectId": "8", "Created": "2026-11-23T14:50:34Z",
         "Creator": {"id": "bridge", "type": "user"}, "Content": ""},
    ], pages=None, total=None))
    responses.get(f"{REST}/attachments", json=page([
        {"id": "2", "TransactionId": "40", "ContentType": "multipart/mixed", "Content": ""},
        {"id": "3", "TransactionId": "40", "ContentType": "text/plain", "Content": "internal note\nline2"},
        {"id": "4", "TransactionId": "41", "ContentType": "text/html", "Content": "<p>hello<br>customer</p>"},
        {"id": "5", "TransactionId": "41", "ContentType": "text/plain",
         "Content": "hello customer\n\n[bridge:jira:10001]"},
    ], pages=None, total=None))
    rt = connector()
    other = Ref(Side.ITSM, "Incidents", "8", "RT#8")
    comments = rt.comments_since([REF, other], None)
    assert [(c.id, c.body, c.channel, c.internal, c.author, c.marker) for c in comments["7"]] == [
        ("40", "internal note\nline2", "comment", True, "agent", None)
    ]
    assert [(c.body, c.channel, c.internal, c.marker) for c in comments["8"]] == [
        ("hello customer", "correspond", False, Marker(Side.JIRA, "10001"))
    ]
    txn_query = query_of(responses.calls[0])["query"][0]
    assert "(ObjectId = 7 OR ObjectId = 8)" in txn_query
    assert "(Type = 'Comment' OR Type = 'Correspond')" in txn_query
    attachment_query = json.loads(query_of(responses.calls[1])["query"][0])
    assert attachment_query == [{"field": "TransactionId", "operator": "IN", "value": [40, 41]}]
    assert "Parent" not in query_of(responses.calls[1])["fields"][0]  # RT 5.0.3 answers 500 for it
    assert rt.calls.total == 2


@responses.activate
def test_a_dedicated_bridge_user_marks_its_unmarked_replies_as_its_own() -> None:
    """The transaction's ``Creator`` is the carrier of a reply without a marker (the token owner's login)."""
    responses.get(f"{REST}/transactions", json=page([
        {"id": "50", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:33Z",
         "Creator": {"id": "bridge", "Name": "bridge", "RealName": "Bridge", "type": "user"}},
        {"id": "51", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:34Z",
         "Creator": {"id": "carol", "Name": "carol", "RealName": "Carol Caller", "type": "user"}},
        {"id": "52", "Type": "Comment", "ObjectId": "7", "Created": "2026-11-23T14:50:35Z",
         "Creator": {"id": "bridge", "Name": "bridge", "type": "user"}},
    ], pages=None, total=None))
    responses.get(f"{REST}/attachments", json=page([
        {"id": "6", "TransactionId": "50", "ContentType": "text/plain", "Content": "Dana\nPlease retry"},
        {"id": "7", "TransactionId": "51", "ContentType": "text/plain", "Content": "Still broken"},
        {"id": "8", "TransactionId": "52", "ContentType": "text/plain", "Content": "note\n\n[bridge:jira:9]"},
    ], pages=None, total=None))
    responses.get(f"{REST}/user/14", json={"id": 14, "Name": "bridge"})
    options = HttpOptions(base_url="ignored", max_attempts=2, backoff_base=0.0, requests_per_second=1000, burst=1000)
    rt = RTConnector(ROOT, token=SecretStr(TOKEN), options=options, bridge_user="14", dedicated_account=True)
    read = {c.id: c for c in rt.comments_since([REF], None)["7"]}
    assert (read["50"].own, read["51"].own, read["52"].own) == (True, False, False)  # 52: its marker says more
    assert read["52"].marker == Marker(Side.JIRA, "9")


@responses.activate
def test_a_shared_bridge_user_marks_nothing() -> None:
    responses.get(f"{REST}/transactions", json=page([
        {"id": "50", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:33Z",
         "Creator": {"id": "bridge", "Name": "bridge", "type": "user"}},
    ], pages=None, total=None))
    responses.get(f"{REST}/attachments", json=page([
        {"id": "6", "TransactionId": "50", "ContentType": "text/plain", "Content": "Dana\nPlease retry"},
    ], pages=None, total=None))
    assert not connector().comments_since([REF], None)["7"][0].own


@responses.activate
def test_a_transaction_custom_field_carries_the_origin_of_a_reply_invisibly() -> None:
    """RT::REST2 "Tickets": ``TxnCustomFields`` on correspond/comment sets the new transaction's custom
    fields in the same request; a transactions search with ``fields=CustomFields`` lists them back."""
    live()
    responses.post(f"{REST}/ticket/7/correspond", status=201, json=["Correspondence added"],
                   headers={"Location": "/REST/2.0/transaction/70"})
    rt = connector(origin_field="Bridge origin")
    written = rt.add_comment(REF, "Dana\nPlease retry", channel="correspond", marker=Marker(Side.JIRA, "77"))
    sent = json.loads(responses.calls[-1].request.body)
    assert sent == {"Content": "Dana\nPlease retry", "ContentType": "text/plain",
                    "TxnCustomFields": {"Bridge origin": "[bridge:jira:77]"}}  # nothing in the e-mailed text
    assert written.id == "70"
    responses.get(f"{REST}/transactions", json=page([
        {"id": "70", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:33Z",
         "Creator": {"id": "bridge", "Name": "bridge", "type": "user"},
         "CustomFields": [{"id": "9", "type": "customfield", "name": "Bridge origin", "values": ["[bridge:jira:77]"]}]},
        {"id": "71", "Type": "Correspond", "ObjectId": "7", "Created": "2026-11-23T14:50:34Z",
         "Creator": {"id": "carol", "Name": "carol", "type": "user"},
         "CustomFields": [{"id": "9", "type": "customfield", "name": "Bridge origin", "values": []}]},
    ], pages=None, total=None))
    responses.get(f"{REST}/attachments", json=page([
        {"id": "6", "TransactionId": "70", "ContentType": "text/plain", "Content": "Dana\nPlease retry"},
        {"id": "7", "TransactionId": "71", "ContentType": "text/plain", "Content": "Still broken"},
    ], pages=None, total=None))
    read = {c.id: c for c in rt.comments_since([REF], None)["7"]}
    assert read["70"].marker == Marker(Side.JIRA, "77")
    assert read["70"].body == "Dana\nPlease retry"
    assert read["71"].marker is None
    search = [c for c in responses.calls if "/transactions" in c.request.url][-1]
    assert query_of(search)["fields"] == ["Type,Created,Creator,ObjectId,CustomFields"]
    assert rt.find_comment_by_marker(REF, Marker(Side.JIRA, "77")) is not None  # a crash finds it again


@responses.activate
def test_a_custom_field_rt_cannot_set_does_not_fail_the_written_reply() -> None:
    live()
    responses.post(f"{REST}/ticket/7/correspond", status=201,
                   json=["Correspondence added", "Unable to load transaction custom field: Bridge origin"],
                   headers={"Location": "/REST/2.0/transaction/72"})
    written = connector(origin_field="Bridge origin").add_comment(
        REF, "hello", channel="correspond", marker=Marker(Side.JIRA, "78"))
    assert written.id == "72"  # written once: raising would make the engine write it again


@responses.activate
def test_the_account_check_reads_the_bridge_users_newest_comments_for_a_marker() -> None:
    responses.get(f"{REST}/transactions", json=page([
        {"id": "60", "ObjectId": "7", "Created": "2026-11-23T14:50:35Z"},
        {"id": "59", "ObjectId": "7", "Created": "2026-11-23T14:50:34Z"},
    ], pages=None, total=None))
    responses.get(f"{REST}/attachments", json=page([
        {"id": "8", "TransactionId": "60", "ContentType": "text/plain", "Content": "note\n\n[bridge:jira:9]"},
        {"id": "9", "TransactionId": "59", "ContentType": "text/plain", "Content": "typed by a person"},
    ], pages=None, total=None))
    result = own_account.rt_check(connector(dedicated_account=True))
    assert not result.ok
    assert "comment 59 on ticket 7" in (result.hint or "")
    query = query_of(responses.calls[0])
    assert query["query"] == ["ObjectType = 'RT::Ticket' AND Type = 'Comment' AND Creator = 'bridge'"]
    assert (query["orderby"], query["order"]) == (["id"], ["DESC"])


@responses.activate
def test_no_transactions_means_no_attachment_call() -> None:
    responses.get(f"{REST}/transactions", json=page([], pages=None, total=None))
    rt = connector()
    assert rt.comments_since([REF], datetime(2026, 1, 1, tzinfo=UTC)) == {"7": []}
    assert rt.calls.total == 1


@responses.activate
def test_add_comment_sends_content_type_and_marker_as_final_line() -> None:
    live()
    responses.post(f"{REST}/ticket/7/comment", status=201, json=["Comments added"],
                   headers={"Location": "/REST/2.0/transaction/35", "Date": "Mon, 23 Nov 2026 14:50:33 GMT"})
    written = connector().add_comment(REF, "Fixed in 7.1\n", channel="comment", marker=Marker(Side.JIRA, "10001"))
    body = json.loads(responses.calls[1].request.body)
    assert body == {"Content": "Fixed in 7.1\n\n[bridge:jira:10001]", "ContentType": "text/plain"}
    assert (written.id, written.body, written.internal, written.author) == ("35", "Fixed in 7.1", True, "bridge")
    assert written.created == datetime(2026, 11, 23, 14, 50, 33, tzinfo=UTC)


@responses.activate
def test_add_comment_is_not_retried_after_a_server_error() -> None:
    """A repeated POST would add a second comment; the executor reconciles by marker instead."""
    live()
    responses.post(f"{REST}/ticket/7/correspond", status=502)
    with pytest.raises(Exception, match="502"):
        connector().add_comment(REF, "x", channel="correspond", marker=Marker(Side.JIRA, "1"))
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]  # the check, then one POST


# ------------------------------------------------------------------------------------------ writes


@responses.activate
def test_status_refusal_in_a_200_is_a_workflow_error() -> None:
    live()
    responses.put(f"{REST}/ticket/7", json=["Ticket 7: Status 'bogus' isn't a valid status for this ticket."])
    with pytest.raises(WorkflowError, match="isn't a valid status"):
        connector().set_status(REF, "bogus", {})


@responses.activate
def test_status_already_set_is_confirmed_by_reading() -> None:
    live(status="open")
    responses.put(f"{REST}/ticket/7", json=[])
    responses.get(f"{REST}/tickets", json=page([ticket("7", status="open")]))
    rt = connector()
    rt.set_status(REF, "open", {})
    assert rt.calls.snapshot() == {"GET /rt/REST/2.0/ticket/{id}": 1, "PUT /rt/REST/2.0/ticket/{id}": 1,
                                   "GET /rt/REST/2.0/tickets": 1}


@responses.activate
def test_status_quietly_not_applied_is_an_error() -> None:
    live(status="open")
    responses.put(f"{REST}/ticket/7", json=[])
    responses.get(f"{REST}/tickets", json=page([ticket("7", status="open")]))
    with pytest.raises(WorkflowError, match="did not move"):
        connector().set_status(REF, "resolved", {})


@responses.activate
def test_status_change_confirmed_by_the_message_needs_no_read() -> None:
    responses.put(f"{REST}/ticket/7", json=["Ticket 7: Status changed from 'open' to 'resolved'", "Severity low added"])
    responses.get(f"{REST}/queue/Incidents", json={"Name": "Incidents", "TicketCustomFields": [
        {"id": "4", "name": "Severity", "type": "customfield"}]})
    live(status="open")
    rt = connector()
    rt.set_status(REF, "resolved", {"CF.{Severity}": "low"})
    assert json.loads(responses.calls[2].request.body) == {"CustomFields": {"Severity": "low"}, "Status": "resolved"}
    assert rt.calls.snapshot() == {"GET /rt/REST/2.0/queue/Incidents": 1, "GET /rt/REST/2.0/ticket/{id}": 1,
                                   "PUT /rt/REST/2.0/ticket/{id}": 1}


@responses.activate
def test_unknown_custom_field_is_refused_before_writing() -> None:
    """RT silently ignores custom fields it does not know: the value would be lost without a word."""
    responses.get(f"{REST}/queue/Incidents", json={"Name": "Incidents", "TicketCustomFields": []})
    with pytest.raises(PermanentError, match="Jira Key"):
        connector().write_back_reference(REF, Ref(Side.JIRA, "issue", "1", "DEMO-1"), {"CF.{Jira Key}": "DEMO-1"})
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_back_reference_as_a_link_is_added_not_replaced() -> None:
    live()
    responses.put(f"{REST}/ticket/7", json=["Link created (https://jira/browse/DEMO-1 -> 7)"])
    connector().write_back_reference(REF, Ref(Side.JIRA, "issue", "1", "DEMO-1"), {"RefersTo": "https://jira/browse/DEMO-1"})
    assert json.loads(responses.calls[1].request.body) == {"AddRefersTo": "https://jira/browse/DEMO-1"}


def test_create_is_refused() -> None:
    from bridge.connectors.base import CreateSpec

    with pytest.raises(PermanentError):
        connector().create(CreateSpec("DEMO", "Bug", {"summary": "x"}, marker="m"))


# ------------------------------------------------------------------------------------------ doctor


@responses.activate
def test_check_spots_the_install_wizard() -> None:
    """An RT that cannot open its database serves its web installer with a 200 — not REST2 JSON."""
    responses.get(f"{REST}/rt", body="<html><title>RT Setup Wizard</title></html>", content_type="text/html")
    results = connector().check([])
    assert [r.ok for r in results] == [False]
    assert "install wizard" in (results[0].hint or "")


@responses.activate
def test_check_with_a_wrong_url() -> None:
    responses.get(f"{REST}/rt", status=404, body="<html>not here</html>", content_type="text/html")
    results = connector().check([])
    assert [r.ok for r in results] == [False]
    assert "/rt" in (results[0].hint or "")


@responses.activate
def test_a_ticket_moving_between_pages_triggers_a_repair_pass() -> None:
    """Ticket 2 is updated after page 1 was read: it reappears at the end and ticket 3 slid onto page 1."""
    per = 2
    responses.get(f"{REST}/tickets", json=page([ticket("1"), ticket("2")], pages=2, per_page=per, next_url="x"))
    responses.get(f"{REST}/tickets", json=page([ticket("4"), ticket("2", updated="2026-11-23T13:30:00Z")],
                                               page_no=2, pages=2, per_page=per))
    responses.get(f"{REST}/tickets", json=page([ticket("1"), ticket("3")], pages=2, per_page=per, next_url="x"))
    responses.get(f"{REST}/tickets", json=page([ticket("4"), ticket("2", updated="2026-11-23T13:30:00Z")],
                                               page_no=2, pages=2, per_page=per))
    rt = connector(page_size=per)
    ids = [i.ref.id for i in rt.search_changed(MAPPING, None, [])]
    assert ids == ["1", "2", "4", "3"]
    assert rt.calls.total == 4


def test_from_settings_takes_url_token_and_the_token_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.settings import Settings

    for name in list(__import__("os").environ):
        if name.startswith("BRIDGE_"):
            monkeypatch.delenv(name)
    settings = Settings(  # type: ignore[call-arg]
        jira={"url": "https://jira.example.test", "email": "a@example.test", "token": "x"},
        itsm={"kind": "rt", "url": ROOT, "token": TOKEN, "timeout_seconds": 7, "requests_per_second": 3},
    )
    rt = RTConnector.from_settings(settings)
    assert rt.rest_url == REST
    assert rt.bridge_user == "14"  # the owner id inside the token, resolved to a login on first use
    assert rt.http.options.read_timeout == 7
    assert rt.http.options.requests_per_second == 3
    assert rt.timezone.key == "UTC"
    assert rt.http.session.headers["Authorization"] == f"token {TOKEN}"
    zoned = Settings(  # type: ignore[call-arg]
        jira={"url": "https://jira.example.test", "email": "a@example.test", "token": "x"},
        itsm={"kind": "rt", "url": ROOT, "username": "bridge", "password": "pw", "timezone": "America/New_York"},
    )
    basic = RTConnector.from_settings(zoned.itsm)  # the section alone works too
    assert (basic.timezone.key, basic.bridge_user) == ("America/New_York", "bridge")
    assert basic.http.session.auth == ("bridge", "pw")


@responses.activate
def test_comment_author_is_the_token_owner_login() -> None:
    live()
    responses.get(f"{REST}/user/14", json={"id": 14, "Name": "bridge"})
    responses.post(f"{REST}/ticket/7/comment", status=201, json=["Comments added"],
                   headers={"Location": "/REST/2.0/transaction/36"})
    rt = RTConnector(ROOT, token=SecretStr(TOKEN), bridge_user="14")
    assert rt.add_comment(REF, "x", channel="comment", marker=Marker(Side.JIRA, "1")).author == "bridge"
    assert rt.add_comment(REF, "y", channel="comment", marker=Marker(Side.JIRA, "2")).author == "bridge"
    assert [c.request.url.rsplit("/", 1)[-1] for c in responses.calls].count("14") == 1  # the login is looked up once


# ------------------------------------------------------------------------------------------ gone tickets


@responses.activate
def test_write_through_a_merged_id_is_refused_naming_the_survivor() -> None:
    """RT loads a merged ticket's id as the ticket it was merged into: a write would land on RT#1."""
    responses.get(f"{REST}/ticket/7", json={**ticket("1"), "EffectiveId": {"id": "1", "type": "ticket"}})
    with pytest.raises(MergedError) as raised:
        connector().set_status(REF, "resolved", {})
    assert (raised.value.survivor_id, raised.value.survivor_key) == ("1", "RT#1")
    assert [c.request.method for c in responses.calls] == ["GET"]  # nothing written


@responses.activate
def test_write_to_a_deleted_ticket_is_refused() -> None:
    """RT would accept the write and set the status of a deleted ticket back: no undelete."""
    live(status="deleted")
    with pytest.raises(NotFoundError, match="deleted"):
        connector().add_comment(REF, "x", channel="comment", marker=Marker(Side.JIRA, "1"))
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_write_to_a_ticket_rt_does_not_know_is_not_found() -> None:
    responses.get(f"{REST}/ticket/7", status=404, json={"message": "Resource does not exist"})
    with pytest.raises(NotFoundError):
        connector().update_fields(REF, {"Subject": "x"})
