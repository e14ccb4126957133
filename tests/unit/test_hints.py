"""Webhook hints: the endpoints refuse what is not signed (401, counted), a valid hint runs a mini-cycle
that reads only the hinted items and never moves a cursor, and a flood is coalesced."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from bridge.daemon import Daemon
from bridge.hints.config import HintsSettings
from bridge.hints.payload import Malformed, itsm_hint, jira_hint
from bridge.hints.queue import HintQueue
from bridge.hints.server import HintServer, route
from bridge.model import Ref, Side
from bridge.sync.engine import Engine
from bridge.sync.hinted import run_hinted
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
SECRET = "jira-webhook-secret"
TOKEN = "itsm-bearer-token"
SEARCH_ITSM = "GET /api/now/table/incident"
SEARCH_JIRA = "POST /rest/api/3/search/jql"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def settings(**overrides: object) -> HintsSettings:
    values: dict[str, object] = {"bind": "127.0.0.1:0", "jira_secret": SecretStr(SECRET),
                                 "itsm_token": SecretStr(TOKEN), "debounce_seconds": 0.0}
    return HintsSettings.model_validate({**values, **overrides})


class Recorder:
    """The queue's run callback: what mini-cycles would run, and when."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, list[Ref]]] = []
        self.done = threading.Event()

    def __call__(self, mapping: str, refs: list[Ref]) -> None:
        self.runs.append((mapping, refs))
        self.done.set()


@pytest.fixture
def served(world: World) -> Iterator[tuple[HintServer, Recorder]]:
    recorder = Recorder()
    queue = HintQueue(recorder, debounce=0.0)
    server = HintServer(settings(), queue, world.engine.enabled_mappings).start()
    queue.start()
    yield server, recorder
    server.stop()
    queue.stop()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def jira_body(key: str = "OPS-1", issue_id: str = "10001") -> bytes:
    return json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": issue_id, "key": key}}).encode()


# ------------------------------------------------------------------------------------ endpoints


def test_a_signed_jira_webhook_is_queued(served: tuple[HintServer, Recorder]) -> None:
    server, recorder = served
    body = jira_body()
    answer = requests.post(f"{server.url}/hooks/jira", data=body, headers=signed(body), timeout=5)
    assert answer.status_code == 202
    assert recorder.done.wait(5)
    assert recorder.runs == [(M, [Ref(Side.JIRA, "issue", "10001", "OPS-1")])]
    assert server.counts.get("jira", "accepted") == 1


@pytest.mark.parametrize("headers", [
    {},
    {"X-Hub-Signature": "sha256=" + "0" * 64},
    signed(jira_body(), secret="not-the-secret"),
    {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), jira_body(), hashlib.sha1).hexdigest()},
])
def test_a_jira_webhook_without_a_valid_signature_is_refused_and_counted(
    served: tuple[HintServer, Recorder], headers: dict[str, str]
) -> None:
    server, recorder = served
    answer = requests.post(f"{server.url}/hooks/jira", data=jira_body(), headers=headers, timeout=5)
    assert answer.status_code == 401
    assert SECRET not in answer.text
    assert server.counts.get("jira", "unauthorized") == 1
    time.sleep(0.1)
    assert recorder.runs == []


def test_a_signature_over_another_body_is_refused(served: tuple[HintServer, Recorder]) -> None:
    server, _ = served
    answer = requests.post(f"{server.url}/hooks/jira", data=jira_body("OPS-2"), headers=signed(jira_body("OPS-1")),
                           timeout=5)
    assert answer.status_code == 401


def test_the_itsm_endpoint_wants_its_bearer_token(served: tuple[HintServer, Recorder]) -> None:
    server, recorder = served
    body = json.dumps({"table": "incident", "sys_id": "abc123", "number": "INC0010001"}).encode()
    assert requests.post(f"{server.url}/hooks/itsm", data=body, timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(f"{server.url}/hooks/itsm", data=body, headers=wrong, timeout=5).status_code == 401
    assert server.counts.get("itsm", "unauthorized") == 2
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(f"{server.url}/hooks/itsm", data=body, headers=good, timeout=5).status_code == 202
    assert recorder.done.wait(5)
    assert recorder.runs == [(M, [Ref(Side.ITSM, "incident", "abc123", "INC0010001")])]


def test_malformed_unknown_and_unconfigured(world: World) -> None:
    recorder = Recorder()
    queue = HintQueue(recorder, debounce=0.0)
    server = HintServer(settings(jira_secret=None), queue, world.engine.enabled_mappings).start()
    try:
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.post(f"{server.url}/hooks/itsm", data=b"not json", headers=good, timeout=5).status_code == 400
        assert requests.post(f"{server.url}/hooks/other", data=b"{}", headers=good, timeout=5).status_code == 404
        assert requests.get(f"{server.url}/hooks/itsm", timeout=5).status_code == 405
        body = jira_body()
        # no Jira secret configured: the endpoint does not exist, nothing is accepted unsigned
        assert requests.post(f"{server.url}/hooks/jira", data=body, headers=signed(body), timeout=5).status_code == 404
        assert queue.pending() == {}
    finally:
        server.stop()


def test_a_url_token_stands_in_where_jira_cannot_sign(world: World) -> None:
    queue = HintQueue(Recorder(), debounce=60.0)
    server = HintServer(settings(jira_secret=None, jira_url_token=SecretStr("url-token")), queue,
                        world.engine.enabled_mappings).start()
    try:
        assert requests.post(f"{server.url}/hooks/jira?token=wrong", data=jira_body(), timeout=5).status_code == 401
        assert requests.post(f"{server.url}/hooks/jira?token=url-token", data=jira_body(), timeout=5).status_code == 202
        assert queue.pending() == {M: [Ref(Side.JIRA, "issue", "10001", "OPS-1")]}
    finally:
        server.stop()


def test_hints_need_a_secret_when_bound() -> None:
    with pytest.raises(ValueError, match="no secret"):
        HintsSettings(bind="127.0.0.1:9465")
    assert "jira-webhook-secret" not in repr(settings())


# ------------------------------------------------------------------------------------ payloads


def test_payload_shapes() -> None:
    assert jira_hint(b'{"webhookEvent": "project_created", "project": {}}') is None
    hint = jira_hint(b'{"webhookEvent": "comment_created", "comment": {}, "issue": {"id": 7, "key": "OPS-7"}}')
    assert hint is not None
    assert (hint.id, hint.key) == ("7", "OPS-7")
    with pytest.raises(Malformed):
        jira_hint(b'{"issue": {}}')
    with pytest.raises(Malformed):
        jira_hint(b"[]")
    rt = itsm_hint(b'{"queue": "General", "ticket": 42}')
    assert (rt.id, rt.key, rt.kind) == ("42", "RT#42", "General")
    jsm = itsm_hint(b'{"issue": {"id": "10050", "key": "SD-3", "fields": {"project": {"key": "SD"}}}}')
    assert (jsm.id, jsm.key, jsm.kind) == ("10050", "SD-3", "SD")
    with pytest.raises(Malformed):
        itsm_hint(b'{"table": "incident"}')


def test_route_by_project_and_record_type() -> None:
    spec = mapping_spec()
    hint = jira_hint(jira_body("DEV-1"))
    assert hint is not None
    assert route(hint, [spec]) == []
    assert route(itsm_hint(b'{"table": "change_request", "sys_id": "x"}'), [spec]) == [
        (M, Ref(Side.ITSM, "incident", "x", "x"))
    ]
    assert route(itsm_hint(b'{"sys_id": "x", "mapping": "other"}'), [spec]) == []


# ------------------------------------------------------------------------------------ coalescing


def test_a_flood_is_coalesced_into_one_mini_cycle_per_mapping() -> None:
    now = [0.0]
    recorder = Recorder()
    queue = HintQueue(recorder, debounce=0.5, max_items=3, clock=lambda: now[0])
    refs = [Ref(Side.JIRA, "issue", str(i % 4), f"OPS-{i % 4}") for i in range(100)]
    for ref in refs:
        queue.add(M, [ref])
    assert queue.take_due() is None, "the debounce gathers the flood first"
    now[0] = 1.0
    due = queue.take_due()
    assert due is not None
    assert due[0] == M
    assert len(due[1]) == 3, "at most max_items per mini-cycle"
    assert queue.take_due() is None, "the rest waits for a debounce of its own"
    now[0] = 2.0
    rest = queue.take_due()
    assert rest is not None
    assert [*due[1], *rest[1]] == [Ref(Side.JIRA, "issue", str(i), f"OPS-{i}") for i in range(4)]


# ------------------------------------------------------------------------------------ mini-cycle


def steady(world: World) -> Ref:
    record = world.incident("Printer on fire", state="2")
    world.cycle()
    world.settle()
    return record


def test_a_mini_cycle_reads_only_the_hinted_item_and_leaves_the_cursors(world: World) -> None:
    record = steady(world)
    other = world.incident("Another one", state="2")
    cursors = {side: world.store.get_cursor(M, side) for side in Side}
    world.clock.advance(minutes=1)
    world.itsm.comment(record, "any news?")
    report = run_hinted(world.engine, M, [Ref(Side.ITSM, "incident", record.id, record.key)])
    assert report.hinted
    assert SEARCH_ITSM not in report.calls["itsm"]
    assert SEARCH_JIRA not in report.calls.get("jira", {})
    assert report.actions_by_kind == {"add_comment": 1}
    [mirror] = world.jira.comments(world.issue_of(record))
    assert "any news?" in mirror.body
    assert {side: world.store.get_cursor(M, side) for side in Side} == cursors
    assert world.store.link_for_record(M, other.id) is None, "items not hinted wait for the poll"
    # the poll that follows: the hinted change is known by its version, the other one is new
    poll = world.cycle()
    assert poll.actions_by_kind.get("add_comment", 0) == 0
    assert world.store.link_for_record(M, other.id) is not None
    assert len(world.jira.comments(world.issue_of(record))) == 1


def test_a_mini_cycle_of_a_new_record_escalates_it_once(world: World) -> None:
    steady(world)
    record = world.incident("Hinted at once", state="2")
    report = run_hinted(world.engine, M, [Ref(Side.ITSM, "incident", record.id, record.key)] * 3)
    assert report.actions_by_kind.get("create_issue") == 1
    again = run_hinted(world.engine, M, [Ref(Side.ITSM, "incident", record.id, record.key)])
    assert again.actions == [], "a replayed hint re-reads the same version and plans nothing"
    world.settle()
    assert len(world.jira.issues()) == 2


def test_a_hint_for_a_gone_item_or_a_foreign_issue_plans_nothing(world: World) -> None:
    steady(world)
    report = run_hinted(world.engine, M, [Ref(Side.ITSM, "incident", "no-such-id", "INC9"),
                                          Ref(Side.JIRA, "issue", "OPS-404", "OPS-404")])
    assert report.actions == []


def test_the_daemon_runs_hinted_mini_cycles_between_passes(world: World) -> None:
    record = steady(world)
    daemon = Daemon(world.engine, interval_seconds=3600)
    world.clock.advance(minutes=1)
    world.itsm.comment(record, "hinted")
    result = daemon.run_hinted(M, [Ref(Side.ITSM, "incident", record.id, record.key)])
    assert result is not None
    assert not isinstance(result, BaseException)
    assert result.actions_by_kind == {"add_comment": 1}
    daemon.standby.add(M)
    assert daemon.run_hinted(M, [Ref(Side.ITSM, "incident", record.id, record.key)]) is None


def test_the_daemon_drains_a_budgeted_backlog_in_one_job(world: World) -> None:
    world.engine = Engine(world.store, world.itsm, world.jira, [world.spec],
                          options=replace(world.engine.options, cycle_budget=3), clock=world.clock)
    records = [world.incident(f"Backlog {i}") for i in range(4)]
    daemon = Daemon(world.engine, interval_seconds=3600)
    daemon.run_all()
    assert all(world.store.link_for_record(M, r.id) is not None for r in records)
    assert daemon.runs == 4
