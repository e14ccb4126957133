"""The status page: each mapping's last cycle, lag and health; the error list with the command that
retries each entry; the recent actions of the most recently active links; the trend charts.

Server-rendered HTML, no script, no external resource: it works in any browser, with JavaScript off, over
an SSH tunnel. Every string that can come from a vendor or a person (record keys, titles, error messages,
action descriptions) goes through :func:`html.escape`; the charts' labels are SVG glyph outlines (see
:mod:`bridge.trends.html`). The page only reads the store and the daemon's health state.

:class:`StatusPage` is what the metrics listener calls for ``/``: it answers loopback clients only (unless
``allow_remote``) and checks basic auth or a bearer token with a constant-time comparison.
"""

from __future__ import annotations

import base64
import hmac
import html
import ipaddress
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from bridge.logging import get_logger
from bridge.status.config import StatusPageSettings
from bridge.store import ErrorEntry, JournalEntry, Store
from bridge.store.trends_queries import load_trend_facts, recently_active_links
from bridge.trends.config import TrendsSettings
from bridge.trends.html import charts
from bridge.trends.report import StatusPolicy, build_report

log = get_logger(__name__)

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .2em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;
vertical-align:top}th{background:#f0f0f0}.ok{color:#176f2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}
.warn{color:#8a5a00;font-weight:bold}code{background:#f4f4f4;padding:0 .2em}.chart svg{max-width:48em;height:auto}
"""


@dataclass(frozen=True, slots=True)
class LinkActivity:
    link_id: int
    mapping: str
    issue_key: str
    records: tuple[str, ...]
    summary: str | None
    actions: tuple[JournalEntry, ...]


@dataclass(frozen=True, slots=True)
class StatusData:
    generated_at: datetime
    health: Mapping[str, Any]
    errors: tuple[ErrorEntry, ...]
    links: tuple[LinkActivity, ...]
    charts: tuple[str, ...]


def collect(
    store: Store,
    health: Mapping[str, Any],
    settings: StatusPageSettings,
    trends: TrendsSettings,
    *,
    now: datetime,
    with_charts: bool = True,
) -> StatusData:
    activity = []
    for link_id in recently_active_links(store.engine, settings.recent_links):
        state = store.link_state(link_id)
        if state is None:
            continue
        link = state.link
        summary = state.issue.fields.get("summary")
        activity.append(
            LinkActivity(
                link_id=link.id,
                mapping=link.mapping,
                issue_key=link.issue.key,
                records=tuple(r.key for r in link.records),
                summary=str(summary) if summary is not None else None,
                actions=tuple(store.journal_for_link(link_id)[-settings.actions_per_link :]),
            )
        )
    svgs: list[str] = []
    if with_charts:
        report = build_report(
            load_trend_facts(store.engine),
            now=now,
            since=now - timedelta(days=settings.trends_since_days),
            policy=StatusPolicy.of(trends.closed_states, trends.done_statuses),
            group_by=trends.group_by,
            top=trends.top,
        )
        svgs = charts(report)
    return StatusData(now, health, tuple(store.errors()), tuple(activity), tuple(svgs))


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.replace("T", " ").replace("Z", " UTC")


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, css_id: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render(data: StatusData) -> str:
    """The page. Cells are escaped here; only markup this function writes is not."""
    health = data.health
    status = str(health.get("status", "unknown"))
    css = {"ok": "ok", "standby": "ok", "starting": "warn"}.get(status, "bad")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>bridge status</title>'
        '<meta http-equiv="refresh" content="60">'
        f"<style>{_CSS}</style></head><body>",
        f'<h1>bridge status: <span class="{css}" id="health">{_e(status)}</span></h1>',
        f"<p>{_e(health.get('reason', ''))}. Generated {_e(_when(data.generated_at))}; "
        "the page reloads every minute.</p>",
        "<h2>Mappings</h2>",
    ]
    rows = []
    for name, m in sorted((health.get("mappings") or {}).items()):
        if m.get("standby"):
            state = '<span class="ok">standby</span>'
        elif m.get("ok") is None:
            state = '<span class="warn">no cycle yet</span>'
        elif m.get("ok"):
            state = '<span class="ok">ok</span>'
        else:
            state = '<span class="bad">last cycle failed</span>'
        rows.append(
            [
                _e(name),
                state,
                _e(_when(m.get("last_cycle"))),
                _e(_when(m.get("last_success"))),
                _e(_lag(m.get("age_s"))),
            ]
        )
    parts.append(
        _table(("MAPPING", "HEALTH", "LAST CYCLE", "LAST SUCCESS", "LAG"), rows, css_id="mappings")
        if rows
        else "<p>No mapping has run in this process yet.</p>"
    )

    parts.append(f"<h2>Error list ({len(data.errors)} open)</h2>")
    if data.errors:
        parts.append(
            _table(
                ("ID", "MAPPING", "KIND", "ITEM", "REASON", "SEEN", "LAST SEEN", "TO RETRY, ONCE FIXED"),
                [
                    [
                        _e(e.id),
                        _e(e.mapping),
                        _e(e.kind),
                        _e(e.item_ref or "-"),
                        _e(e.message),
                        _e(f"{e.count}×"),
                        _e(_when(e.last_seen)),
                        f"<code>bridge retry {_e(e.id)}</code>",
                    ]
                    for e in data.errors
                ],
                css_id="errors",
            )
        )
    else:
        parts.append('<p id="errors" class="ok">The error list is empty.</p>')

    parts.append("<h2>Recent actions</h2>")
    if not data.links:
        parts.append("<p>No action journaled yet.</p>")
    for link in data.links:
        title = f" — {_e(link.summary)}" if link.summary else ""
        parts.append(
            f"<h3>{_e(link.issue_key)} ↔ {_e(', '.join(link.records))}{title} "
            f"<small>(link {_e(link.link_id)}, {_e(link.mapping)}; <code>bridge links --show {_e(link.issue_key)}"
            "</code>)</small></h3>"
        )
        parts.append(
            _table(
                ("WHEN", "ACTION", "STATE", "TRIES", "WHAT", "ERROR"),
                [
                    [
                        _e(_when(a.created)),
                        _e(a.kind),
                        _e(a.state),
                        _e(a.attempts),
                        _e(a.action.describe()),
                        _e(a.last_error or ""),
                    ]
                    for a in link.actions
                ],
                css_id=f"link-{link.link_id}",
            )
        )

    parts.append("<h2>Trends</h2>")
    if data.charts:
        parts.extend(f'<div class="chart">{svg}</div>' for svg in data.charts)
        parts.append("<p>The full report: <code>bridge trends --format html --out report.html</code></p>")
    else:
        parts.append("<p>No escalation in the period.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------ serving


Response = tuple[int, dict[str, str], bytes]


class StatusPage:
    """The ``/`` handler of the metrics listener: access checks, then :func:`collect` + :func:`render`.

    The charts are recomputed at most every ``chart_ttl`` seconds (they read every link)."""

    def __init__(
        self,
        settings: StatusPageSettings,
        trends: TrendsSettings,
        store: Store,
        health: Callable[[], Mapping[str, Any]],
        *,
        password: SecretStr | None = None,
        token: SecretStr | None = None,
        chart_ttl: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.trends = trends
        self.store = store
        self.health = health
        self.password = password
        self.token = token
        self.chart_ttl = chart_ttl
        self.now = now
        self._charts: tuple[float, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def allowed(self, client: str, headers: Mapping[str, str]) -> Response | None:
        """``None`` when the request may see the page, else the refusal to send."""
        if not self.settings.allow_remote:
            try:
                loopback = ipaddress.ip_address(client.split("%", 1)[0]).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                return 403, {"Content-Type": "text/plain; charset=utf-8"}, b"status page: loopback clients only\n"
        given = headers.get("Authorization", "")
        if self.settings.auth == "basic":
            assert self.password is not None
            assert self.settings.username is not None
            expected = (
                "Basic "
                + base64.b64encode(f"{self.settings.username}:{self.password.get_secret_value()}".encode()).decode()
            )
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return (
                    401,
                    {
                        "WWW-Authenticate": 'Basic realm="bridge", charset="UTF-8"',
                        "Content-Type": "text/plain; charset=utf-8",
                    },
                    b"authentication required\n",
                )
        elif self.settings.auth == "bearer":
            assert self.token is not None
            expected = "Bearer " + self.token.get_secret_value()
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return (
                    401,
                    {"WWW-Authenticate": 'Bearer realm="bridge"', "Content-Type": "text/plain; charset=utf-8"},
                    b"authentication required\n",
                )
        return None

    def __call__(self, client: str, headers: Mapping[str, str]) -> Response:
        refused = self.allowed(client, headers)
        if refused is not None:
            return refused
        try:
            return self._page()
        except Exception:  # the page must never take the metrics listener down
            log.exception("status page failed")
            return 500, {"Content-Type": "text/plain; charset=utf-8"}, b"status page failed; see the log\n"

    def _page(self) -> Response:
        now = self.now()
        with self._lock:  # one page build at a time: it is read-only, but not free
            fresh = self._charts is not None and time.monotonic() - self._charts[0] < self.chart_ttl
            data = collect(self.store, self.health(), self.settings, self.trends, now=now, with_charts=not fresh)
            if fresh:
                assert self._charts is not None
                data = StatusData(data.generated_at, data.health, data.errors, data.links, self._charts[1])
            else:
                self._charts = (time.monotonic(), data.charts)
        body = render(data).encode("utf-8")
        return (
            200,
            {
                "Content-Type": "text/html; charset=utf-8",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                "X-Content-Type-Options": "nosniff",
            },
            body,
        )


def build_status_page(
    settings: StatusPageSettings, trends: TrendsSettings, store: Store, health: Callable[[], Mapping[str, Any]]
) -> StatusPage | None:
    """The page for ``bridge run`` (``None`` when disabled); secrets from their credential files."""
    if not settings.enabled:
        return None
    from bridge.logging import register_secret
    from bridge.notify.config import read_credential

    password = read_credential(settings.password_credential) if settings.password_credential else None
    token = read_credential(settings.token_credential) if settings.token_credential else None
    register_secret(password)
    register_secret(token)
    return StatusPage(settings, trends, store, health, password=password, token=token)
