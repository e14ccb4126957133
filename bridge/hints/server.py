"""The hint listener: ``POST /hooks/jira`` and ``POST /hooks/itsm`` on ``hints.bind``.

A stdlib ``ThreadingHTTPServer`` in a daemon thread of its own, so a webhook never waits for a cycle and
a cycle never waits for a webhook: a request is verified, parsed, queued and answered (202) at once;
the mini-cycle runs later on the queue's worker. Answers: 202 accepted (or nothing of ours: the event
names no item bridge syncs), 400 malformed, 401 bad or missing signature/token (counted), 404 unknown
path or an endpoint whose secret is not configured, 405 not a POST, 413 a body over 1 MiB. No answer
echoes anything the request sent, and no secret is ever logged.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bridge.hints.config import HintsSettings
from bridge.hints.payload import Hint, Malformed, itsm_authentic, itsm_hint, jira_authentic, jira_hint
from bridge.hints.queue import HintQueue
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side

log = get_logger(__name__)

MAX_BODY = 1024 * 1024
ENDPOINTS = {"/hooks/jira": "jira", "/hooks/itsm": "itsm"}


class HintCounts(Collector):
    """``bridge_hints_total{endpoint, outcome}``: accepted, ignored, malformed, unauthorized, too_large."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, endpoint: str, outcome: str) -> None:
        with self._lock:
            self._counts[(endpoint, outcome)] += 1

    def get(self, endpoint: str, outcome: str) -> int:
        with self._lock:
            return self._counts[(endpoint, outcome)]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "bridge_hints", "Webhook hints received, by endpoint and outcome.", labels=["endpoint", "outcome"]
        )
        with self._lock:
            for (endpoint, outcome), count in sorted(self._counts.items()):
                family.add_metric([endpoint, outcome], count)
        yield family


def route(hint: Hint, mappings: Sequence[MappingSpec]) -> list[tuple[str, Ref]]:
    """The (mapping, item) pairs a hint asks to read.

    Jira: the mappings whose target project is the issue key's project. ITSM: the mappings of the
    record type the hint names; when it names none, or one no mapping has (a JSM project key), every
    mapping: a wrong guess costs one read that finds nothing the route selects.
    """
    named = [m for m in mappings if hint.mapping in (None, m.name)]
    if hint.side == "jira":
        project = hint.key.rpartition("-")[0]
        return [(m.name, Ref(Side.JIRA, "issue", hint.id, hint.key)) for m in named
                if not project or m.target.project == project]
    kind = (hint.kind or "").casefold()
    chosen = [m for m in named if kind and m.route.record_type.casefold() == kind] or named
    return [(m.name, Ref(Side.ITSM, m.route.record_type, hint.id, hint.key)) for m in chosen]


class HintServer:
    """Owns the listener thread; ``queue`` receives every accepted hint. Stop with :meth:`stop`."""

    def __init__(
        self,
        settings: HintsSettings,
        queue: HintQueue,
        mappings: Callable[[], Sequence[MappingSpec]],
        counts: HintCounts | None = None,
    ) -> None:
        assert settings.bind is not None
        self.settings = settings
        self.queue = queue
        self.mappings = mappings
        self.counts = counts or HintCounts()
        host, _, port = settings.bind.rpartition(":")
        self._server = ThreadingHTTPServer((host.strip("[]"), int(port)), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bridge-hints-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> HintServer:
        self._thread.start()
        log.info("webhook hints listening", url=self.url, endpoints=sorted(ENDPOINTS))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """Verify, parse and queue one request; the HTTP status and a short reason (never request data)."""
        endpoint = ENDPOINTS.get(path.rstrip("/"))
        if endpoint is None:
            return HTTPStatus.NOT_FOUND, "unknown path"
        s = self.settings
        if endpoint == "jira":
            if s.jira_secret is None and s.jira_url_token is None:
                return HTTPStatus.NOT_FOUND, "the Jira endpoint is not configured"
            authentic = jira_authentic(body, headers, query, s.jira_secret, s.jira_url_token)
        else:
            if s.itsm_token is None:
                return HTTPStatus.NOT_FOUND, "the ITSM endpoint is not configured"
            authentic = itsm_authentic(headers, s.itsm_token)
        if not authentic:
            self.counts.add(endpoint, "unauthorized")
            log.warning("webhook hint refused: bad or missing signature or token", endpoint=endpoint)
            return HTTPStatus.UNAUTHORIZED, "bad or missing signature or token"
        try:
            hint = jira_hint(body) if endpoint == "jira" else itsm_hint(body)
        except Malformed as exc:
            self.counts.add(endpoint, "malformed")
            return HTTPStatus.BAD_REQUEST, str(exc)
        targets = route(hint, self.mappings()) if hint is not None else []
        if hint is None or not targets:
            self.counts.add(endpoint, "ignored")
            return HTTPStatus.ACCEPTED, "nothing bridge syncs"
        for mapping, ref in targets:
            self.queue.add(mapping, [ref])
        self.counts.add(endpoint, "accepted")
        log.debug("webhook hint queued", endpoint=endpoint, item=hint.key, mappings=[m for m, _ in targets])
        return HTTPStatus.ACCEPTED, "queued"


def _handler(owner: HintServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "bridge-hints"
        sys_version = ""

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                if parts.path.rstrip("/") in ENDPOINTS:
                    owner.counts.add(ENDPOINTS[parts.path.rstrip("/")], "too_large")
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large", close=True)
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, reason = owner.handle(parts.path, parts.query, headers, body)
            except Exception:
                log.exception("webhook hint failed; the next poll reads the change")
                status, reason = HTTPStatus.INTERNAL_SERVER_ERROR, "internal error"
            self._send(status, reason)

        def do_GET(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, "POST only")

        def _send(self, status: int, reason: str, *, close: bool = False) -> None:
            payload = (reason + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request line carries the URL token of the Jira endpoint."""

    return Handler
