"""Health of the daemon, and the loopback HTTP server for ``/metrics`` and ``/healthz``.

Health means "every enabled mapping is being synced": a mapping is healthy while its last
*successful* cycle finished at most ``stale_after`` intervals ago (3 by default). One failed
cycle (a vendor's brief 503) therefore does not flip health; a mapping that keeps failing, or a
scheduler that stopped calling cycles, does, within three intervals.

Before a mapping's first success the daemon is ``starting``: healthy (HTTP 200) during a grace
period of ``stale_after`` intervals from start, so an orchestrator's probe does not kill a
daemon whose first cycle works through a backlog, and unhealthy (503) after it. The same rule as
staleness, measured from the start instead of the last success.

``/healthz`` answers JSON::

    {"status": "ok" | "starting" | "standby" | "unhealthy",
     "reason": "…",                      # one line, names the worst mapping
     "interval_s": 60, "stale_after_s": 180,
     "mappings": {"incident-to-bug": {"enabled": true, "standby": false, "ok": true, "last_success": "2026-…Z",
                                      "age_s": 12.0, "last_cycle": "2026-…Z"}}}

``ok`` is the outcome of the LAST cycle (may be false while the mapping is still healthy);
``age_s`` is the age of the last success (``null`` before the first).

The server is stdlib ``ThreadingHTTPServer`` in a daemon thread: a scrape must never wait for a
cycle, and a hung client must not block the next scrape.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client.exposition import choose_encoder

from bridge.metrics import Metrics

log = structlog.get_logger(__name__)

DEFAULT_STALE_AFTER = 3

#: ``(client address, request headers) -> (HTTP status, headers incl. Content-Type, body)``: the status
#: page of :mod:`bridge.status.page`, served at ``/`` when configured.
StatusPageHandler = Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer to one health check: ``http_status`` 200 or 503 and the JSON ``body``."""

    healthy: bool
    body: dict[str, Any]

    @property
    def http_status(self) -> int:
        return 200 if self.healthy else 503


@dataclass(slots=True)
class _MappingHealth:
    last_cycle: float | None = None
    last_ok: bool | None = None
    last_success: float | None = None


class HealthState:
    """Last cycle per mapping, judged against the schedule interval. Thread-safe.

    ``mappings`` are the ENABLED mappings: each must be healthy. A mapping reported by
    :meth:`cycle_finished` but not enabled (renamed, disabled) is shown but not judged.
    """

    def __init__(
        self,
        interval_s: float,
        mappings: Iterable[str] = (),
        *,
        stale_after: int = DEFAULT_STALE_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval must be positive")
        if stale_after < 1:
            raise ValueError("stale_after must be at least 1 interval")
        self.interval_s = float(interval_s)
        self.stale_after = stale_after
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self._enabled: list[str] = sorted(set(mappings))
        self._standby: set[str] = set()
        #: when this replica took a mapping over from standby: its start grace period begins again there
        self._led_since: dict[str, float] = {}
        self._mappings: dict[str, _MappingHealth] = {}

    @property
    def stale_after_s(self) -> float:
        return self.interval_s * self.stale_after

    def set_mappings(self, mappings: Iterable[str]) -> None:
        """Replace the set of enabled mappings (after a configuration reload)."""
        with self._lock:
            self._enabled = sorted(set(mappings))

    def set_standby(self, mapping: str, standby: bool) -> None:
        """Mark ``mapping`` as led by another replica (or no longer). A standby mapping is shown, not
        judged: a replica waiting for its turn is doing its job, and a probe must not restart it. A
        mapping taken over gets the start grace period again: its first cycle may work off a backlog."""
        with self._lock:
            if standby:
                self._standby.add(mapping)
            elif mapping in self._standby:
                self._standby.discard(mapping)
                self._led_since[mapping] = self.clock()

    def cycle_finished(self, mapping: str, ok: bool, at: float | None = None) -> None:
        """Record a finished cycle; ``ok`` as for :meth:`bridge.metrics.Metrics.cycle_finished`."""
        when = self.clock() if at is None else at
        with self._lock:
            entry = self._mappings.setdefault(mapping, _MappingHealth())
            entry.last_cycle = when
            entry.last_ok = ok
            if ok:
                entry.last_success = when

    def check(self) -> HealthReport:
        now = self.clock()
        limit = self.stale_after_s
        with self._lock:
            enabled = list(self._enabled)
            standby = set(self._standby)
            led_since = dict(self._led_since)
            entries = {
                name: _MappingHealth(e.last_cycle, e.last_ok, e.last_success) for name, e in self._mappings.items()
            }
        if not enabled:
            return HealthReport(False, self._body("unhealthy", "no enabled mapping", now, entries, enabled, standby))
        judged = [name for name in enabled if name not in standby]
        if not judged:
            reason = "standby: another replica leads every enabled mapping"
            return HealthReport(True, self._body("standby", reason, now, entries, enabled, standby))

        problems: list[str] = []
        starting: list[str] = []
        for name in judged:
            entry = entries.get(name, _MappingHealth())
            since = led_since.get(name, self.started)
            if entry.last_success is not None and entry.last_success >= since:
                age = now - entry.last_success
                if age > limit:
                    problems.append(f"{name}: last successful cycle {age:.0f}s ago (limit {limit:.0f}s)")
            elif now - since > limit:
                event = "start" if name not in led_since else "taking it over"
                problems.append(
                    f"{name}: no successful cycle in {now - since:.0f}s since {event} (limit {limit:.0f}s)"
                )
            else:
                starting.append(name)
        if problems:
            reason = problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            return HealthReport(False, self._body("unhealthy", reason, now, entries, enabled, standby))
        if starting:
            return HealthReport(
                True,
                self._body(
                    "starting", f"waiting for the first cycle of {', '.join(starting)}", now, entries, enabled, standby
                ),
            )
        reason = "every enabled mapping synced recently" if not standby else "every mapping led here synced recently"
        return HealthReport(True, self._body("ok", reason, now, entries, enabled, standby))

    def _body(
        self,
        status: str,
        reason: str,
        now: float,
        entries: dict[str, _MappingHealth],
        enabled: list[str],
        standby: set[str],
    ) -> dict[str, Any]:
        mappings: dict[str, Any] = {}
        for name in sorted(set(enabled) | set(entries)):
            entry = entries.get(name, _MappingHealth())
            age = None if entry.last_success is None else round(now - entry.last_success, 3)
            mappings[name] = {
                "enabled": name in enabled,
                "standby": name in standby,
                "ok": entry.last_ok,
                "last_success": _iso(entry.last_success),
                "age_s": age,
                "last_cycle": _iso(entry.last_cycle),
            }
        return {
            "status": status,
            "reason": reason,
            "interval_s": self.interval_s,
            "stale_after_s": self.stale_after_s,
            "mappings": mappings,
        }


# ------------------------------------------------------------------------------------------ server
def parse_bind(bind: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"``, ``"localhost:0"`` -> (host, port)."""
    host, sep, port_text = bind.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"not a bind address: {bind!r} (expected HOST:PORT such as 127.0.0.1:9464)")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port out of range in bind address {bind!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Another replica or a restart within TIME_WAIT must be able to bind again at once.
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], metrics: Metrics, health: HealthState, status_page: StatusPageHandler | None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.metrics = metrics
        self.health = health
        self.status_page = status_page
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "bridge"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(HTTPStatus.OK, content_type, encoder(self.server.metrics.registry), head)
        elif path in ("/healthz", "/health"):
            report = self.server.health.check()
            body = json.dumps(report.body, sort_keys=True).encode() + b"\n"
            self._send(HTTPStatus(report.http_status), "application/json", body, head)
        elif path == "/" and self.server.status_page is not None:  # bridge.status.page (status_page.enabled)
            status, headers, body = self.server.status_page(self.client_address[0], dict(self.headers.items()))
            self._send(HTTPStatus(status), headers.pop("Content-Type"), body, head, headers)
        elif path == "/":
            body = b"bridge: /metrics (Prometheus) and /healthz (JSON)\n"
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", body, head)
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", head)

    def _send(
        self, status: HTTPStatus, content_type: str, body: bytes, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Scrapes every 15 s would drown the sync log; keep them at debug level.
        log.debug("http request", client=self.client_address[0], request=format % args)


class MetricsServer:
    """A running ``/metrics`` + ``/healthz`` server; :meth:`stop` shuts it down and frees the port."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="bridge-metrics", daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when the bind address asked for port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    bind: str, metrics: Metrics, health: HealthState, status_page: StatusPageHandler | None = None
) -> MetricsServer:
    """Start serving ``/metrics`` and ``/healthz`` on ``bind`` (``HOST:PORT``) in a background thread.

    Raises :class:`OSError` when the address cannot be bound (port taken, address not local),
    which the daemon reports before telling systemd it is ready.
    """
    host, port = parse_bind(bind)
    server = _Server((host, port), metrics, health, status_page)
    log.info("metrics endpoint listening", bind=bind, port=server.server_address[1])
    return MetricsServer(server)
