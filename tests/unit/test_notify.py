"""Notifications against real local receivers: an HTTP server checking the HMAC, and aiosmtpd.

Also: the events the detector derives from a real store (error joins, stale, recovered), de-duplication,
the summary and the rate limit, and that no secret reaches a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from bridge.errors import ConfigError
from bridge.logging import clear_secrets, configure_logging
from bridge.notify.config import EmailTarget, NotifySettings, WebhookTarget, read_credential
from bridge.notify.detect import ERROR, RECOVERED, STALE, Event, Watch
from bridge.notify.dispatch import Dispatcher, Message
from bridge.notify.hook import NotifyHook
from bridge.notify.senders import DeliveryError, EmailSender, build_senders
from bridge.store import MappingStatus, Store

SECRET = "hmac-key-Zq81-never-logged"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------ receivers


class Receiver:
    """A local HTTP endpoint recording every POST (headers and raw body); answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, box
    controller.stop()


@pytest.fixture
def creds(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "notify_webhook_secret").write_text(SECRET + "\n")
    return {"CREDENTIALS_DIRECTORY": str(directory)}


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    clear_secrets()
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    yield stream
    clear_secrets()


def event(n: int, kind: str = ERROR) -> Event:
    return Event(
        kind, "incidents", f"{kind}:{n}", f"incidents: error #{n}", "HTTP 400: bad field", f"bridge retry {n}", T0
    )


# ------------------------------------------------------------------ senders


def test_webhook_is_signed_with_the_secret_from_the_credential_file(
    receiver: Receiver, creds: dict[str, str], log_stream: io.StringIO
) -> None:
    target = WebhookTarget(
        kind="webhook", name="ops", url=receiver.url("/hook"), secret_credential="notify_webhook_secret"
    )
    (sender,) = build_senders([target], creds)
    Dispatcher([sender]).dispatch([event(12)])

    ((path, headers, body),) = receiver.requests
    assert path == "/hook"
    timestamp = headers["X-Bridge-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Bridge-Signature"] == f"sha256={expected}"
    data = json.loads(body)
    assert data["source"] == "bridge"
    assert data["summary"] is False
    assert data["events"] == [
        {
            "kind": "error",
            "mapping": "incidents",
            "key": "error:12",
            "title": "incidents: error #12",
            "detail": "HTTP 400: bad field",
            "action": "bridge retry 12",
            "at": "2026-03-02T09:00:00Z",
        }
    ]
    assert SECRET not in log_stream.getvalue()
    assert "notification sent" in log_stream.getvalue()


def test_slack_and_teams_post_text_and_their_url_never_reaches_a_log(
    receiver: Receiver, tmp_path: Path, log_stream: io.StringIO
) -> None:
    slack_url = receiver.url("/services/T000/B000/XXXXslacksecret")
    (tmp_path / "slack").write_text(slack_url)
    (tmp_path / "teams").write_text(receiver.url("/webhookb2/teamssecret"))
    settings = NotifySettings.model_validate(
        {
            "targets": [
                {"kind": "slack", "url_credential": str(tmp_path / "slack")},
                {"kind": "teams", "url_credential": str(tmp_path / "teams")},
            ]
        }
    )
    senders = build_senders(settings.targets)
    Dispatcher(senders).dispatch([event(3)])
    assert [p for p, _, _ in receiver.requests] == ["/services/T000/B000/XXXXslacksecret", "/webhookb2/teamssecret"]
    assert all("incidents: error #3" in json.loads(b)["text"] for _, _, b in receiver.requests)

    receiver.status = 500  # a refusal is logged with the target's name, not its URL
    Dispatcher(senders).dispatch([event(4)])
    logs = log_stream.getvalue()
    assert "notification not delivered" in logs
    assert "HTTP 500" in logs
    assert "XXXXslacksecret" not in logs
    assert "teamssecret" not in logs


def test_email_over_smtp(smtp: tuple[Controller, Mailbox]) -> None:
    controller, box = smtp
    target = EmailTarget(
        kind="email",
        host="127.0.0.1",
        port=controller.port,
        tls="none",
        sender="bridge@example.com",
        to=["leads@example.com"],
    )
    Dispatcher([EmailSender(target, None)]).dispatch([event(7)])
    (envelope,) = box.messages
    assert envelope.mail_from == "bridge@example.com"
    assert envelope.rcpt_tos == ["leads@example.com"]
    text = envelope.content.decode()
    assert "Subject: [bridge] incidents: error #7" in text
    assert "bridge retry 7" in text


def test_unreachable_smtp_is_a_delivery_error() -> None:
    target = EmailTarget(
        kind="email", host="127.0.0.1", port=1, tls="none", sender="a@b", to=["c@d"], timeout_seconds=2
    )
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        EmailSender(target, SecretStr("pw")).send(Message("s", "t", (), False))


def test_a_missing_credential_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY"):
        read_credential("notify_webhook_secret", {})
    with pytest.raises(ConfigError, match="cannot read"):
        read_credential(str(tmp_path / "absent"), {})


# ------------------------------------------------------------------ dedupe, summary, rate limit


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> None:
        self.messages.append(message)


def test_one_message_per_event_and_a_summary_when_many_arrive() -> None:
    recorder = Recorder()
    dispatcher = Dispatcher([recorder], summary_after=3)
    dispatcher.dispatch([event(1), event(2)])
    dispatcher.dispatch([event(1)])  # the same event again: nothing
    assert [m.subject for m in recorder.messages] == ["[bridge] incidents: error #1", "[bridge] incidents: error #2"]

    dispatcher.dispatch([event(n) for n in range(10, 15)])
    summary = recorder.messages[-1]
    assert summary.summary
    assert len(summary.events) == 5
    assert summary.subject == "[bridge] 5 events: 5 new error(s)"
    assert "bridge retry --all" in summary.text


def test_rate_limit_holds_events_and_sends_them_as_one_summary_later() -> None:
    now = [0.0]
    recorder = Recorder()
    dispatcher = Dispatcher([recorder], summary_after=10, max_messages=2, window_seconds=60, clock=lambda: now[0])
    dispatcher.dispatch([event(1)])
    dispatcher.dispatch([event(2)])
    dispatcher.dispatch([event(3)])
    dispatcher.dispatch([event(4)])
    assert len(recorder.messages) == 2
    assert len(dispatcher.backlog) == 2
    now[0] = 61
    dispatcher.dispatch([])
    assert len(recorder.messages) == 3
    assert recorder.messages[-1].summary
    assert [e.key for e in recorder.messages[-1].events] == ["error:3", "error:4"]


def test_a_failing_target_does_not_stop_the_others() -> None:
    class Broken:
        name = "broken"

        def send(self, message: Message) -> None:
            raise DeliveryError("broken: HTTP 503")

    recorder = Recorder()
    Dispatcher([Broken(), recorder]).dispatch([event(1)])
    assert len(recorder.messages) == 1


# ------------------------------------------------------------------ detection from a real store


def test_detector_on_a_real_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        store.report_problem("incidents", "fp-old", "conflict", "known before start")
        now = [T0]
        recorder = Recorder()
        hook = NotifyHook(
            NotifySettings(stale_after_seconds=300),
            store,
            ["incidents"],
            interval_seconds=60,
            senders=[recorder],
            now=lambda: now[0],
        )
        assert hook.check() == []  # the entry open at start is not re-announced

        entry = store.report_problem(
            "incidents", "fp-new", "template_error", "summary template: <b>boom</b>", item_ref="INC0010001"
        )
        store.record_cycle("incidents", True, at=T0)
        (message,) = hook.check()
        assert message.events[0].key == f"error:{entry.id}"
        assert message.events[0].action == f"bridge retry {entry.id}"
        assert hook.check() == []  # counted again: still one message

        now[0] = T0 + timedelta(seconds=301)
        (message,) = hook.check()
        assert message.events[0].kind == STALE
        assert "not synced for 5 min" in message.subject
        assert hook.check() == []

        store.record_cycle("incidents", True, at=now[0])
        (message,) = hook.check()
        assert message.events[0].kind == RECOVERED
    finally:
        store.close()


def test_watch_is_pure_over_plain_values() -> None:
    watch = Watch()
    statuses = {"a": MappingStatus("a", T0, True, T0)}
    assert watch.check([], statuses, {"a": 60, "b": 60}, T0 + timedelta(seconds=30), T0) == []
    events = watch.check([], statuses, {"a": 60, "b": 60}, T0 + timedelta(seconds=90), T0)
    assert [(e.kind, e.mapping) for e in events] == [(STALE, "a"), (STALE, "b")]


def test_build_hook_is_off_without_targets_and_reads_secrets_with_them(
    tmp_path: Path, creds: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.notify.hook import build_hook

    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        assert build_hook(NotifySettings(), store, ["incidents"], interval_seconds=60) is None
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", creds["CREDENTIALS_DIRECTORY"])
        settings = NotifySettings.model_validate(
            {
                "targets": [
                    {"kind": "webhook", "url": "http://127.0.0.1:9/x", "secret_credential": "notify_webhook_secret"}
                ],
                "mapping_stale_after_seconds": {"incidents": 900},
            }
        )
        hook = build_hook(settings, store, ["incidents", "changes"], interval_seconds=60)
        assert hook is not None
        assert hook.limits == {"incidents": 900.0, "changes": 180.0}
    finally:
        store.close()
