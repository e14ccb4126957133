"""The common frame of the sandbox servers: a real HTTP server on loopback, routing, JSON, rate limits.

The sandboxes stand in for Jira and ServiceNow where no real server can run (tests, ``bridge demo``).
They must behave like the vendors' documented APIs to the letter, so every vendor behaviour lives in the
vendor module (``jira/``, ``servicenow.py``) with a comment naming the document it follows; this module
only holds what both share:

* :class:`SandboxServer` — a ``ThreadingHTTPServer`` bound to ``127.0.0.1`` on a free port, started in a
  thread (or in a subprocess via ``python -m bridge.sandbox``), stopped cleanly;
* :class:`Router` — method + path-pattern routing to handlers that return :class:`Reply`;
* :class:`RateLimiter` — a switchable fixed-window limiter tests turn on to provoke 429 storms, with the
  vendor module choosing the headers and body of the 429;
* an admin surface under ``/_sandbox/…`` (reset, rate limits, latency, scripting) that the vendor modules
  extend, so tests and the demo act "as a person would" over HTTP as well as in Python;
* persistence of the whole state as JSON in a directory, so a sandbox subprocess can be restarted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One parsed request as handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The JSON body; raises ``ValueError`` for a malformed one (handlers answer 400)."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    """What a handler answers: status, a JSON-able body (or raw text) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    #: raw bytes (a file download); ``Content-Type`` from ``headers``, else application/octet-stream
    data: bytes | None = None


Handler = Callable[[Request], Reply]


class Router:
    """Routes ``(method, path)`` to handlers; path patterns use ``{name}`` for one segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/")) + "/?$"
        self._routes.append((method.upper(), re.compile(regex), handler))

    def route(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | str | None:
        """The handler and path params; the string ``"method"`` when the path exists for other methods."""
        path_matched = False
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if match:
                if route_method == method.upper():
                    return handler, match.groupdict()
                path_matched = True
        return "method" if path_matched else None


class RateLimiter:
    """A fixed-window request limiter that is off until a test or the demo switches it on.

    ``limit`` requests per ``window`` seconds; beyond it :meth:`check` returns the seconds until the
    window resets. ``burst_429`` forces the next N requests to be refused whatever the count, for storms.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.window = 1.0
        self._window_start = clock()
        self._count = 0
        self.burst_429 = 0
        self.refused = 0

    def configure(self, limit: int | None, window: float = 1.0, burst_429: int = 0) -> None:
        with self._lock:
            self.limit = limit
            self.window = window
            self.burst_429 = burst_429
            self._window_start = self._clock()
            self._count = 0

    def check(self) -> float | None:
        """``None`` when the request may pass, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            if self.burst_429 > 0:
                self.burst_429 -= 1
                self.refused += 1
                return max(1.0, self.window)
            if self.limit is None:
                return None
            if now - self._window_start >= self.window:
                self._window_start = now
                self._count = 0
            if self._count >= self.limit:
                self.refused += 1
                return max(0.001, self.window - (now - self._window_start))
            self._count += 1
            return None


class SandboxApp:
    """Base class of a vendor sandbox: state, routes, auth and the shared admin endpoints.

    Subclasses register their vendor routes in :meth:`routes`, check credentials in :meth:`authenticate`
    and shape vendor-specific errors in :meth:`unauthorized`, :meth:`not_found`, :meth:`rate_limited` and
    :meth:`bad_request`. State must be JSON-able and live in ``self.state`` so :meth:`save` can persist it.
    """

    name = "sandbox"

    def __init__(self, state_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.router = Router()
        self.rate_limiter = RateLimiter()
        self.latency = 0.0
        #: When set, vendor API requests wait for this event before being served: a test's "the server does
        #: not answer" that no read timeout can race (unlike a fixed ``latency``).
        self.hold: threading.Event | None = None
        self.state_dir = state_dir
        self.state: dict[str, Any] = {}
        self.requests_seen = 0
        self.routes()
        self._admin_routes()
        if state_dir is not None and (state_dir / f"{self.name}.json").exists():
            self.state = json.loads((state_dir / f"{self.name}.json").read_text())
        else:
            self.reset()

    # ------------------------------------------------------------------------ to be provided by vendors

    def reset(self) -> None:
        """Empty the state (subclasses seed their fixed data: users, projects, workflows…)."""
        self.state = {}

    def routes(self) -> None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> bool:
        return True

    def unauthorized(self, request: Request) -> Reply:
        return Reply(401, {"message": "Unauthorized"})

    def not_found(self, request: Request) -> Reply:
        return Reply(404, {"message": "Not Found"})

    def method_not_allowed(self, request: Request) -> Reply:
        return Reply(405, {"message": "Method Not Allowed"})

    def bad_request(self, request: Request, message: str) -> Reply:
        return Reply(400, {"message": message})

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        return Reply(429, {"message": "Too Many Requests"}, {"Retry-After": str(max(1, round(retry_after)))})

    # ----------------------------------------------------------------------------------- plumbing

    def server_time(self) -> datetime:
        """The vendor's clock, sent as every response's ``Date`` header (a sandbox with a test clock
        overrides this, so a client reading ``Date`` sees the same time the records are stamped with)."""
        return datetime.now(UTC)

    def save(self) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / f"{self.name}.json.tmp"
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.state_dir / f"{self.name}.json")

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            found = self.router.route(request.method, request.path)
            if isinstance(found, tuple):
                handler, request.params = found
                with self.lock:
                    reply = handler(request)
                    self.save()
                return reply
            return self.not_found(request)
        with self.lock:
            self.requests_seen += 1
        if self.latency:
            time.sleep(self.latency)
        if (hold := self.hold) is not None:
            hold.wait()
        wait = self.rate_limiter.check()
        if wait is not None:
            return self.rate_limited(request, wait)
        if not self.authenticate(request):
            return self.unauthorized(request)
        found = self.router.route(request.method, request.path)
        if found is None:
            return self.not_found(request)
        if found == "method":
            return self.method_not_allowed(request)
        assert isinstance(found, tuple)
        handler, request.params = found
        try:
            with self.lock:
                reply = handler(request)
                if request.method != "GET":
                    self.save()
                return reply
        except json.JSONDecodeError as exc:
            return self.bad_request(request, f"Unexpected character in JSON body: {exc.msg}")

    def _admin_routes(self) -> None:
        def reset(_: Request) -> Reply:
            self.reset()
            return Reply(204)

        def rate_limit(request: Request) -> Reply:
            body = request.json() or {}
            self.rate_limiter.configure(body.get("limit"), float(body.get("window", 1.0)), int(body.get("burst", 0)))
            return Reply(204)

        def latency(request: Request) -> Reply:
            self.latency = float((request.json() or {}).get("seconds", 0.0))
            return Reply(204)

        def stats(_: Request) -> Reply:
            return Reply(200, {"requests": self.requests_seen, "refused_429": self.rate_limiter.refused})

        self.router.add("POST", "/_sandbox/reset", reset)
        self.router.add("POST", "/_sandbox/rate-limit", rate_limit)
        self.router.add("POST", "/_sandbox/latency", latency)
        self.router.add("GET", "/_sandbox/stats", stats)


def _make_handler(app: SandboxApp) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"bridge-sandbox-{app.name}"
        # TCP_NODELAY on every accepted socket (``StreamRequestHandler.setup`` sets it once per connection, so
        # it holds for every request of a keep-alive connection). A reply goes out as two writes (status and
        # headers, then the body); with Nagle's algorithm on, the body waits for the ACK of the headers, which
        # the client delays by up to 40 ms: every request stalled 20-44 ms and every wall-clock figure
        # measured against a sandbox was mostly that stall. Request counts are unaffected.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: tests and the demo print their own story

        def date_time_string(self, timestamp: float | None = None) -> str:
            if timestamp is None:
                return format_datetime(app.server_time().astimezone(UTC), usegmt=True)
            return super().date_time_string(timestamp)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                reply = app.handle(request)
            except Exception as exc:  # a sandbox bug must show as a 500, not a hung client
                reply = Reply(500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"})
            if reply.data is not None:
                payload = reply.data
                content_type = reply.headers.pop("Content-Type", "application/octet-stream")
            elif reply.text is not None:
                payload = reply.text.encode()
                content_type = reply.headers.pop("Content-Type", "text/plain;charset=UTF-8")
            elif reply.body is None:
                payload = b""
                content_type = None
            else:
                payload = json.dumps(reply.body).encode()
                content_type = "application/json;charset=UTF-8"
            try:
                phrase = HTTPStatus(reply.status).phrase
            except ValueError:
                phrase = ""
            self.send_response(reply.status, phrase)
            if content_type:
                self.send_header("Content-Type", content_type)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return _Handler


class SandboxServer:
    """Runs a :class:`SandboxApp` on ``127.0.0.1`` in a background thread.

    ``port=0`` picks a free port; :attr:`url` is the base URL to give a connector.
    """

    def __init__(self, app: SandboxApp, port: int = 0) -> None:
        self.app = app
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(app))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        # Poll for shutdown every 10 ms (the default is 0.5 s): each stop waits up to one poll, and tests
        # start and stop hundreds of sandboxes; an idle sandbox waking 100 times a second costs nothing.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"sandbox-{self.app.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
