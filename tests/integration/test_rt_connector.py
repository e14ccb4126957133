"""RTConnector against a real Request Tracker 5 (the server runs in America/New_York unless told otherwise).

Each test that asserts on "every ticket of a queue" takes a fresh queue from the fixture's pool.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from bridge.errors import AuthError, NotFoundError, PermanentError, WorkflowError
from bridge.mapping.schema import Mapping
from bridge.model import Marker, Record, Ref, Side

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration

FIELDS = ["Subject", "Priority", "Owner", "CF.{Severity}", "CF.{Jira Key}"]


def project_of(queue: str) -> str:
    """A Jira project key of this queue's own: the RT server is shared by the whole session, and a
    search also selects tickets linked to the mapping's project in *other* queues (route exit)."""
    return "T" + re.sub(r"[^A-Z0-9]", "", queue.upper())


def mapping(queue: str, where: Any = None, **extra: Any) -> Mapping:
    return Mapping.model_validate(
        {
            "name": "rt-test",
            "route": {"record_type": queue, **({"where": where} if where is not None else {})},
            "target": {"project": project_of(queue), "issue_type": "Bug"},
            "links": {"itsm_key_field": "CF.{Jira Key}", "itsm_url_field": "CF.{Jira URL}"},
            "comments": {"to_itsm_channel": "comment", "from_itsm_channels": ["comment", "correspond"]},
            **extra,
        }
    )


def ref(rt_server: RTServer, queue: str, ticket_id: str) -> Ref:
    return Ref(Side.ITSM, queue, ticket_id, f"RT#{ticket_id}")


# ------------------------------------------------------------------------------------------ search


def test_search_selects_by_queue_and_route_and_costs_one_call(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    high = agent.create_ticket("Printer on fire", queue=queue, custom_fields={"Severity": "high"})
    agent.create_ticket("Printer low on toner", queue=queue, custom_fields={"Severity": "low"})
    rejected = agent.create_ticket("Spam", queue=queue, custom_fields={"Severity": "high"})
    agent.set_status(rejected, "rejected")
    agent.create_ticket("Elsewhere", queue=rt_server.queue, custom_fields={"Severity": "high"})
    route = {"all": [{"field": "CF.{Severity}", "equals": "high"}, {"field": "Status", "not_in": ["rejected"]}]}
    connector = rt_server.connector()
    items = list(connector.search_changed(mapping(queue, route), None, FIELDS))
    assert [i.ref.id for i in items] == [high]
    record = items[0]
    assert isinstance(record, Record)
    assert record.ref.kind == queue
    assert record.ref.key == f"RT#{high}"
    assert record.ref.url == f"{rt_server.url}/Ticket/Display.html?id={high}"
    assert record.status == "new"
    assert dict(record.fields) == {
        "Subject": "Printer on fire",
        "Priority": "0",
        "Owner": "Nobody",
        "CF.{Severity}": "high",
        "CF.{Jira Key}": None,
    }
    assert record.updated_by == "agent"
    assert connector.calls.snapshot() == {"GET /REST/2.0/tickets": 1}


def test_search_also_returns_linked_tickets_that_left_the_route_in_the_same_call(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    routed = agent.create_ticket("Printer on fire", queue=queue, custom_fields={"Severity": "high"})
    resolved = agent.create_ticket("Linked, now rejected", queue=queue,
                                   custom_fields={"Severity": "high", "Jira Key": f"{project_of(queue)}-5"})
    agent.set_status(resolved, "rejected")
    unlinked = agent.create_ticket("Not linked, rejected", queue=queue, custom_fields={"Severity": "high"})
    agent.set_status(unlinked, "rejected")
    route = {"all": [{"field": "CF.{Severity}", "equals": "high"}, {"field": "Status", "not_in": ["rejected"]}]}
    connector = rt_server.connector()
    ids = [i.ref.id for i in connector.search_changed(mapping(queue, route), None, FIELDS)]
    assert routed in ids
    assert resolved in ids  # linked: keeps syncing whatever the route says
    assert unlinked not in ids
    assert connector.calls.snapshot() == {"GET /REST/2.0/tickets": 1}


def test_local_recheck_applies_what_ticketsql_cannot_express(rt_server: RTServer) -> None:
    """A regex and a case-sensitive negation are filtered locally, not by RT."""
    queue = rt_server.take_queue()
    agent = rt_server.person()
    keep = agent.create_ticket("DB-42 outage", queue=queue)
    agent.create_ticket("db-42 lowercase", queue=queue)
    agent.create_ticket("Unrelated", queue=queue)
    where = {"all": [{"field": "Subject", "matches": r"^DB-\d+"}, {"not": {"field": "Subject", "equals": "x"}}]}
    items = list(rt_server.connector().search_changed(mapping(queue, where), None, ["Subject"]))
    assert [i.ref.id for i in items] == [keep]


def test_empty_queue_search_is_one_call_and_empty(rt_server: RTServer) -> None:
    """RT answers an empty search with "pages": 0.0 — the connector must stop there."""
    connector = rt_server.connector()
    assert list(connector.search_changed(mapping(rt_server.take_queue()), None, FIELDS)) == []
    assert connector.calls.total == 1


def test_search_paginates_oldest_first(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    created = [agent.create_ticket(f"Item {n}", queue=queue) for n in range(7)]
    time.sleep(1.1)  # RT keeps whole seconds: make the edit the newest change beyond doubt
    agent.update(created[0], Subject="Item 0 edited last")
    connector = rt_server.connector(page_size=3)
    items = list(connector.search_changed(mapping(queue), None, ["Subject"]))
    assert sorted(i.ref.id for i in items) == sorted(created)
    assert items[-1].ref.id == created[0]
    assert [i.updated for i in items] == sorted(i.updated for i in items)
    assert connector.calls.snapshot() == {"GET /REST/2.0/tickets": 3}


def test_since_is_converted_to_the_server_time_zone(rt_server: RTServer) -> None:
    """A cursor just after the last update excludes the ticket; one at the update includes it.

    The server runs in America/New_York: a connector that sent UTC (or RT's own ``…Z`` format, which RT
    reads as midnight) would select the ticket in both cases.
    """
    assert rt_server.timezone != "UTC"
    queue = rt_server.take_queue()
    ticket = rt_server.person().create_ticket("Clock check", queue=queue)
    connector = rt_server.connector()
    updated = connector.get(ref(rt_server, queue, ticket), []).updated
    at = [i.ref.id for i in connector.search_changed(mapping(queue), updated, [])]
    after = [i.ref.id for i in connector.search_changed(mapping(queue), updated + timedelta(seconds=3), [])]
    assert at == [ticket]
    assert after == []


def test_a_wrong_time_zone_misses_changes(rt_server: RTServer) -> None:
    """Why ``timezone`` must match RT's: literals in UTC are read as New York time, 5 hours late."""
    queue = rt_server.take_queue()
    ticket = rt_server.person().create_ticket("Zone check", queue=queue)
    utc_connector = rt_server.connector(timezone="UTC")
    updated = utc_connector.get(ref(rt_server, queue, ticket), []).updated
    found = [i.ref.id for i in utc_connector.search_changed(mapping(queue), updated, [])]
    assert found == []  # which is why the time zone is a required part of the RT settings


def test_every_change_changes_the_version_even_within_one_second(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    ticket = agent.create_ticket("Versioned", queue=queue)
    connector = rt_server.connector()
    the_ref = ref(rt_server, queue, ticket)
    versions = [connector.get(the_ref, []).version]
    agent.set_status(ticket, "open")
    versions.append(connector.get(the_ref, []).version)
    agent.set_custom_field(ticket, "Severity", "high")
    versions.append(connector.get(the_ref, []).version)
    assert len(set(versions)) == 3
    assert connector.get(the_ref, ["Subject"]).version == versions[-1]  # independent of the fields asked


def test_get_normalises_ids_and_raises_not_found(rt_server: RTServer) -> None:
    ticket = rt_server.person().create_ticket("Get me")
    connector = rt_server.connector()
    item = connector.get(ref(rt_server, rt_server.queue, ticket), ["id", "Subject", "Queue"])
    assert item.ref.id == ticket
    assert item.fields["id"] == ticket
    assert item.fields["Queue"] == rt_server.queue
    with pytest.raises(NotFoundError):
        connector.get(ref(rt_server, rt_server.queue, "999999"), ["Subject"])


# ---------------------------------------------------------------------------------------- comments


def test_comments_of_many_tickets_cost_two_calls_and_keep_markers(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    first = agent.create_ticket("First", queue=queue, content="the description is not a comment")
    second = agent.create_ticket("Second", queue=queue)
    quiet = agent.create_ticket("Quiet", queue=queue)
    agent.comment(first, "internal note\nsecond line")
    agent.correspond(second, "Dear customer, we are on it")
    connector = rt_server.connector()
    mirrored = connector.add_comment(
        ref(rt_server, queue, first), "Fixed in build 7", channel="comment", marker=Marker(Side.JIRA, "10042")
    )
    refs = [ref(rt_server, queue, t) for t in (first, second, quiet)]
    before = connector.calls.snapshot()
    comments = connector.comments_since(refs, None)
    assert connector.calls.since(before) == {"GET /REST/2.0/transactions": 1, "GET /REST/2.0/attachments": 1}
    assert set(comments) == {first, second, quiet}
    assert comments[quiet] == []
    assert [(c.body, c.channel, c.internal, c.author, c.marker) for c in comments[first]] == [
        # authors by their RT real name (fields[Creator]=Name,RealName, in the same call): issue #16
        ("internal note\nsecond line", "comment", True, "Alice Agent", None),
        ("Fixed in build 7", "comment", True, "Bridge Sync", Marker(Side.JIRA, "10042")),
    ]
    assert comments[first][1].id == mirrored.id
    assert [(c.body, c.channel, c.internal) for c in comments[second]] == [
        ("Dear customer, we are on it", "correspond", False)
    ]
    # the marker is the final line of what RT stores
    assert agent.texts(first)[-1].splitlines()[-1] == "[bridge:jira:10042]"


def test_comments_since_skips_older_ones(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    agent = rt_server.person()
    ticket = agent.create_ticket("Cursor", queue=queue)
    agent.comment(ticket, "old")
    connector = rt_server.connector()
    the_ref = ref(rt_server, queue, ticket)
    old = connector.comments_since([the_ref], None)[ticket]
    later = old[0].created + timedelta(seconds=5)
    assert connector.comments_since([the_ref], later)[ticket] == []
    assert [c.body for c in connector.comments_since([the_ref], old[0].created)[ticket]] == ["old"]


def test_correspond_channel_reaches_the_requestor_side(rt_server: RTServer) -> None:
    ticket = rt_server.person().create_ticket("Reply please")
    connector = rt_server.connector()
    the_ref = ref(rt_server, rt_server.queue, ticket)
    written = connector.add_comment(the_ref, "We shipped a fix", channel="correspond", marker=Marker(Side.JIRA, "7"))
    assert (written.channel, written.internal) == ("correspond", False)
    types = [t["Type"] for t in rt_server.person().history(ticket)]
    assert "Correspond" in types
    # A reply is e-mailed to the requestor: no marker text in it (issue #16). bridge knows it by the
    # transaction id it stores, which is the id the read gives back.
    assert not any("[bridge:" in t for t in rt_server.person().texts(ticket))
    [read] = [c for c in connector.comments_since([the_ref], None)[ticket] if c.id == written.id]
    assert (read.body, read.marker, read.channel) == ("We shipped a fix", None, "correspond")
    assert connector.find_comment_by_marker(the_ref, Marker(Side.JIRA, "8")) is None
    note = connector.add_comment(the_ref, "Internal", channel="comment", marker=Marker(Side.JIRA, "9"))
    found = connector.find_comment_by_marker(the_ref, Marker(Side.JIRA, "9"))
    assert found is not None
    assert found.id == note.id


def test_unknown_channel_is_refused(rt_server: RTServer) -> None:
    ticket = rt_server.person().create_ticket("Channel")
    with pytest.raises(PermanentError, match="work_notes"):
        rt_server.connector().add_comment(
            ref(rt_server, rt_server.queue, ticket), "x", channel="work_notes", marker=Marker(Side.JIRA, "1")
        )


# ------------------------------------------------------------------------------------------ writes


def test_status_both_ways_and_the_200_that_means_failure(rt_server: RTServer) -> None:
    agent = rt_server.person()
    ticket = agent.create_ticket("Statuses")
    connector = rt_server.connector()
    the_ref = ref(rt_server, rt_server.queue, ticket)
    connector.set_status(the_ref, "open", {})
    connector.set_status(the_ref, "open", {})  # already so: a no-op, not an error
    assert agent.ticket(ticket)["Status"] == "open"
    with pytest.raises(WorkflowError, match="isn't a valid status"):
        connector.set_status(the_ref, "bogus", {})
    assert agent.ticket(ticket)["Status"] == "open"
    connector.set_status(the_ref, "resolved", {"CF.{Severity}": "low"})
    assert agent.ticket(ticket)["Status"] == "resolved"
    assert agent.custom_field(ticket, "Severity") == ["low"]
    agent.set_status(ticket, "open")  # the customer wrote back: reopened in RT
    assert connector.get(the_ref, []).status == "open"


def test_update_fields_round_trip_and_unknown_custom_field_is_refused(rt_server: RTServer) -> None:
    ticket = rt_server.person().create_ticket("Fields")
    connector = rt_server.connector()
    the_ref = ref(rt_server, rt_server.queue, ticket)
    values = {"Subject": "New subject", "CF.{Notes}": "Longer text\nwith lines", "CF.{Severity}": "medium"}
    connector.update_fields(the_ref, values)
    assert dict(connector.get(the_ref, list(values)).fields) == values
    with pytest.raises(PermanentError, match="No Such Field"):
        connector.update_fields(the_ref, {"Subject": "must not be written", "CF.{No Such Field}": "x"})
    assert connector.get(the_ref, ["Subject"]).fields["Subject"] == "New subject"


def test_back_reference_in_custom_fields_and_as_link(rt_server: RTServer) -> None:
    queue = rt_server.take_queue()
    ticket = rt_server.person().create_ticket("Linked", queue=queue)
    connector = rt_server.connector()
    the_ref = ref(rt_server, queue, ticket)
    issue = Ref(Side.JIRA, "issue", "10001", "DEMO-1", "https://jira.example/browse/DEMO-1")
    values = {"CF.{Jira Key}": "DEMO-1", "CF.{Jira URL}": issue.url, "RefersTo": issue.url}
    connector.write_back_reference(the_ref, issue, values)
    once = connector.get(the_ref, ["CF.{Jira Key}"])
    connector.write_back_reference(the_ref, issue, values)  # repeating changes nothing
    twice = connector.get(the_ref, ["CF.{Jira Key}"])
    assert once.version == twice.version
    assert twice.back_reference is None  # get() without a mapping seen yet knows no link field
    the_mapping = mapping(queue)
    found = connector.find_by_marker(the_mapping, "DEMO-1")
    assert found is not None
    assert (found.ref.id, found.back_reference) == (ticket, "DEMO-1")
    assert connector.get(the_ref, []).back_reference == "DEMO-1"  # now the queue's mapping is known
    assert connector.find_by_marker(the_mapping, "DEMO-2") is None
    links = [h for h in rt_server.person().ticket(ticket)["_hyperlinks"] if h.get("ref") == "refers-to"]
    assert [h.get("_url") for h in links] == [issue.url]


def test_create_is_refused(rt_server: RTServer) -> None:
    from bridge.connectors.base import CreateSpec

    with pytest.raises(PermanentError, match="never creates"):
        rt_server.connector().create(CreateSpec("DEMO", "Bug", {"summary": "x"}, marker="m"))


# ------------------------------------------------------------------------------------------ doctor


def test_check_reports_every_part_ok(rt_server: RTServer) -> None:
    rt_server.person().create_ticket("Doctor", custom_fields={"Severity": "high"})
    the_mapping = mapping(rt_server.queue, {"field": "CF.{Severity}", "equals": "high"},
                          status={"to_itsm": {"Done": "resolved"}})
    results = rt_server.connector().check([the_mapping])
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    whats = " | ".join(r.what for r in results)
    for expected in ("reachable", "credentials", "'Incidents' is visible", "'Jira Key'", "'Severity'",
                     "CommentOnTicket", "ModifyTicket"):
        assert expected in whats


def test_check_names_what_is_missing(rt_server: RTServer) -> None:
    results = rt_server.connector().check(
        [mapping("No Such Queue"), mapping(rt_server.queue, links={"itsm_key_field": "CF.{Missing CF}"})]
    )
    failed = {r.what: r.hint for r in results if not r.ok}
    assert any("No Such Queue" in w and "SeeQueue" in (h or "") for w, h in failed.items())
    assert any("Missing CF" in w for w in failed)


def test_check_and_calls_with_a_bad_token(rt_server: RTServer) -> None:
    connector = rt_server.connector(token=SecretStr("1-14-0000000000000000000000000000dead"))
    results = connector.check([])
    assert [r.ok for r in results] == [True, False]
    assert "Auth Tokens" in (results[1].hint or "")
    with pytest.raises(AuthError) as caught:
        list(connector.search_changed(mapping(rt_server.queue), None, []))
    assert "dead" not in str(caught.value)


def test_check_verifies_the_time_zone_against_rt(rt_server: RTServer) -> None:
    rt_server.person().create_ticket("Zone probe")
    right = {r.what: r.ok for r in rt_server.connector().check([mapping(rt_server.queue)])}
    wrong = {r.what: r for r in rt_server.connector(timezone="Asia/Tokyo").check([mapping(rt_server.queue)])}
    assert right[f"RT reads bridge's date literals in {rt_server.timezone}"] is True
    probe = wrong["RT reads bridge's date literals in Asia/Tokyo"]
    assert probe.ok is False
    assert "$Timezone" in (probe.hint or "")


def test_html_comments_from_the_web_editor_arrive_as_plain_text(rt_server: RTServer) -> None:
    agent = rt_server.person()
    ticket = agent.create_ticket("Rich text")
    agent.comment(ticket, "<p>Hello <b>world</b><br>line 2 &amp; more</p>", html=True)
    [comment] = rt_server.connector().comments_since([ref(rt_server, rt_server.queue, ticket)], None)[ticket]
    assert comment.body == "Hello world\nline 2 & more"
