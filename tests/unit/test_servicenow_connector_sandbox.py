"""The ServiceNow connector against the sandbox over real HTTP: what real instances do to clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.connectors.http import HttpOptions
from bridge.connectors.servicenow import ServiceNowConnector
from bridge.errors import AuthError, NotFoundError, PermanentError, RateLimitedError, TransientError
from bridge.mapping.schema import Mapping
from bridge.model import Marker, Ref, Side
from bridge.sandbox.servicenow import OAUTH_TOKEN
from tests.fixtures.servicenow import SleepRecorder, Snow, make_connector, running_sandbox

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


def mapping(**overrides: Any) -> Mapping:
    spec: dict[str, Any] = {
        "name": "incidents",
        "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
        "target": {"project": "OPS", "issue_type": "Bug"},
        "status": {"to_itsm": {"Done": {"state": 6, "fields": {"close_code": "Solution provided",
                                                                "close_notes": "Fixed in Jira"}}}},
    }
    spec.update(overrides)
    return Mapping.model_validate(spec)


def incidents(env: Snow, count: int, **fields: Any) -> list[dict[str, str]]:
    made = []
    for n in range(count):
        made.append(env.app.create_incident(f"Incident {n}", category="software", **fields))
        env.clock.advance(1)
    return made


def search(connector: ServiceNowConnector, since: Any = None, spec: Mapping | None = None) -> list[Any]:
    return list(connector.search_changed(spec or mapping(), since, ["short_description", "priority"]))


# ------------------------------------------------------------------------------------ search


def test_search_pages_through_acl_short_pages_and_unstable_order(snow: Snow) -> None:
    made = incidents(snow, 23)
    snow.app.create_incident("Not routed", category="hardware")
    hidden = {made[n]["sys_id"] for n in (0, 1, 2, 7, 12)}  # page 1 empty, others short
    snow.app.set_acl(hidden=hidden)
    connector = make_connector(snow.url, page_size=3)
    items = search(connector)
    assert [i.ref.id for i in items] == [m["sys_id"] for m in made if m["sys_id"] not in hidden]
    assert connector.calls.snapshot() == {"GET /api/now/table/incident": 8}  # ceil(23 / 3), none skipped
    first = items[0]
    assert first.ref.key == "INC0010004"
    assert first.fields == {"short_description": "Incident 3", "priority": "3"}
    assert first.status == "1"
    assert first.version == "0"
    assert first.updated_by == "sam.support"
    assert first.updated.tzinfo is not None


def test_keyset_paging_skips_nothing_when_a_record_is_updated_between_two_page_reads(snow: Snow) -> None:
    """Offset paging would skip incident 3 here: incident 0, read on page 1, is updated before page 2 is
    read, moves to the end, and every later row moves one place up past the offset."""
    made = incidents(snow, 9)
    reads: list[str] = []

    def between_pages(request: Any) -> None:
        reads.append(request.arg("sysparm_offset") or "0")
        if len(reads) == 2:  # after page 1, before page 2
            snow.clock.advance(5)
            snow.app.edit("incident", made[0]["sys_id"], description="updated while bridge pages")

    snow.app.before_list = between_pages
    connector = make_connector(snow.url, page_size=3)
    items = search(connector)
    ids = [i.ref.id for i in items]
    assert set(ids) == {m["sys_id"] for m in made}  # nothing skipped
    assert ids[-1] == made[0]["sys_id"]  # the updated record is read again, at the end, newer
    assert items[-1].version != items[0].version
    assert reads == ["0", "0", "0", "0"]  # keyset: every page starts after the last row read
    assert len(reads) == 4  # 3 pages of 3, then the record that moved to the end


def test_search_returns_linked_records_outside_the_route_in_the_same_query(snow: Snow) -> None:
    routed, linked, unlinked = incidents(snow, 3)
    snow.app.edit("incident", linked["sys_id"], correlation_id="OPS-7")
    snow.app.edit("incident", linked["sys_id"], category="network")  # reassigned out of the route
    snow.app.edit("incident", unlinked["sys_id"], category="network")
    connector = make_connector(snow.url)
    ids = [i.ref.id for i in search(connector)]
    assert ids == [routed["sys_id"], linked["sys_id"]]
    assert connector.calls.snapshot() == {"GET /api/now/table/incident": 1}


def test_search_since_floors_to_the_second_and_sees_same_second_updates(snow: Snow) -> None:
    old, edited = incidents(snow, 2)
    snow.clock.advance(30)
    cursor = snow.clock() + timedelta(milliseconds=700)  # the engine's cursor, finer than ServiceNow's
    snow.app.edit("incident", edited["sys_id"], description="same second as the cursor")
    connector = make_connector(snow.url)
    assert [i.ref.id for i in search(connector, cursor)] == [edited["sys_id"]]
    assert old["sys_id"] not in {i.ref.id for i in search(connector, cursor)}


def test_search_query_text_bounds_each_nq_group(snow: Snow) -> None:
    spec = mapping(route={"record_type": "incident", "where": {"any": [
        {"all": [{"field": "category", "equals": "software"}, {"field": "priority", "equals": 1}]},
        {"all": [{"field": "category", "equals": "network"}, {"field": "priority", "equals": 2}]},
    ]}})
    old = snow.app.create_incident("old network", category="network", priority=2)
    snow.clock.advance(60)
    since = snow.clock()
    new = snow.app.create_incident("new software", category="software", priority=1)
    connector = make_connector(snow.url)
    assert [i.ref.id for i in search(connector, since, spec)] == [new["sys_id"]]
    assert old["sys_id"] in {i.ref.id for i in search(connector, None, spec)}


def test_search_filters_locally_what_the_query_cannot_say(snow: Snow) -> None:
    where = {"field": "short_description", "matches": "^Disk [0-9]+"}
    spec = mapping(route={"record_type": "incident", "where": where})
    wanted = snow.app.create_incident("Disk 42 full")
    snow.app.create_incident("Disk full")  # selected by STARTSWITH Disk, refused by the regex
    snow.app.create_incident("disk 7 slow")  # selected case-insensitively by ServiceNow, refused locally
    connector = make_connector(snow.url)
    assert [i.ref.id for i in search(connector, None, spec)] == [wanted["sys_id"]]


def test_back_reference_comes_from_the_key_field(snow: Snow) -> None:
    linked = snow.app.create_incident("linked", category="software", correlation_id="OPS-7")
    connector = make_connector(snow.url)
    found = {i.ref.id: i for i in search(connector)}
    assert found[linked["sys_id"]].back_reference == "OPS-7"
    assert connector.find_by_marker(mapping(), "OPS-7").ref.id == linked["sys_id"]  # type: ignore[union-attr]
    assert connector.find_by_marker(mapping(), "ops-7") is None  # ServiceNow's = ignores case; bridge does not
    assert connector.find_by_marker(mapping(), "OPS-8") is None


def test_get_unknown_is_not_found(snow: Snow) -> None:
    connector = make_connector(snow.url)
    with pytest.raises(NotFoundError) as caught:
        connector.get(Ref(Side.ITSM, "incident", "0" * 32, "INC0"), [])
    assert "No Record found" in str(caught.value)


# ------------------------------------------------------------------------------------ journals


def test_journal_round_trip_with_markers(snow: Snow) -> None:
    a, b, c = incidents(snow, 3)
    snow.app.add_customer_comment("incident", a["sys_id"], "It still fails", author="Carol Caller")
    snow.clock.advance(1)
    connector = make_connector(snow.url)
    ref_a = connector.get(Ref(Side.ITSM, "incident", a["sys_id"], a["number"]), []).ref
    before = connector.calls.snapshot()
    written = connector.add_comment(ref_a, "Root cause found", channel="work_notes", marker=Marker(Side.JIRA, "10042"))
    # one PATCH, no journal lookup: the entry is named from its marker (the reads below name it the same)
    assert connector.calls.since(before) == {"PATCH /api/now/table/incident/{id}": 1}
    assert written.marker == Marker(Side.JIRA, "10042")
    assert written.body == "Root cause found"
    rows = snow.app.journal("incident", a["sys_id"])
    assert rows[-1]["value"] == "Root cause found\n\n[bridge:jira:10042]"
    before = connector.calls.snapshot()
    refs = [Ref(Side.ITSM, "incident", x["sys_id"], x["number"]) for x in (a, b, c)]
    comments = connector.comments_since(refs, None)
    # one journal query for all records, one sys_user query for the authors' names (then cached)
    assert connector.calls.since(before) == {"GET /api/now/table/sys_journal_field": 1,
                                             "GET /api/now/table/sys_user": 1}
    before = connector.calls.snapshot()
    assert connector.comments_since(refs, None) == comments
    assert connector.calls.since(before) == {"GET /api/now/table/sys_journal_field": 1}
    assert comments[b["sys_id"]] == []
    assert comments[c["sys_id"]] == []
    customer, mirrored = comments[a["sys_id"]]
    assert (customer.channel, customer.internal, customer.marker, customer.body) == (
        "comments", False, None, "It still fails")
    assert customer.author == "Carol Caller"
    assert (mirrored.channel, mirrored.internal, mirrored.id) == ("work_notes", True, written.id)
    assert connector.find_comment_by_marker(ref_a, Marker(Side.JIRA, "10042")).id == written.id  # type: ignore[union-attr]
    assert connector.find_comment_by_marker(ref_a, Marker(Side.JIRA, "1004")) is None
    later = connector.comments_since(refs, snow.clock() + timedelta(seconds=1))
    assert all(v == [] for v in later.values())


def test_comments_since_chunks_long_id_lists(snow: Snow) -> None:
    made = incidents(snow, 5)
    for m in made:
        snow.app.add_work_note("incident", m["sys_id"], f"note on {m['number']}")
    connector = make_connector(snow.url, max_ids_per_query=2)
    refs = [Ref(Side.ITSM, "incident", m["sys_id"], m["number"]) for m in made]
    comments = connector.comments_since(refs, None)
    assert [c.body for m in made for c in comments[m["sys_id"]]] == [f"note on {m['number']}" for m in made]
    assert connector.calls.snapshot()["GET /api/now/table/sys_journal_field"] == 3


def test_a_quoted_marker_mid_text_is_not_a_marker(snow: Snow) -> None:
    inc = snow.app.create_incident("x")
    snow.app.add_work_note("incident", inc["sys_id"], "I copied [bridge:jira:1] from Jira\nand wrote more")
    connector = make_connector(snow.url)
    ref = Ref(Side.ITSM, "incident", inc["sys_id"], inc["number"])
    (note,) = connector.comments_since([ref], None)[inc["sys_id"]]
    assert note.marker is None
    assert "[bridge:jira:1]" in note.body


@contextmanager
def unanswered(env: Snow) -> Iterator[None]:
    """The instance holds every API request until the block ends: the client's read timeout is its only
    way out (a fixed server delay would race that timeout on a loaded machine)."""
    release = threading.Event()
    env.app.hold = release
    try:
        yield
    finally:
        env.app.hold = None
        release.set()


def test_journal_patch_is_not_retried_after_a_read_timeout(snow: Snow) -> None:
    inc = snow.app.create_incident("slow instance")
    sleep = SleepRecorder()
    connector = make_connector(snow.url, sleep=sleep, options=HttpOptions(
        base_url=snow.url, read_timeout=0.1, max_attempts=5, backoff_base=0.001, requests_per_second=1000, burst=100))
    ref = Ref(Side.ITSM, "incident", inc["sys_id"], inc["number"])
    with unanswered(snow), pytest.raises(TransientError):
        connector.add_comment(ref, "mirrored", channel="work_notes", marker=Marker(Side.JIRA, "77"))
    assert connector.calls.snapshot() == {"PATCH /api/now/table/incident/{id}": 1}
    assert sleep.waits == []
    # the instance did process it (after the client gave up): exactly one entry, found again by its marker
    deadline = time.monotonic() + 3
    while not snow.app.journal("incident", inc["sys_id"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(snow.app.journal("incident", inc["sys_id"])) == 1
    assert connector.find_comment_by_marker(ref, Marker(Side.JIRA, "77")) is not None


def test_idempotent_reads_are_retried_after_a_read_timeout(snow: Snow) -> None:
    inc = snow.app.create_incident("slow instance")
    connector = make_connector(snow.url, options=HttpOptions(
        base_url=snow.url, read_timeout=0.1, max_attempts=3, backoff_base=0.001, requests_per_second=1000, burst=100))
    with unanswered(snow), pytest.raises(TransientError):
        connector.get(Ref(Side.ITSM, "incident", inc["sys_id"], inc["number"]), [])
    assert connector.calls.snapshot() == {"GET /api/now/table/incident/{id}": 3}


# ------------------------------------------------------------------------------------ status


def test_resolve_needs_close_fields(snow: Snow) -> None:
    inc = snow.app.create_incident("Checkout fails")
    connector = make_connector(snow.url)
    ref = Ref(Side.ITSM, "incident", inc["sys_id"], inc["number"])
    with pytest.raises(PermanentError) as caught:
        connector.set_status(ref, "6", {})
    assert caught.value.status == 403
    assert "Data Policy Exception" in str(caught.value)
    assert "Resolution code" in str(caught.value)
    connector.set_status(ref, "6", {"close_code": "Solved (Permanently)", "close_notes": "Fixed in 2.3"})
    record = snow.app.record("incident", inc["sys_id"])
    assert (record["state"], record["close_code"], record["sys_updated_by"]) == ("6", "Solved (Permanently)",
                                                                                 "svc.bridge")
    assert connector.calls.snapshot() == {"PATCH /api/now/table/incident/{id}": 2}


def test_change_model_refusal_is_detected(snow: Snow) -> None:
    chg = snow.app.create_change("Upgrade")
    connector = make_connector(snow.url)
    ref = Ref(Side.ITSM, "change_request", chg["sys_id"], chg["number"])
    with pytest.raises(PermanentError, match="did not apply state 3"):
        connector.set_status(ref, "3", {"close_code": "successful", "close_notes": "done"})
    assert snow.app.record("change_request", chg["sys_id"])["state"] == "-5"
    connector.set_status(ref, "-4", {})
    assert connector.get(ref, []).status == "-4"


def test_update_fields_and_back_reference_are_one_patch_each(snow: Snow) -> None:
    inc = snow.app.create_incident("x")
    connector = make_connector(snow.url)
    ref = Ref(Side.ITSM, "incident", inc["sys_id"], inc["number"])
    connector.update_fields(ref, {"urgency": 1, "description": "more", "active": True})
    connector.write_back_reference(ref, Ref(Side.JIRA, "issue", "10001", "OPS-1"),
                                   {"correlation_id": "OPS-1", "correlation_display": "JIRA"})
    record = snow.app.record("incident", inc["sys_id"])
    assert (record["urgency"], record["description"], record["correlation_id"], record["correlation_display"]) == (
        "1", "more", "OPS-1", "JIRA")
    assert connector.calls.snapshot() == {"PATCH /api/now/table/incident/{id}": 2}
    with pytest.raises(PermanentError):
        connector.add_comment(ref, "x", channel="comment", marker=Marker(Side.JIRA, "1"))


# ------------------------------------------------------------------------------------ limits, auth


def test_a_429_storm_is_retried_a_bounded_number_of_times(snow: Snow) -> None:
    incidents(snow, 2)
    sleep = SleepRecorder()
    connector = make_connector(snow.url, sleep=sleep)
    snow.app.rate_limiter.configure(limit=None, burst_429=2)
    assert len(search(connector)) == 2  # two 429s, then through
    assert len(sleep.waits) == 2
    assert all(w >= 1.0 for w in sleep.waits)  # Retry-After honoured
    snow.app.rate_limiter.configure(limit=None, burst_429=50)
    with pytest.raises(RateLimitedError) as caught:
        search(connector)
    assert caught.value.retry_after is not None
    statuses = connector.calls.statuses()
    assert statuses[("GET /api/now/table/incident", 429)] == 2 + 4  # max_attempts=4 in the storm
    snow.app.rate_limiter.configure(limit=None)


def test_bad_credentials_are_an_auth_error_without_secrets(snow: Snow) -> None:
    connector = ServiceNowConnector(snow.url, user="svc.bridge", password=SecretStr("hunter2-wrong"),
                                    options=HttpOptions(base_url=snow.url, max_attempts=2))
    with pytest.raises(AuthError) as caught:
        search(connector)
    assert "User Not Authenticated" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "Authorization" not in str(caught.value)
    assert connector.calls.total == 1  # not retried


def test_oauth_bearer_token(snow: Snow) -> None:
    incidents(snow, 1)
    connector = ServiceNowConnector(snow.url, token=SecretStr(OAUTH_TOKEN), api_user="svc.bridge")
    assert len(search(connector)) == 1
    assert OAUTH_TOKEN not in repr(connector.http.session.auth)


def test_create_is_refused(snow: Snow) -> None:
    from bridge.connectors.base import CreateSpec

    with pytest.raises(PermanentError):
        make_connector(snow.url).create(CreateSpec("OPS", "Bug", {}, "m"))


# ------------------------------------------------------------------------------------ doctor


def test_check_passes_on_a_healthy_instance(snow: Snow) -> None:
    results = make_connector(snow.url).check([mapping()])
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    whats = " | ".join(r.what for r in results)
    for expected in ("reachable and authenticated", "table incident readable", "sys_journal_field readable",
                     "incident.close_code exists", "incident.correlation_id exists", "'Solution provided'"):
        assert expected in whats


def test_check_explains_what_is_wrong(snow: Snow) -> None:
    bad = mapping(
        route={"record_type": "incident", "where": {"field": "categroy", "equals": "software"}},
        status={"to_itsm": {"Done": {"state": 6, "fields": {"close_code": "Fixed", "close_notes": "x"}}}},
    )
    snow.app.set_acl(journal_readable=False)
    results = {r.what: r for r in make_connector(snow.url).check([bad]) if not r.ok}
    journal = next(r for w, r in results.items() if "sys_journal_field" in w)
    assert "read ACL on sys_journal_field" in (journal.hint or "")
    typo = next(r for w, r in results.items() if "categroy" in w)
    assert "did you mean 'category'" in (typo.hint or "")
    code = next(r for w, r in results.items() if "'Fixed'" in w)
    assert "'Solution provided'" in (code.hint or "")
    assert "'Solved (Permanently)'" in (code.hint or "")


def test_check_reports_refused_credentials() -> None:
    with running_sandbox() as env:
        connector = ServiceNowConnector(env.url, user="svc.bridge", password=SecretStr("wrong"),
                                        options=HttpOptions(base_url=env.url, max_attempts=1))
        (result,) = connector.check([mapping()])
    assert not result.ok
    assert "authentication" in result.what
    assert "wrong" not in (result.hint or "")


def test_check_reports_an_unreachable_instance() -> None:
    with running_sandbox() as env:
        url = env.url
    connector = ServiceNowConnector(url, user="svc.bridge", password=SecretStr("x"),
                                    options=HttpOptions(base_url=url, max_attempts=1, connect_timeout=0.5))
    (result,) = connector.check([mapping()])
    assert not result.ok
    assert "reachable" in result.what


def test_from_settings_builds_a_working_connector(snow: Snow) -> None:
    from bridge.settings import ItsmSettings

    section = ItsmSettings(kind="servicenow", url=snow.url, username="svc.bridge",
                           password=SecretStr("sandbox-password"), timeout_seconds=3)
    incidents(snow, 1)
    connector = ServiceNowConnector.from_settings(section)
    assert (connector.http.options.connect_timeout, connector.http.options.read_timeout) == (3, 3)
    assert connector.api_user == "svc.bridge"
    assert len(search(connector)) == 1
    bearer = ServiceNowConnector.from_settings(ItsmSettings(kind="servicenow", url=snow.url,
                                                            token=SecretStr(OAUTH_TOKEN)))
    assert len(search(bearer)) == 1


def test_the_bootstrap_factory_builds_it_from_the_config_file(snow: Snow, tmp_path: Any) -> None:
    from bridge.bootstrap import build_connector
    from bridge.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: bridge@example.com\n"
        f"itsm:\n  kind: servicenow\n  url: {snow.url}\n  username: svc.bridge\n"
    )
    settings = load_settings(config, env={"BRIDGE_JIRA__TOKEN": "t", "BRIDGE_ITSM__PASSWORD": "sandbox-password"})
    incidents(snow, 2)
    connector = build_connector("servicenow", settings)
    try:
        assert isinstance(connector, ServiceNowConnector)
        assert len(search(connector)) == 2
    finally:
        connector.close()
