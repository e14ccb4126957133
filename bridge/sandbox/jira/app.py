"""The sandbox Jira's frame: state, clock, URL → handler table, authentication and Jira's error bodies.

Every other module of the package adds handlers and helpers on top of :class:`JiraApp`; this one decides
*whether* a request reaches them (scripted 503s, the Retry-After block, credentials) and *how* a refusal
looks (ErrorCollection bodies, 401/404/405/429 shapes). Each behaviour's comment names the public
document it follows; docs/connectors/jira.md, "What the Jira sandbox reproduces", lists them all.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from bridge.sandbox.jira.catalog import (
    BRIDGE_PASSWORD,
    BRIDGE_PAT,
    BRIDGE_TOKEN,
    CREATABLE,
    EDITABLE,
    FIELDS,
    PERMISSIONS,
    PROJECTS,
    STATUSES,
    USERS,
    user_by,
)
from bridge.sandbox.server import RateLimiter, Reply, Request, SandboxApp

NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."

#: URL → handler. ``{api}`` is ``/rest/api/3`` (Cloud) or ``/rest/api/2`` (DC); the last column says in
#: which modes the route exists (Cloud removed the old search: it answers 410 there, CHANGE-2046).
ROUTES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("GET", "{api}/serverInfo", "_server_info", ("cloud", "datacenter")),
    ("GET", "{api}/myself", "_myself", ("cloud", "datacenter")),
    ("GET", "{api}/user", "_get_user", ("cloud", "datacenter")),
    ("GET", "{api}/user/search", "_user_search", ("cloud", "datacenter")),
    ("GET", "{api}/field", "_fields", ("cloud", "datacenter")),
    ("GET", "{api}/project/{{key}}", "_project", ("cloud", "datacenter")),
    ("GET", "{api}/project/{{key}}/statuses", "_project_statuses", ("cloud", "datacenter")),
    ("GET", "{api}/issuetype", "_issuetypes", ("cloud", "datacenter")),
    ("GET", "{api}/priority", "_priorities", ("cloud", "datacenter")),
    ("GET", "{api}/resolution", "_resolutions", ("cloud", "datacenter")),
    ("GET", "{api}/mypermissions", "_mypermissions", ("cloud", "datacenter")),
    ("GET", "{api}/search/jql", "_search_jql", ("cloud",)),
    ("POST", "{api}/search/jql", "_search_jql", ("cloud",)),
    ("GET", "{api}/search", "_search_removed", ("cloud",)),
    ("POST", "{api}/search", "_search_removed", ("cloud",)),
    ("GET", "{api}/search", "_search_dc", ("datacenter",)),
    ("POST", "{api}/search", "_search_dc", ("datacenter",)),
    ("POST", "{api}/issue", "_create_issue", ("cloud", "datacenter")),
    ("POST", "{api}/issue/bulk", "_create_issues_bulk", ("cloud", "datacenter")),
    ("GET", "{api}/issue/{{id}}", "_get_issue", ("cloud", "datacenter")),
    ("PUT", "{api}/issue/{{id}}", "_edit_issue", ("cloud", "datacenter")),
    ("GET", "{api}/issue/{{id}}/transitions", "_get_transitions", ("cloud", "datacenter")),
    ("POST", "{api}/issue/{{id}}/transitions", "_do_transition", ("cloud", "datacenter")),
    ("GET", "{api}/issue/{{id}}/comment", "_get_comments", ("cloud", "datacenter")),
    ("POST", "{api}/issue/{{id}}/comment", "_post_comment", ("cloud", "datacenter")),
    ("GET", "{api}/issue/{{id}}/remotelink", "_get_remotelinks", ("cloud", "datacenter")),
    ("POST", "{api}/issue/{{id}}/remotelink", "_post_remotelink", ("cloud", "datacenter")),
]


class _Fail(Exception):
    """Raised inside a handler to answer with ``reply`` (keeps handlers linear)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def errors(status: int, messages: Iterable[str] = (), fields: dict[str, str] | None = None) -> Reply:
    """Jira's ErrorCollection body (OpenAPI v3 ``ErrorCollection``; docs/connectors/jira.md, "What the Jira
    sandbox reproduces")."""
    return Reply(status, {"errorMessages": list(messages), "errors": dict(fields or {})})


def fail(status: int, *messages: str, **fields: str) -> _Fail:
    return _Fail(errors(status, messages, fields))


class JiraApp(SandboxApp):
    """The frame every responsibility of the sandbox Jira builds on (see the package docstring).

    ``clock`` returns the current instant (aware); tests pass a settable one so minute boundaries and
    Retry-After waits are exact without sleeping. The rate-limit window runs on the same clock.
    """

    name = "jira"
    #: The site's catalogue, as class attributes so a subclass can host more than the module tables
    #: (bridge.sandbox.jsm adds a service project with its own statuses, workflow and JSM fields).
    projects: ClassVar[dict[str, dict[str, Any]]] = PROJECTS
    statuses: ClassVar[dict[str, tuple[str, str]]] = STATUSES
    field_table: list[tuple[str, str, str, str | None]] = FIELDS
    editable: set[str] = EDITABLE
    creatable: set[str] = CREATABLE

    def __init__(
        self,
        mode: str = "cloud",
        state_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if mode not in ("cloud", "datacenter"):
            raise ValueError(f"mode must be 'cloud' or 'datacenter', not {mode!r}")
        self.mode = mode
        self.api = "/rest/api/3" if mode == "cloud" else "/rest/api/2"
        self._clock = clock or (lambda: datetime.now(UTC))
        self.base_url = "http://127.0.0.1"
        self._blocked_until = 0.0
        self._failures: deque[tuple[int, int]] = deque()
        self.recording = False
        self.exchanges: list[dict[str, Any]] = []
        self._last_ms = 0
        #: bumped by every change the sandbox makes (see :meth:`_search_validator`)
        self._search_version = 0
        #: (jql, zone, reconciled ids) -> (validator, ordered issues): the answer kept for the next pages
        self._search_results: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[int, ...], list[Any]]] = {}
        super().__init__(state_dir)
        self.rate_limiter = RateLimiter(clock=self._monotonic)

    # ------------------------------------------------------------------------------------- clock

    def now(self) -> datetime:
        return self._clock() + timedelta(seconds=float(self.state.get("clock_offset", 0.0)))

    def server_time(self) -> datetime:
        return self.now()

    def _monotonic(self) -> float:
        return self.now().timestamp()

    def _now_ms(self) -> int:
        """Strictly increasing millis, so two changes never share an ``updated`` value."""
        self._changed()
        ms = int(self.now().timestamp() * 1000)
        self._last_ms = max(ms, self._last_ms + 1)
        return self._last_ms

    # ------------------------------------------------------------------------------------- state

    def reset(self) -> None:
        self._changed()
        self.state = {
            "mode": self.mode,
            "clock_offset": 0.0,
            "time_zones": {handle: user["timeZone"] for handle, user in USERS.items()},
            "issues": {},
            "counters": {"issue": 10000, "comment": 10000, "remotelink": 10000, **{k: 0 for k in self.projects}},
            "settings": {
                "page_size": None,
                "bad_credentials_anonymous": False,
                "text_401": False,
                "revoked": [],
                "index_lag_seconds": 0.0,
                # A normalisation bridge does not predict, for its tests (off: the sandbox stores what it is
                # sent, as Jira's create and edit documentation describes): summaries stored trimmed.
                "trim_summary": False,
            },
        }
        self._last_ms = 0

    def _changed(self) -> None:
        self._search_version += 1

    def _search_validator(self) -> tuple[int, ...]:
        """What a kept search answer is valid for: no change since (every write stamps ``updated`` through
        :meth:`_now_ms` or draws an id through :meth:`_next`, every non-search request and scripting call
        counts as one), the same state object and the same number of issues (a test that adds or removes
        issues in the state directly)."""
        issues = self.state["issues"]
        return (self._search_version, id(self.state), id(issues), len(issues))

    def _next(self, counter: str) -> int:
        self._changed()
        self.state["counters"][counter] += 1
        return int(self.state["counters"][counter])

    # ------------------------------------------------------------------------------------- plumbing

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            with self.lock:
                self._changed()  # a scripted change, a setting, a reset: kept search answers are stale
            return super().handle(request)
        host = request.headers.get("host")
        if host:
            self.base_url = f"http://{host}"
        reply = self._gate(request)
        if reply is None:
            reply = super().handle(request)
            if self._principal(request)[0] == "bad":
                # Served as anonymous after refusing the credentials: Jira says so in this header (JRA-41559).
                reply.headers.setdefault("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
            if reply.status == 429:
                # Retrying before Retry-After keeps failing (Atlassian "Rate limiting" guide: "retrying early
                # will fail with the same or a longer wait").
                with self.lock:
                    self._blocked_until = self._monotonic() + float(reply.headers.get("Retry-After", "1"))
        if request.method != "GET" and not request.path.endswith(("/search", "/search/jql")):
            with self.lock:
                self._changed()
        if self.recording:
            self._record(request, reply)
        return reply

    def _gate(self, request: Request) -> Reply | None:
        """Scripted 503s and the Retry-After block, both before the frame's limiter."""
        with self.lock:
            if self._failures:
                status, retry_after = self._failures.popleft()
                self.requests_seen += 1
                # Some 5xx carry Retry-After too (Atlassian rate-limiting guide, "503 … Retry-After").
                return (
                    errors(status, ["Service Unavailable"])
                    if retry_after < 0
                    else Reply(
                        status,
                        {"errorMessages": ["Service Unavailable"], "errors": {}},
                        {"Retry-After": str(retry_after)},
                    )
                )
            wait = self._blocked_until - self._monotonic()
            if wait > 0:
                self.requests_seen += 1
                self.rate_limiter.refused += 1
                return self.rate_limited(request, wait)
        return None

    def _record(self, request: Request, reply: Reply) -> None:
        body: Any = reply.body
        self.exchanges.append(
            {
                "method": request.method,
                "path": request.path,
                "query": {k: list(v) for k, v in request.query.items()},
                "request_content_type": request.headers.get("content-type", ""),
                # the scheme only: recordings must never hold a credential
                "request_auth_scheme": (request.headers.get("authorization") or "").partition(" ")[0],
                "request_body": request.body.decode("utf-8", "replace"),
                "status": reply.status,
                "response_headers": dict(reply.headers),
                "response_body": None if body is None else json.dumps(body),
                "response_text": reply.text,
            }
        )

    # ------------------------------------------------------------------------------------- routing

    def routes(self) -> None:
        """Register :data:`ROUTES` for this mode; the handlers are methods of the composed sandbox."""
        for method, pattern, handler, modes in ROUTES:
            if self.mode in modes:
                self._add(method, pattern.format(api=self.api), getattr(self, handler))
        self._jira_admin_routes()

    def _jira_admin_routes(self) -> None:
        """``/_sandbox/jira/…`` (the scripting API over HTTP); :mod:`.scripting` provides it."""

    def _add(self, method: str, path: str, handler: Callable[[Request], Reply]) -> None:
        def wrapped(request: Request) -> Reply:
            try:
                return handler(request)
            except _Fail as failure:
                return failure.reply
            except (ValueError, TypeError, AttributeError) as exc:
                if isinstance(exc, json.JSONDecodeError):
                    raise
                return errors(
                    400, [f"Invalid request payload. Refer to the REST API documentation and try again. ({exc})"]
                )

        self.router.add(method, path, wrapped)

    # ------------------------------------------------------------------------------------- auth

    def _principal(self, request: Request) -> tuple[str, str | None]:
        """("user", handle) | ("anonymous", None) | ("bad", None) from the Authorization header."""
        header = request.headers.get("authorization")
        if not header:
            return "anonymous", None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "bad", None
            if self.mode == "cloud":
                handle = user_by("emailAddress", user)
                ok = handle is not None and secret == (BRIDGE_TOKEN if handle == "bridge" else f"{handle}-api-token")
            else:
                handle = user_by("name", user)
                ok = handle is not None and secret == (BRIDGE_PASSWORD if handle == "bridge" else f"{handle}-password")
            return ("user", handle) if ok else ("bad", None)
        if scheme.lower() == "bearer" and self.mode == "datacenter":
            # DC personal access tokens (https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html)
            return ("user", "bridge") if value == BRIDGE_PAT else ("bad", None)
        return "bad", None

    def authenticate(self, request: Request) -> bool:
        kind, _ = self._principal(request)
        # Bad credentials may be served as anonymous (JRA-41559, X-Seraph-LoginReason; docs/connectors/jira.md,
        # "What the Jira sandbox reproduces").
        return kind != "bad" or bool(self.state["settings"]["bad_credentials_anonymous"])

    def unauthorized(self, request: Request) -> Reply:
        # 401 body: JSON ErrorCollection or plain text (OpenAPI v3 "401 … credentials missing or incorrect").
        headers = {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED", "WWW-Authenticate": 'Basic realm="protected-area"'}
        if self.state["settings"]["text_401"]:
            return Reply(401, text="Client must be authenticated to access this resource.", headers=headers)
        return Reply(
            401, {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}, headers
        )

    def _user(self, request: Request) -> str:
        kind, handle = self._principal(request)
        if kind != "user" or handle is None:
            raise _Fail(self.unauthorized(request))
        return handle

    def _allowed(self, permission: str) -> None:
        if permission in self.state["settings"]["revoked"]:
            raise fail(
                403, f"You do not have the permission '{PERMISSIONS.get(permission, permission)}' in this project."
            )

    # ------------------------------------------------------------------------------------- error bodies

    def not_found(self, request: Request) -> Reply:
        return errors(404, ["null for uri: " + self.base_url + request.path])

    def method_not_allowed(self, request: Request) -> Reply:
        return errors(405, [f"Method '{request.method}' is not supported for this resource."])

    def bad_request(self, request: Request, message: str) -> Reply:
        return errors(400, [message])

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        # Atlassian "Rate limiting" (developer.atlassian.com/cloud/jira/platform/rate-limiting/): Retry-After in
        # seconds, X-RateLimit-Reset as ISO yyyy-MM-ddTHH:mmZ, RateLimit-Reason naming the limit.
        seconds = max(1, math.ceil(retry_after))
        reset = (self.now() + timedelta(seconds=seconds)).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        limit = self.rate_limiter.limit or 10
        return Reply(
            429,
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            {
                "Retry-After": str(seconds),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset,
                "RateLimit-Reason": "jira-burst-based",
            },
        )

    # ------------------------------------------------------------------------------------- shared look-ups

    def _issue(self, id_or_key: str) -> dict[str, Any]:
        issues = self.state["issues"]
        if id_or_key in issues:
            return issues[id_or_key]
        for issue in issues.values():
            if issue["key"].upper() == id_or_key.upper():
                return issue
        raise fail(404, NOT_FOUND_ISSUE)

    def _touch(self, issue: dict[str, Any], ms: int | None = None) -> None:
        issue["updated"] = ms if ms is not None else self._now_ms()

    def _int(self, value: Any, name: str, default: int) -> int:
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise fail(400, f"The value '{value}' is not valid for the '{name}' parameter.") from None
        if number < 0:
            raise fail(400, f"The '{name}' parameter must be zero or greater.")
        return number
