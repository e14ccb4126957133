"""A vendor-faithful Jira on loopback: Cloud REST v3 or Data Center REST v2, for tests and ``bridge demo``.

It reproduces what breaks naive clients (VENDOR_API_NOTES.md §15 lists them; each behaviour below names
the vendor document it follows): authentication and Jira's 401 shapes, anonymous fallback, the user's
time zone in JQL literals and timestamps, ``nextPageToken`` paging with the key absent on the last page,
ADF-only rich text on v3, a workflow whose transition ids differ per project and whose "Done" screen
requires a resolution, comment visibility and properties, remote-link upserts by ``globalId``, 429s
with Atlassian's headers, and ErrorCollection bodies everywhere.

Scripting (tests and the demo act "as a person would"): the Python methods :meth:`JiraSandbox.create_issue`,
:meth:`add_comment`, :meth:`transition`, :meth:`edit_issue`, :meth:`set_time_zone`, :meth:`snapshot`, … and
the same over HTTP under ``/_sandbox/jira/…`` (see :meth:`JiraSandbox._jira_admin_routes`).

Run it as a process: ``python -m bridge.sandbox.jira --port 8080 --mode cloud --state-dir DIR``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import hashlib
import json
import math
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.sandbox import jira_jql as jql
from bridge.sandbox.jira_text import adf_to_text, is_adf, text_to_adf
from bridge.sandbox.server import Reply, Request, SandboxApp, SandboxServer

# ----------------------------------------------------------------------------------- fixed data

#: Credentials the sandbox accepts. Cloud: Basic email:API token; DC: Bearer PAT or Basic user:password
#: (VENDOR_API_NOTES §1; https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/).
BRIDGE_EMAIL = "bridge@example.com"
BRIDGE_TOKEN = "sandbox-api-token"
BRIDGE_PAT = "sandbox-personal-access-token"
BRIDGE_USERNAME = "bridge"
BRIDGE_PASSWORD = "sandbox-password"

USERS: dict[str, dict[str, Any]] = {
    "bridge": {
        "accountId": "5b10ac8d82e05b22cc7d4ef5",
        "name": "bridge",
        "emailAddress": BRIDGE_EMAIL,
        "displayName": "Bridge Integration",
        "timeZone": "Europe/Berlin",
    },
    "dana": {
        "accountId": "5b10a2844c20165700ede21g",
        "name": "dana",
        "emailAddress": "dana@example.com",
        "displayName": "Dana Developer",
        "timeZone": "America/New_York",
    },
    "sam": {
        "accountId": "5b109f2e9729b51b54dc274d",
        "name": "sam",
        "emailAddress": "sam@example.com",
        "displayName": "Sam Lead",
        "timeZone": "Asia/Kolkata",
    },
}
ROLES = {"Developers": ("10002", ["bridge", "dana"]), "Administrators": ("10003", ["sam"])}
GROUPS = {"jira-software-users": ["bridge", "dana", "sam"], "jira-administrators": ["sam"]}

STATUSES = {
    "10000": ("To Do", "new"),
    "10001": ("In Progress", "indeterminate"),
    "10002": ("In Review", "indeterminate"),
    "10003": ("Done", "done"),
}
CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
#: (base id, name, from status, to status, screen fields {field: required}); the id a project sees is
#: base + the project's offset, because "ids are per workflow" (GET transitions, OpenAPI v3 notes).
WORKFLOW = [
    (11, "Start progress", "10000", "10001", {}),
    (21, "Review", "10001", "10002", {}),
    (31, "Stop progress", "10001", "10000", {}),
    (41, "Done", "10002", "10003", {"resolution": True}),
    (51, "Back to progress", "10002", "10001", {}),
    (61, "Reopen", "10003", "10001", {}),
]
RESOLUTIONS = {"10000": "Done", "10001": "Won't Do", "10002": "Duplicate", "10003": "Cannot Reproduce"}
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
ISSUE_TYPES = {"10001": "Story", "10002": "Task", "10004": "Bug"}
PROJECTS = {
    "OPS": {"id": "10000", "name": "Operations", "offset": 0, "components": {"10100": "Backend", "10101": "Frontend"}},
    "DEV": {"id": "10001", "name": "Development", "offset": 700, "components": {"10200": "API", "10201": "Web"}},
    # the project of the shipped mappings (mappings/*.yaml) and of ``bridge demo``
    "DEMO": {"id": "10002", "name": "Demo", "offset": 1400, "components": {"10300": "Service", "10301": "Portal"}},
}
#: (id, name, schema type, custom type) — system fields first, then the custom fields bridge maps.
FIELDS: list[tuple[str, str, str, str | None]] = [
    ("summary", "Summary", "string", None),
    ("description", "Description", "string", None),
    ("environment", "Environment", "string", None),
    ("issuetype", "Issue Type", "issuetype", None),
    ("project", "Project", "project", None),
    ("priority", "Priority", "priority", None),
    ("labels", "Labels", "array", None),
    ("components", "Component/s", "array", None),
    ("fixVersions", "Fix Version/s", "array", None),
    ("status", "Status", "status", None),
    ("resolution", "Resolution", "resolution", None),
    ("resolutiondate", "Resolved", "datetime", None),
    ("created", "Created", "datetime", None),
    ("updated", "Updated", "datetime", None),
    ("reporter", "Reporter", "user", None),
    ("creator", "Creator", "user", None),
    ("assignee", "Assignee", "user", None),
    ("customfield_10050", "ServiceNow Number", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
    ("customfield_10051", "Linked records", "number", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
    ("customfield_10052", "ITSM Reference", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
    ("customfield_10053", "Customer Impact", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea"),
]
RICH_TEXT_FIELDS = {"description", "environment", "customfield_10053"}
EDITABLE = {
    "summary",
    "description",
    "environment",
    "priority",
    "labels",
    "components",
    "assignee",
    "customfield_10050",
    "customfield_10051",
    "customfield_10052",
    "customfield_10053",
}
CREATABLE = EDITABLE | {"project", "issuetype", "reporter"}
PERMISSIONS = {
    "BROWSE_PROJECTS": "Browse Projects",
    "CREATE_ISSUES": "Create Issues",
    "EDIT_ISSUES": "Edit Issues",
    "TRANSITION_ISSUES": "Transition Issues",
    "ADD_COMMENTS": "Add Comments",
    "LINK_ISSUES": "Link Issues",
    "ASSIGN_ISSUES": "Assign Issues",
    "RESOLVE_ISSUES": "Resolve Issues",
}

NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


class _Fail(Exception):
    """Raised inside a handler to answer with ``reply`` (keeps handlers linear)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def errors(status: int, messages: Iterable[str] = (), fields: dict[str, str] | None = None) -> Reply:
    """Jira's ErrorCollection body (OpenAPI v3 ``ErrorCollection``; VENDOR_API_NOTES §1)."""
    return Reply(status, {"errorMessages": list(messages), "errors": dict(fields or {})})


def fail(status: int, *messages: str, **fields: str) -> _Fail:
    return _Fail(errors(status, messages, fields))


def _user_by(field: str, value: str) -> str | None:
    for handle, user in USERS.items():
        if str(user.get(field, "")).lower() == value.lower():
            return handle
    return None


class JiraSandbox(SandboxApp):
    """A Jira Cloud (``mode="cloud"``, REST v3) or Data Center (``mode="datacenter"``, REST v2) sandbox.

    ``clock`` returns the current instant (aware); tests pass a settable one so minute boundaries and
    Retry-After waits are exact without sleeping. The rate-limit window runs on the same clock.
    """

    name = "jira"
    #: The site's catalogue, as class attributes so a subclass can host more than the module tables
    #: (bridge.sandbox.jsm adds a service project with its own statuses, workflow and JSM fields).
    projects: dict[str, dict[str, Any]] = PROJECTS
    statuses: dict[str, tuple[str, str]] = STATUSES
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
        super().__init__(state_dir)
        from bridge.sandbox.server import RateLimiter

        self.rate_limiter = RateLimiter(clock=self._monotonic)

    # ------------------------------------------------------------------------------------- clock

    def now(self) -> datetime:
        return self._clock() + timedelta(seconds=float(self.state.get("clock_offset", 0.0)))

    def _monotonic(self) -> float:
        return self.now().timestamp()

    def _now_ms(self) -> int:
        """Strictly increasing millis, so two changes never share an ``updated`` value."""
        ms = int(self.now().timestamp() * 1000)
        self._last_ms = max(ms, self._last_ms + 1)
        return self._last_ms

    # ------------------------------------------------------------------------------------- state

    def reset(self) -> None:
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
            },
        }
        self._last_ms = 0

    def _next(self, counter: str) -> int:
        self.state["counters"][counter] += 1
        return int(self.state["counters"][counter])

    # ------------------------------------------------------------------------------------- plumbing

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
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
                handle = _user_by("emailAddress", user)
                ok = handle is not None and secret == (BRIDGE_TOKEN if handle == "bridge" else f"{handle}-api-token")
            else:
                handle = _user_by("name", user)
                ok = handle is not None and secret == (BRIDGE_PASSWORD if handle == "bridge" else f"{handle}-password")
            return ("user", handle) if ok else ("bad", None)
        if scheme.lower() == "bearer" and self.mode == "datacenter":
            # DC personal access tokens (https://confluence.atlassian.com/enterprise/using-personal-access-tokens-1026032365.html)
            return ("user", "bridge") if value == BRIDGE_PAT else ("bad", None)
        return "bad", None

    def authenticate(self, request: Request) -> bool:
        kind, _ = self._principal(request)
        # Bad credentials may be served as anonymous (JRA-41559, X-Seraph-LoginReason; VENDOR_API_NOTES §1).
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

    # ------------------------------------------------------------------------------------- rendering

    def _zone(self, handle: str | None) -> ZoneInfo:
        return ZoneInfo(self.state["time_zones"].get(handle or "bridge", "UTC") if handle else "UTC")

    def _fmt(self, ms: int | None, viewer: str | None) -> str | None:
        """``2024-01-02T03:04:05.000+0100``: millis, offset without colon, the viewer's zone (VENDOR_API_NOTES §1)."""
        if ms is None:
            return None
        moment = datetime.fromtimestamp(ms / 1000, self._zone(viewer))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + moment.strftime("%z")

    def _user_json(self, handle: str | None) -> dict[str, Any] | None:
        if handle is None:
            return None
        user = USERS[handle]
        base = {"active": True, "displayName": user["displayName"], "timeZone": self.state["time_zones"][handle]}
        if self.mode == "cloud":
            return {
                "self": f"{self.base_url}{self.api}/user?accountId={user['accountId']}",
                "accountId": user["accountId"],
                "accountType": "atlassian",
                "emailAddress": user["emailAddress"],
                **base,
            }
        return {
            "self": f"{self.base_url}{self.api}/user?username={user['name']}",
            "name": user["name"],
            "key": user["name"],
            "emailAddress": user["emailAddress"],
            **base,
        }

    def _status_json(self, status_id: str) -> dict[str, Any]:
        name, category = self.statuses[status_id]
        cat_id, cat_name, colour = CATEGORIES[category]
        return {
            "self": f"{self.base_url}{self.api}/status/{status_id}",
            "description": "",
            "iconUrl": f"{self.base_url}/images/icons/statuses/generic.png",
            "name": name,
            "id": status_id,
            "statusCategory": {
                "self": f"{self.base_url}{self.api}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": category,
                "colorName": colour,
                "name": cat_name,
            },
        }

    def _project_json(self, key: str) -> dict[str, Any]:
        project = self.projects[key]
        return {
            "self": f"{self.base_url}{self.api}/project/{project['id']}",
            "id": project["id"],
            "key": key,
            "name": project["name"],
            "projectTypeKey": "software",
        }

    def _issuetype_json(self, type_id: str) -> dict[str, Any]:
        return {
            "self": f"{self.base_url}{self.api}/issuetype/{type_id}",
            "id": type_id,
            "description": "",
            "iconUrl": f"{self.base_url}/images/icons/issuetypes/{ISSUE_TYPES[type_id].lower()}.png",
            "name": ISSUE_TYPES[type_id],
            "subtask": False,
            "hierarchyLevel": 0,
        }

    def _field_json(self, issue: dict[str, Any], field: str, viewer: str | None) -> Any:
        raw = issue["fields"]
        if field == "comment":
            # The issue's comments as a PageOfComments, returned by search only when ``fields`` names
            # ``comment`` (pycontribs/jira#914, #1240); comment properties are not part of it.
            visible = sorted(
                (c for c in issue["comments"] if self._visible(c, viewer)), key=lambda c: (c["created"], int(c["id"]))
            )
            return {
                "comments": [self._comment_json(issue, c, viewer, "") for c in visible],
                "maxResults": len(visible),
                "total": len(visible),
                "startAt": 0,
            }
        if field == "status":
            return self._status_json(issue["status"])
        if field == "project":
            return self._project_json(issue["project"])
        if field == "issuetype":
            return self._issuetype_json(raw["issuetype"])
        if field == "priority":
            pid = raw.get("priority")
            return (
                None
                if pid is None
                else {
                    "self": f"{self.base_url}{self.api}/priority/{pid}",
                    "iconUrl": f"{self.base_url}/images/icons/priorities/{PRIORITIES[pid].lower()}.svg",
                    "name": PRIORITIES[pid],
                    "id": pid,
                }
            )
        if field == "resolution":
            rid = issue.get("resolution")
            return (
                None
                if rid is None
                else {
                    "self": f"{self.base_url}{self.api}/resolution/{rid}",
                    "id": rid,
                    "description": "",
                    "name": RESOLUTIONS[rid],
                }
            )
        if field == "components":
            comps = self.projects[issue["project"]]["components"]
            return [
                {"self": f"{self.base_url}{self.api}/component/{c}", "id": c, "name": comps[c]}
                for c in raw.get("components", [])
            ]
        if field in ("created", "updated", "resolutiondate"):
            return self._fmt(issue.get(field), viewer)
        if field in ("reporter", "creator", "assignee"):
            return self._user_json(raw.get(field))
        if field == "labels":
            return list(raw.get("labels", []))
        if field == "fixVersions":
            return []
        return copy.deepcopy(raw.get(field))

    def _wanted_fields(self, spec: Iterable[str] | None, default: str) -> list[str]:
        names = [part.strip() for item in (spec if spec is not None else [default]) for part in str(item).split(",")]
        names = [n for n in names if n]
        all_ids = [f[0] for f in self.field_table]
        chosen: list[str] = []
        excluded = {n[1:] for n in names if n.startswith("-")}
        for name in names:
            if name in ("*all", "*navigable"):
                chosen.extend(all_ids)
                if name == "*all":
                    chosen.append("comment")  # not navigable: search returns it only when named
            elif name in all_ids or name == "comment":
                chosen.append(name)
            # anything else (a field *name*, a typo) is ignored, as Jira does for GET issue/search ``fields``
        return [f for f in dict.fromkeys(chosen) if f not in excluded]

    def _issue_json(
        self,
        issue: dict[str, Any],
        viewer: str | None,
        fields: list[str],
        expand: str = "",
        properties: Iterable[str] = (),
        id_only: bool = False,
    ) -> dict[str, Any]:
        if id_only:
            return {"id": issue["id"]}
        body: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue["id"],
            "self": f"{self.base_url}{self.api}/issue/{issue['id']}",
            "key": issue["key"],
        }
        if fields:
            body["fields"] = {f: self._field_json(issue, f, viewer) for f in fields}
        wanted_props = [p for p in properties if p]
        if wanted_props:
            body["properties"] = {k: issue["properties"][k] for k in wanted_props if k in issue["properties"]}
        expands = {e.strip() for e in expand.split(",") if e.strip()}
        if "transitions" in expands:
            body["transitions"] = self._transitions_json(issue, with_fields=False)
        if "names" in expands:
            body["names"] = {f[0]: f[1] for f in self.field_table if f[0] in fields}
        return body

    # ------------------------------------------------------------------------------------- lookup

    def _issue(self, id_or_key: str) -> dict[str, Any]:
        issues = self.state["issues"]
        if id_or_key in issues:
            return issues[id_or_key]
        for issue in issues.values():
            if issue["key"].upper() == id_or_key.upper():
                return issue
        raise fail(404, NOT_FOUND_ISSUE)

    def _field_by_name(self, name: str) -> str | None:
        for fid, fname, _, _ in self.field_table:
            if name.lower() in (fid.lower(), fname.lower()):
                return fid
        return None

    def _touch(self, issue: dict[str, Any], ms: int | None = None) -> None:
        issue["updated"] = ms if ms is not None else self._now_ms()

    def _allowed(self, permission: str) -> None:
        if permission in self.state["settings"]["revoked"]:
            raise fail(
                403, f"You do not have the permission '{PERMISSIONS.get(permission, permission)}' in this project."
            )

    # ------------------------------------------------------------------------------------- field values

    def _coerce(self, project: str, field: str, value: Any, problems: dict[str, str]) -> Any:
        """Validate one create/edit value and return it in stored form (OpenAPI v3 createIssue/editIssue)."""
        if field in RICH_TEXT_FIELDS:
            if value is None:
                return None
            if self.mode == "cloud":
                # v3 rich text must be ADF (OpenAPI v3 createIssue; "Operation value must be an Atlassian Document").
                if not is_adf(value):
                    problems[field] = NOT_ADF
                return value
            if not isinstance(value, str):
                problems[field] = "Operation value must be a string"
            return value
        if field in ("summary", "customfield_10050", "customfield_10052"):
            if value is not None and not isinstance(value, str):
                problems[field] = "Operation value must be a string"
            elif field == "summary" and not (value or "").strip():
                problems[field] = "You must specify a summary of the issue."
            elif value is not None and len(value) > 255:
                problems[field] = (
                    "Summary must be less than 255 characters."
                    if field == "summary"
                    else ("The entered text is too long. It exceeds the allowed limit of 255 characters.")
                )
            return value
        if field == "customfield_10051":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                problems[field] = "Operation value must be a number"
            return value
        if field == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems[field] = "Operation value must be an array of strings"
                return []
            for label in value:
                if " " in label or not label:
                    problems[field] = f"The label '{label}' contains spaces which is invalid."
                elif len(label) > 255:
                    problems[field] = "The label must not exceed 255 characters."
            return list(dict.fromkeys(value))
        if field == "priority":
            if value is None:
                return None
            pid = self._named(value, PRIORITIES)
            if pid is None:
                problems[field] = "Specify a valid 'id' or 'name' for Priority"
            return pid
        if field == "components":
            comps = self.projects[project]["components"]
            ids: list[str] = []
            for comp in value or []:
                cid = self._named(comp, comps)
                if cid is None:
                    name = comp.get("name") or comp.get("id") if isinstance(comp, dict) else comp
                    problems[field] = f"Component name '{name}' is not valid"
                else:
                    ids.append(cid)
            return ids
        if field in ("assignee", "reporter"):
            if value is None:
                return None
            key = "accountId" if self.mode == "cloud" else "name"
            handle = _user_by(key, str(value.get(key, ""))) if isinstance(value, dict) else None
            if handle is None:
                problems[field] = "Specified user does not exist or you do not have required permissions"
            return handle
        problems[field] = NOT_ON_SCREEN.format(field)
        return None

    @staticmethod
    def _named(value: Any, table: dict[str, str]) -> str | None:
        if not isinstance(value, dict):
            return None
        if "id" in value and str(value["id"]) in table:
            return str(value["id"])
        for tid, name in table.items():
            if "name" in value and str(value["name"]).lower() == name.lower():
                return tid
        return None

    def _resolve_field_key(self, key: str) -> str:
        """Fields may be given by id or by name in a create/edit body."""
        return (
            key
            if key.startswith("customfield_") or key in {f[0] for f in self.field_table}
            else (self._field_by_name(key) or key)
        )

    # ------------------------------------------------------------------------------------- routes

    def routes(self) -> None:
        api = self.api
        add = self._add
        add("GET", f"{api}/serverInfo", self._server_info)
        add("GET", f"{api}/myself", self._myself)
        add("GET", f"{api}/field", self._fields)
        add("GET", f"{api}/project/{{key}}", self._project)
        add("GET", f"{api}/project/{{key}}/statuses", self._project_statuses)
        add("GET", f"{api}/issuetype", self._issuetypes)
        add("GET", f"{api}/priority", self._priorities)
        add("GET", f"{api}/resolution", self._resolutions)
        add("GET", f"{api}/mypermissions", self._mypermissions)
        if self.mode == "cloud":
            add("GET", f"{api}/search/jql", self._search_jql)
            add("POST", f"{api}/search/jql", self._search_jql)
            add("GET", f"{api}/search", self._search_removed)
            add("POST", f"{api}/search", self._search_removed)
        else:
            add("GET", f"{api}/search", self._search_dc)
            add("POST", f"{api}/search", self._search_dc)
        add("POST", f"{api}/issue", self._create_issue)
        add("POST", f"{api}/issue/bulk", self._create_issues_bulk)
        add("GET", f"{api}/issue/{{id}}", self._get_issue)
        add("PUT", f"{api}/issue/{{id}}", self._edit_issue)
        add("GET", f"{api}/issue/{{id}}/transitions", self._get_transitions)
        add("POST", f"{api}/issue/{{id}}/transitions", self._do_transition)
        add("GET", f"{api}/issue/{{id}}/comment", self._get_comments)
        add("POST", f"{api}/issue/{{id}}/comment", self._post_comment)
        add("GET", f"{api}/issue/{{id}}/remotelink", self._get_remotelinks)
        add("POST", f"{api}/issue/{{id}}/remotelink", self._post_remotelink)
        self._jira_admin_routes()

    # -- meta

    def _server_info(self, request: Request) -> Reply:
        # GET serverInfo works anonymously (OpenAPI v3 getServerInfo: "Permissions required: None").
        return Reply(
            200,
            {
                "baseUrl": self.base_url,
                "version": "1001.0.0-SNAPSHOT" if self.mode == "cloud" else "9.12.2",
                "versionNumbers": [1001, 0, 0] if self.mode == "cloud" else [9, 12, 2],
                "deploymentType": "Cloud" if self.mode == "cloud" else "Server",
                "buildNumber": 100253 if self.mode == "cloud" else 9120002,
                "buildDate": "2026-11-01T00:00:00.000+0000",
                "serverTime": self._fmt(self._now_ms(), None),
                "scmInfo": "57a0ca5b",
                "serverTitle": "Jira sandbox",
            },
        )

    def _myself(self, request: Request) -> Reply:
        # 401 when anonymous: the way to tell "authenticated" from "served as anonymous" (VENDOR_API_NOTES §1).
        handle = self._user(request)
        body = self._user_json(handle) or {}
        body["locale"] = "en_US"
        return Reply(200, body)

    def _fields(self, request: Request) -> Reply:
        self._user(request)
        out = []
        for fid, name, kind, custom in self.field_table:
            schema: dict[str, Any] = {"type": kind}
            if custom:
                schema.update({"custom": custom, "customId": int(fid.split("_")[1])})
            else:
                schema["system"] = fid
            if kind == "array":
                schema["items"] = "string" if fid == "labels" else "component" if fid == "components" else "version"
            clause = [f"cf[{fid.split('_')[1]}]", name] if custom else [fid]
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": bool(custom),
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": clause,
                    "schema": schema,
                }
            )
        return Reply(200, out)

    def _project_or_404(self, key: str) -> str:
        for pkey, project in self.projects.items():
            if key.upper() == pkey or key == project["id"]:
                return pkey
        raise fail(404, f"No project could be found with key '{key}'.")

    def _project(self, request: Request) -> Reply:
        self._user(request)
        key = self._project_or_404(request.params["key"])
        body = self._project_json(key)
        body["issueTypes"] = [self._issuetype_json(t) for t in ISSUE_TYPES]
        body["components"] = [{"id": c, "name": n} for c, n in self.projects[key]["components"].items()]
        return Reply(200, body)

    def _project_statuses(self, request: Request) -> Reply:
        self._user(request)
        self._project_or_404(request.params["key"])
        statuses = [self._status_json(s) for s in self.statuses]
        return Reply(
            200,
            [
                {
                    "self": f"{self.base_url}{self.api}/issuetype/{t}",
                    "id": t,
                    "name": n,
                    "subtask": False,
                    "statuses": statuses,
                }
                for t, n in ISSUE_TYPES.items()
            ],
        )

    def _issuetypes(self, request: Request) -> Reply:
        self._user(request)
        return Reply(200, [self._issuetype_json(t) for t in ISSUE_TYPES])

    def _priorities(self, request: Request) -> Reply:
        self._user(request)
        return Reply(200, [self._field_json({"fields": {"priority": p}}, "priority", None) for p in PRIORITIES])

    def _resolutions(self, request: Request) -> Reply:
        self._user(request)
        return Reply(
            200,
            [
                {"self": f"{self.base_url}{self.api}/resolution/{r}", "id": r, "name": n, "description": ""}
                for r, n in RESOLUTIONS.items()
            ],
        )

    def _mypermissions(self, request: Request) -> Reply:
        # OpenAPI v3 getMyPermissions: ``permissions`` is required on Cloud; unknown keys are a 400.
        self._user(request)
        wanted = [p.strip() for p in (request.arg("permissions") or "").split(",") if p.strip()]
        if not wanted:
            if self.mode == "cloud":
                raise fail(400, "The permissions query parameter is required.")
            wanted = list(PERMISSIONS)
        unknown = [p for p in wanted if p not in PERMISSIONS]
        if unknown:
            raise fail(400, f"Invalid permission key(s): {', '.join(unknown)}.")
        project = request.arg("projectKey")
        if project:
            self._project_or_404(project)
        revoked = set(self.state["settings"]["revoked"])
        return Reply(
            200,
            {
                "permissions": {
                    p: {
                        "id": str(i + 1),
                        "key": p,
                        "name": PERMISSIONS[p],
                        "type": "PROJECT",
                        "description": "",
                        "havePermission": p not in revoked,
                    }
                    for i, p in enumerate(wanted)
                }
            },
        )

    # -- search

    def _known_values(self) -> dict[str, set[str]]:
        def lower(values: Iterable[str]) -> set[str]:
            return {v.lower() for v in values}

        return {
            "project": lower(
                [
                    *self.projects,
                    *(p["id"] for p in self.projects.values()),
                    *(p["name"] for p in self.projects.values()),
                ]
            ),
            "status": lower([*self.statuses, *(s[0] for s in self.statuses.values())]),
            "issuetype": lower([*ISSUE_TYPES, *ISSUE_TYPES.values()]),
            "priority": lower([*PRIORITIES, *PRIORITIES.values()]),
            "statuscategory": lower([*CATEGORIES, *(c[1] for c in CATEGORIES.values())]),
        }

    def _jql_read(self, issue: dict[str, Any], field: str) -> Any:
        raw = issue["fields"]
        if field == "project":
            project = self.projects[issue["project"]]
            return [issue["project"], project["id"], project["name"]]
        if field == "key":
            return [issue["key"]]
        if field == "id":
            return issue["id"]
        if field == "issuetype":
            return [raw["issuetype"], ISSUE_TYPES[raw["issuetype"]]]
        if field == "status":
            return [issue["status"], self.statuses[issue["status"]][0]]
        if field == "statuscategory":
            category = self.statuses[issue["status"]][1]
            return [category, CATEGORIES[category][1]]
        if field == "resolution":
            rid = issue.get("resolution")
            return None if rid is None else [rid, RESOLUTIONS[rid]]
        if field == "priority":
            pid = raw.get("priority")
            return None if pid is None else [pid, PRIORITIES[pid]]
        if field == "component":
            comps = self.projects[issue["project"]]["components"]
            return [comps[c] for c in raw.get("components", [])] or None
        if field in ("created", "updated", "resolutiondate"):
            return issue.get(field)
        if field == "text":
            parts = [raw.get("summary") or "", adf_to_text(raw.get("description"))]
            parts += [
                adf_to_text(raw.get(f))
                for f in raw
                if f.startswith("customfield_") and isinstance(raw.get(f), str | dict)
            ]
            return " ".join(parts)
        value = raw.get(field)
        if field in RICH_TEXT_FIELDS:
            return adf_to_text(value) or None
        if field == "labels":
            return list(value or []) or None
        return value

    def _run_jql(self, text: str, viewer: str | None, reconcile: Iterable[Any] = ()) -> list[dict[str, Any]]:
        customs = {f[0] for f in self.field_table if f[3]}
        try:
            query = jql.parse(text, customs, self._known_values())
        except jql.JqlError as exc:
            raise fail(400, *exc.messages) from None
        if viewer is None:
            # Anonymous users browse nothing: 200 with an empty page (VENDOR_API_NOTES §1 "anonymous fallback").
            return []
        ctx = jql.Context(self._zone(viewer), self.now(), self._jql_read)
        # Search is eventually consistent: an issue created less than ``index_lag_seconds`` ago is not in
        # the index yet, unless its id is in ``reconcileIssues`` (OpenAPI v3 search/jql, VENDOR_API_NOTES §2).
        lag_ms = float(self.state["settings"].get("index_lag_seconds") or 0) * 1000
        now_ms = self.now().timestamp() * 1000
        reconciled = {str(r) for r in reconcile}
        indexed = [
            i
            for i in self.state["issues"].values()
            if not lag_ms or now_ms - i["created"] >= lag_ms or i["id"] in reconciled
        ]
        try:
            found = [i for i in indexed if query.where is None or query.where(i, ctx)]
        except jql.JqlError as exc:
            raise fail(400, *exc.messages) from None
        order = query.order_by or [("key", True)]
        return sorted(found, key=lambda i: jql.sort_key(i, order, ctx))

    def _search_params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                raise fail(400, "Invalid request payload. Refer to the REST API documentation and try again.")
            return body
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        for multi in ("fields", "properties"):
            if multi in request.query:
                params[multi] = [x for v in request.query[multi] for x in v.split(",")]
        return params

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

    def _search_jql(self, request: Request) -> Reply:
        """Cloud enhanced search (OpenAPI v3 searchAndReconsileIssuesUsingJql[Post]; VENDOR_API_NOTES §2)."""
        kind, viewer = self._principal(request)
        params = self._search_params(request)
        query = str(params.get("jql") or "")
        if not query.strip() or query.strip().lower().startswith("order by"):
            # The JQL must be bounded ("Unbounded JQL queries are not allowed here", OpenAPI v3 search/jql).
            raise fail(
                400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            )
        reconcile = params.get("reconcileIssues") or []
        if not isinstance(reconcile, list) or len(reconcile) > 50:
            raise fail(400, "reconcileIssues accepts at most 50 issue ids.")
        found = self._run_jql(query, viewer if kind == "user" else None, reconcile)
        limit = self._int(params.get("maxResults"), "maxResults", 50)
        fields_param = params.get("fields")
        id_only = not fields_param or list(fields_param) == ["id"]
        # "API may return fewer items per page" (OpenAPI v3): 100 issues when fields are asked, and tests may
        # shrink pages further to make sure clients follow nextPageToken instead of counting.
        cap = 5000 if id_only else 100
        page_size = self.state["settings"]["page_size"]
        size = max(1, min(limit or 50, cap, page_size or cap))
        digest = hashlib.sha256(query.encode()).hexdigest()[:16]
        offset = 0
        token = params.get("nextPageToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()).decode())
                if decoded["q"] != digest:
                    raise ValueError("token of another query")
                offset = int(decoded["o"])
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise fail(400, "The provided next page token is invalid or expired.") from None
        page = found[offset : offset + size]
        wanted = [] if id_only else self._wanted_fields(fields_param, "*navigable")
        properties = params.get("properties") or []
        if isinstance(properties, str):
            properties = properties.split(",")
        body: dict[str, Any] = {
            "issues": [
                self._issue_json(i, viewer, wanted, str(params.get("expand") or ""), properties, id_only=id_only)
                for i in page
            ],
            "isLast": offset + len(page) >= len(found),
        }
        if not body["isLast"]:
            # Opaque token; the key is ABSENT on the last page, never null (JRACLOUD-92184).
            body["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"q": digest, "o": offset + len(page)}).encode()
            ).decode()
        return Reply(200, body)

    def _search_removed(self, request: Request) -> Reply:
        # GET|POST /rest/api/3/search is gone (CHANGE-2046; atlassian/atlassian-mcp-server#70).
        return errors(410, [SEARCH_REMOVED])

    def _search_dc(self, request: Request) -> Reply:
        """DC search with startAt/maxResults/total (Jira Server REST 9.x ``api/2/search``)."""
        kind, viewer = self._principal(request)
        params = self._search_params(request)
        found = self._run_jql(str(params.get("jql") or ""), viewer if kind == "user" else None)
        start = self._int(params.get("startAt"), "startAt", 0)
        limit = self._int(params.get("maxResults"), "maxResults", 50)
        page_size = self.state["settings"]["page_size"]
        size = min(limit, 1000, page_size or 1000)
        page = found[start : start + size]
        wanted = self._wanted_fields(params.get("fields"), "*navigable")
        return Reply(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [self._issue_json(i, viewer, wanted, str(params.get("expand") or "")) for i in page],
            },
        )

    # -- issues

    def _create_issue(self, request: Request) -> Reply:
        handle = self._user(request)
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            raise fail(400, "Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssueUpdateBean")
        self._allowed("CREATE_ISSUES")
        issue = self._build_issue(body["fields"], handle)
        return Reply(
            201, {"id": issue["id"], "key": issue["key"], "self": f"{self.base_url}{self.api}/issue/{issue['id']}"}
        )

    def _create_issues_bulk(self, request: Request) -> Reply:
        """Bulk create (OpenAPI v3 createIssues; DC ``api/2/issue/bulk``): up to 50 ``issueUpdates``.

        Each element is validated and created on its own: 201 with ``{issues, errors}`` when at least one
        was created, 400 with the same shape when none was; an error names its ``failedElementNumber``
        (the index in the request) with the element's ErrorCollection.
        """
        handle = self._user(request)
        body = request.json()
        updates = body.get("issueUpdates") if isinstance(body, dict) else None
        if not isinstance(updates, list):
            raise fail(400, "Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssuesUpdateBean")
        if len(updates) > 50:
            raise fail(400, "The number of issues to create is greater than the maximum allowed (50).")
        self._allowed("CREATE_ISSUES")
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for number, update in enumerate(updates):
            try:
                if not isinstance(update, dict) or not isinstance(update.get("fields"), dict):
                    raise fail(400, "Issue fields are missing.")
                issue = self._build_issue(update["fields"], handle)
            except _Fail as failure:
                collection = failure.reply.body or {"errorMessages": [], "errors": {}}
                failed.append({"status": failure.reply.status, "elementErrors": collection,
                               "failedElementNumber": number})
                continue
            created.append(
                {"id": issue["id"], "key": issue["key"], "self": f"{self.base_url}{self.api}/issue/{issue['id']}"}
            )
        return Reply(201 if created else 400, {"issues": created, "errors": failed})

    def _build_issue(self, given: dict[str, Any], reporter: str) -> dict[str, Any]:
        """Validate a create body and store the issue (OpenAPI v3 createIssue: 400 with ``errors`` by field)."""
        problems: dict[str, str] = {}
        fields = {self._resolve_field_key(k): v for k, v in given.items()}
        project_ref = fields.pop("project", None)
        project = None
        if isinstance(project_ref, dict):
            for key, data in self.projects.items():
                if project_ref.get("key") == key or str(project_ref.get("id")) == data["id"]:
                    project = key
        if project is None:
            problems["project"] = "Specify a valid project ID or key"
        type_id = self._named(fields.pop("issuetype", None), ISSUE_TYPES)
        if type_id is None:
            problems["issuetype"] = "Specify an issue type"
        if not str(fields.get("summary") or "").strip():
            problems["summary"] = "You must specify a summary of the issue."
        stored: dict[str, Any] = {"issuetype": type_id, "labels": [], "components": [], "priority": "3"}
        for field, value in fields.items():
            if field not in self.creatable:
                problems[field] = NOT_ON_SCREEN.format(field)
                continue
            stored[field] = self._coerce(project or "OPS", field, value, problems)
        if problems:
            raise _Fail(errors(400, [], problems))
        assert project is not None
        number = self._next(project)
        now = self._now_ms()
        issue_id = str(self._next("issue"))
        stored.setdefault("reporter", reporter)
        stored["creator"] = reporter
        stored.setdefault("assignee", None)
        issue = {
            "id": issue_id,
            "key": f"{project}-{number}",
            "project": project,
            "fields": stored,
            "status": "10000",
            "resolution": None,
            "resolutiondate": None,
            "created": now,
            "updated": now,
            "comments": [],
            "remotelinks": [],
            "properties": {},
        }
        self.state["issues"][issue_id] = issue
        return issue

    def _get_issue(self, request: Request) -> Reply:
        viewer = self._user(request)
        issue = self._issue(request.params["id"])
        wanted = self._wanted_fields(request.query.get("fields"), "*all")
        props = [p for v in request.query.get("properties", []) for p in v.split(",")]
        return Reply(200, self._issue_json(issue, viewer, wanted, request.arg("expand") or "", props))

    def _edit_issue(self, request: Request) -> Reply:
        """Edit (OpenAPI v3 editIssue): 204; a field in both ``fields`` and ``update`` or off-screen is a 400."""
        self._user(request)
        issue = self._issue(request.params["id"])
        self._allowed("EDIT_ISSUES")
        body = request.json() or {}
        self._apply_edit(issue, body.get("fields") or {}, body.get("update") or {})
        return Reply(204)

    def _apply_edit(self, issue: dict[str, Any], fields: dict[str, Any], update: dict[str, Any]) -> None:
        problems: dict[str, str] = {}
        fields = {self._resolve_field_key(k): v for k, v in fields.items()}
        update = {self._resolve_field_key(k): v for k, v in update.items()}
        new: dict[str, Any] = {}
        for field in set(fields) & set(update):
            problems[field] = f"Field '{field}' cannot be set in both 'fields' and 'update'."
        for field, value in fields.items():
            if field not in self.editable:
                problems[field] = NOT_ON_SCREEN.format(field)
                continue
            new[field] = self._coerce(issue["project"], field, value, problems)
        for field, operations in update.items():
            if field not in self.editable:
                problems[field] = NOT_ON_SCREEN.format(field)
                continue
            current = list(issue["fields"].get(field) or []) if field in ("labels", "components") else None
            for operation in operations if isinstance(operations, list) else []:
                for verb, value in operation.items():
                    if verb == "set":
                        new[field] = self._coerce(issue["project"], field, value, problems)
                    elif verb in ("add", "remove") and current is not None:
                        item = self._coerce(issue["project"], field, [value], problems)
                        current = (
                            current + [i for i in item if i not in current]
                            if verb == "add"
                            else [c for c in current if c not in item]
                        )
                        new[field] = current
                    else:
                        problems[field] = f"Operation '{verb}' is not supported for field '{field}'."
        if problems:
            raise _Fail(errors(400, [], problems))
        if new:
            issue["fields"].update(new)
            self._touch(issue)

    # -- workflow

    def workflow_of(self, project: str) -> list[tuple[int, str, str, str, dict[str, bool]]]:
        """The workflow of ``project`` (one for every project here; a subclass may give a project its own)."""
        return WORKFLOW

    def _transitions_for(self, issue: dict[str, Any]) -> list[tuple[str, str, str, dict[str, bool]]]:
        offset = self.projects[issue["project"]]["offset"]
        return [
            (str(base + offset), name, to, screen)
            for base, name, source, to, screen in self.workflow_of(issue["project"])
            if source == issue["status"]
        ]

    def _transitions_json(
        self, issue: dict[str, Any], with_fields: bool, only: str | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for tid, name, to, screen in self._transitions_for(issue):
            if only is not None and tid != only:
                continue
            entry: dict[str, Any] = {
                "id": tid,
                "name": name,
                "to": self._status_json(to),
                "hasScreen": bool(screen),
                "isGlobal": False,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            if with_fields:
                entry["fields"] = {
                    field: {
                        "required": required,
                        "schema": {"type": "resolution", "system": "resolution"},
                        "name": "Resolution",
                        "key": field,
                        "hasDefaultValue": False,
                        "operations": ["set"],
                        "allowedValues": [
                            {"self": f"{self.base_url}{self.api}/resolution/{r}", "id": r, "name": n}
                            for r, n in RESOLUTIONS.items()
                        ],
                    }
                    for field, required in screen.items()
                }
            out.append(entry)
        return out

    def _get_transitions(self, request: Request) -> Reply:
        # OpenAPI v3 getTransitions: only transitions from the current status; none without the permission.
        self._user(request)
        issue = self._issue(request.params["id"])
        if "TRANSITION_ISSUES" in self.state["settings"]["revoked"]:
            return Reply(200, {"expand": "transitions", "transitions": []})
        with_fields = "transitions.fields" in (request.arg("expand") or "")
        return Reply(
            200,
            {
                "expand": "transitions",
                "transitions": self._transitions_json(issue, with_fields, request.arg("transitionId")),
            },
        )

    def _do_transition(self, request: Request) -> Reply:
        handle = self._user(request)
        issue = self._issue(request.params["id"])
        body = request.json() or {}
        self._allowed("TRANSITION_ISSUES")
        transition = body.get("transition") or {}
        tid = str(transition.get("id") or "")
        if not tid:
            # go-atlassian PR #328 (VENDOR_API_NOTES §6).
            raise fail(400, "Missing 'transition' identifier")
        self._apply_transition(issue, tid, body.get("fields") or {}, body.get("update") or {}, handle)
        return Reply(204)

    def _apply_transition(
        self, issue: dict[str, Any], tid: str, fields: dict[str, Any], update: dict[str, Any], handle: str
    ) -> None:
        match = [t for t in self._transitions_for(issue) if t[0] == tid]
        if not match:
            raise fail(400, f"Transition id '{tid}' is not valid for this issue.")
        _, _, to, screen = match[0]
        problems: dict[str, str] = {}
        resolution: str | None = None
        for field, value in fields.items():
            if field not in screen:
                # The documented body for a field off the transition screen (VENDOR_API_NOTES §1/§6).
                problems[field] = NOT_ON_SCREEN.format(field)
                continue
            resolution = self._named(value, RESOLUTIONS)
            if resolution is None:
                problems[field] = "Could not find valid 'id' or 'name' in resolution object."
        if problems:
            raise _Fail(errors(400, [], problems))
        if screen.get("resolution") and resolution is None:
            raise fail(400, "Field Resolution is required.")
        comment_ops = update.get("comment") or []
        issue["status"] = to
        if self.statuses[to][1] == "done":
            # a done-to-done step without a resolution screen (JSM Resolved -> Closed) keeps the resolution
            issue["resolution"] = resolution or issue.get("resolution")
            issue["resolutiondate"] = self._now_ms()
        elif self.statuses[to][1] != "done":
            issue["resolution"] = None  # the Reopen post-function clears the resolution
            issue["resolutiondate"] = None
        for op in comment_ops:
            add = op.get("add") if isinstance(op, dict) else None
            if add:
                self._store_comment(issue, handle, add.get("body"), add.get("visibility"), add.get("properties"))
        self._touch(issue)

    # -- comments

    def _visible(self, comment: dict[str, Any], viewer: str | None) -> bool:
        vis = comment.get("visibility")
        if not vis:
            return True
        if viewer is None:
            return False
        if vis["type"] == "role":
            return viewer in ROLES.get(vis["value"], ("", []))[1]
        return viewer in GROUPS.get(vis["value"], [])

    def _comment_json(
        self, issue: dict[str, Any], comment: dict[str, Any], viewer: str | None, expand: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "self": f"{self.base_url}{self.api}/issue/{issue['id']}/comment/{comment['id']}",
            "id": comment["id"],
            "author": self._user_json(comment["author"]),
            "body": copy.deepcopy(comment["body"]),
            "updateAuthor": self._user_json(comment["author"]),
            "created": self._fmt(comment["created"], viewer),
            "updated": self._fmt(comment["updated"], viewer),
        }
        if comment.get("visibility"):
            vis = dict(comment["visibility"])
            if self.mode == "cloud" and vis["type"] == "role":
                vis["identifier"] = ROLES[vis["value"]][0]
            body["visibility"] = vis
        if self.mode == "cloud":
            # Cloud reports jsdPublic (true for comments made through the platform API; jira.js Comment model).
            internal = any(
                p.get("key") == "sd.public.comment" and (p.get("value") or {}).get("internal")
                for p in comment.get("properties", [])
            )
            body["jsdPublic"] = not internal
        if "properties" in expand.split(","):
            body["properties"] = copy.deepcopy(comment.get("properties", []))
        return body

    def _get_comments(self, request: Request) -> Reply:
        """OpenAPI v3 getComments: startAt/maxResults(100)/total; ``orderBy`` only by created."""
        viewer = self._user(request)
        issue = self._issue(request.params["id"])
        order = request.arg("orderBy")
        if order not in (None, "created", "+created", "-created"):
            raise fail(400, f"The value '{order}' is not valid for the 'orderBy' parameter.")
        start = self._int(request.arg("startAt"), "startAt", 0)
        limit = self._int(request.arg("maxResults"), "maxResults", 100)
        visible = [c for c in issue["comments"] if self._visible(c, viewer)]
        visible.sort(key=lambda c: (c["created"], int(c["id"])), reverse=order == "-created")
        page = visible[start : start + min(limit, 5000)]
        expand = request.arg("expand") or ""
        return Reply(
            200,
            {
                "startAt": start,
                "maxResults": min(limit, 5000),
                "total": len(visible),
                "comments": [self._comment_json(issue, c, viewer, expand) for c in page],
            },
        )

    def _post_comment(self, request: Request) -> Reply:
        handle = self._user(request)
        issue = self._issue(request.params["id"])
        self._allowed("ADD_COMMENTS")
        body = request.json()
        if not isinstance(body, dict):
            raise fail(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        comment = self._store_comment(issue, handle, body.get("body"), body.get("visibility"), body.get("properties"))
        self._touch(issue, comment["created"])
        return Reply(201, self._comment_json(issue, comment, handle, request.arg("expand") or ""))

    def _store_comment(
        self, issue: dict[str, Any], handle: str, text: Any, visibility: Any, properties: Any
    ) -> dict[str, Any]:
        """Validate and append a comment; ``updated`` of the issue moves with it."""
        if self.mode == "cloud":
            if not is_adf(text):
                raise fail(400, **{"comment": NOT_ADF})
            empty = not adf_to_text(text).strip()
        else:
            if not isinstance(text, str):
                raise fail(400, **{"comment": "Operation value must be a string"})
            empty = not text.strip()
        if empty:
            raise fail(400, **{"comment": "Comment body can not be empty!"})
        if visibility:
            if not isinstance(visibility, dict) or visibility.get("type") not in ("role", "group"):
                raise fail(400, **{"commentLevel": "Visibility type must be 'role' or 'group'."})
            name = str(visibility.get("value", ""))
            members = (
                ROLES[name][1]
                if visibility["type"] == "role" and name in ROLES
                else GROUPS.get(name)
                if (visibility["type"] == "group")
                else None
            )
            if members is None or handle not in members:
                # reload/github-security-jira#128 (VENDOR_API_NOTES §5).
                kind = "project role" if visibility["type"] == "role" else "group"
                raise fail(400, **{"commentLevel": f"You are currently not a member of the {kind}: {name}."})
            visibility = {"type": visibility["type"], "value": name}
        props = []
        for prop in properties or []:
            if not isinstance(prop, dict) or not prop.get("key") or len(str(prop["key"])) > 255:
                raise fail(400, **{"properties": "Property keys must be non-empty and at most 255 characters."})
            if len(json.dumps(prop.get("value"))) > 32768:
                raise fail(400, **{"properties": "The property value is too long (32768 characters max)."})
            props.append({"key": str(prop["key"]), "value": prop.get("value")})
        now = self._now_ms()
        comment = {
            "id": str(self._next("comment")),
            "author": handle,
            "body": text,
            "created": now,
            "updated": now,
            "visibility": visibility or None,
            "properties": props,
        }
        issue["comments"].append(comment)
        return comment

    # -- remote links

    def _link_json(self, issue: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
        body = {"id": link["id"], "self": f"{self.base_url}{self.api}/issue/{issue['id']}/remotelink/{link['id']}"}
        for key in ("globalId", "application", "relationship", "object"):
            if link.get(key) is not None:
                body[key] = copy.deepcopy(link[key])
        return body

    def _get_remotelinks(self, request: Request) -> Reply:
        # OpenAPI v3 getRemoteIssueLinks: a list, or ONE object when ``globalId`` is given.
        self._user(request)
        issue = self._issue(request.params["id"])
        global_id = request.arg("globalId")
        if global_id is not None:
            for link in issue["remotelinks"]:
                if link.get("globalId") == global_id:
                    return Reply(200, self._link_json(issue, link))
            raise fail(404, "No remote link with the specified global ID was found.")
        return Reply(200, [self._link_json(issue, link) for link in issue["remotelinks"]])

    def _post_remotelink(self, request: Request) -> Reply:
        """Upsert by globalId: 201 then 200, omitted fields nulled (OpenAPI v3 createOrUpdateRemoteIssueLink)."""
        self._user(request)
        issue = self._issue(request.params["id"])
        self._allowed("LINK_ISSUES")
        body = request.json()
        if not isinstance(body, dict):
            raise fail(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        obj = body.get("object")
        problems = {}
        if not isinstance(obj, dict) or not obj.get("title"):
            problems["title"] = "'title' is required."
        if not isinstance(obj, dict) or not obj.get("url"):
            problems["url"] = "'url' is required."
        global_id = body.get("globalId")
        if global_id is not None and len(str(global_id)) > 255:
            problems["globalId"] = "The global ID must not be longer than 255 characters."
        if problems:
            raise _Fail(errors(400, [], problems))
        fields = {k: copy.deepcopy(body.get(k)) for k in ("globalId", "application", "relationship", "object")}
        for link in issue["remotelinks"]:
            if global_id is not None and link.get("globalId") == global_id:
                link.update(fields)
                self._touch(issue)
                return Reply(200, {"id": link["id"], "self": self._link_json(issue, link)["self"]})
        link = {"id": self._next("remotelink"), **fields}
        issue["remotelinks"].append(link)
        self._touch(issue)
        return Reply(201, {"id": link["id"], "self": self._link_json(issue, link)["self"]})

    # ------------------------------------------------------------------------------------- scripting API

    def _as(self, who: str) -> str:
        handle = who if who in USERS else _user_by("displayName", who) or _user_by("accountId", who)
        if handle is None:
            raise ValueError(f"unknown sandbox user {who!r}; known: {', '.join(USERS)}")
        return handle

    def _rich(self, text: str | None) -> Any:
        if text is None:
            return None
        return text_to_adf(text) if self.mode == "cloud" else text

    def create_issue(
        self,
        project: str = "OPS",
        summary: str = "Sandbox issue",
        *,
        issuetype: str = "Bug",
        description: str | None = None,
        labels: Iterable[str] = (),
        fields: dict[str, Any] | None = None,
        as_user: str = "dana",
    ) -> str:
        """Create an issue as a person (plain-text description) and return its key."""
        given: dict[str, Any] = {
            "project": {"key": project},
            "issuetype": {"name": issuetype},
            "summary": summary,
            "labels": list(labels),
        }
        if description is not None:
            given["description"] = self._rich(description)
        given.update(fields or {})
        with self.lock:
            try:
                issue = self._build_issue(given, self._as(as_user))
            except _Fail as failure:
                raise ValueError(json.dumps(failure.reply.body)) from None
            self.save()
            return str(issue["key"])

    def add_comment(
        self, key: str, body: str, *, as_user: str = "dana", visibility: dict[str, str] | None = None
    ) -> str:
        """Comment as a person (plain text); returns the comment id."""
        with self.lock:
            issue = self._issue_plain(key)
            try:
                comment = self._store_comment(issue, self._as(as_user), self._rich(body), visibility, None)
            except _Fail as failure:
                raise ValueError(json.dumps(failure.reply.body)) from None
            self._touch(issue, comment["created"])
            self.save()
            return str(comment["id"])

    def transition(self, key: str, status: str, *, as_user: str = "dana", resolution: str = "Done") -> list[str]:
        """Walk the workflow to ``status`` as a person would (shortest path); returns the transition names used."""
        with self.lock:
            issue = self._issue_plain(key)
            target = next((s for s, (n, _) in self.statuses.items() if n.lower() == status.lower()), None)
            if target is None:
                raise ValueError(f"unknown status {status!r}")
            path = self._path(issue["status"], target, self.workflow_of(issue["project"]))
            if path is None:
                raise ValueError(f"no path from {self.statuses[issue['status']][0]} to {status}")
            names = []
            for base, name, _src, _to, screen in path:
                fields = {"resolution": {"name": resolution}} if "resolution" in screen else {}
                tid = str(base + self.projects[issue["project"]]["offset"])
                try:
                    self._apply_transition(issue, tid, fields, {}, self._as(as_user))
                except _Fail as failure:
                    raise ValueError(json.dumps(failure.reply.body)) from None
                names.append(name)
            self.save()
            return names

    @staticmethod
    def _path(
        source: str, target: str, workflow: list[tuple[int, str, str, str, dict[str, bool]]] = WORKFLOW
    ) -> list[tuple[int, str, str, str, dict[str, bool]]] | None:
        frontier: deque[tuple[str, list[Any]]] = deque([(source, [])])
        seen = {source}
        while frontier:
            status, path = frontier.popleft()
            if status == target:
                return path
            for step in workflow:
                if step[2] == status and step[3] not in seen:
                    seen.add(step[3])
                    frontier.append((step[3], [*path, step]))
        return None

    def edit_issue(self, key: str, fields: dict[str, Any], *, as_user: str = "dana") -> None:
        """Edit fields as a person; plain strings for rich-text fields are converted like the editor would."""
        self._as(as_user)
        converted = {
            k: (self._rich(v) if self._resolve_field_key(k) in RICH_TEXT_FIELDS and isinstance(v, str) else v)
            for k, v in fields.items()
        }
        with self.lock:
            try:
                self._apply_edit(self._issue_plain(key), converted, {})
            except _Fail as failure:
                raise ValueError(json.dumps(failure.reply.body)) from None
            self.save()

    def _issue_plain(self, key: str) -> dict[str, Any]:
        try:
            return self._issue(key)
        except _Fail:
            raise KeyError(key) from None

    def set_time_zone(self, zone: str, user: str = "bridge") -> None:
        """Change a user's profile time zone (JQL literals and timestamps follow it)."""
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        with self.lock:
            self.state["time_zones"][self._as(user)] = zone
            self.save()

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.state["clock_offset"] = float(self.state.get("clock_offset", 0.0)) + seconds
            self.save()

    def fail_next(self, count: int, status: int = 503, retry_after: int = 1) -> None:
        """The next ``count`` API requests answer ``status`` (with Retry-After unless it is negative)."""
        with self.lock:
            self._failures.extend([(status, retry_after)] * count)

    def configure(self, **settings: Any) -> None:
        """``page_size``, ``bad_credentials_anonymous``, ``text_401``, ``revoked`` (permission keys)."""
        unknown = set(settings) - set(self.state["settings"])
        if unknown:
            raise ValueError(f"unknown sandbox setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            self.state["settings"].update(settings)
            self.save()

    def snapshot(self) -> list[dict[str, Any]]:
        """Everything, readable: issues with plain-text bodies, comments, links, status, timestamps (UTC)."""
        with self.lock:
            out = []
            for issue in sorted(self.state["issues"].values(), key=lambda i: int(i["id"])):
                raw = issue["fields"]
                out.append(
                    {
                        "id": issue["id"],
                        "key": issue["key"],
                        "project": issue["project"],
                        "status": self.statuses[issue["status"]][0],
                        "resolution": RESOLUTIONS.get(issue["resolution"] or ""),
                        "summary": raw.get("summary"),
                        "description": adf_to_text(raw.get("description")).strip(),
                        "labels": list(raw.get("labels", [])),
                        "issuetype": ISSUE_TYPES[raw["issuetype"]],
                        "fields": {k: v for k, v in raw.items() if k.startswith("customfield_")},
                        "created": self._fmt(issue["created"], None),
                        "updated": self._fmt(issue["updated"], None),
                        "comments": [
                            {
                                "id": c["id"],
                                "author": USERS[c["author"]]["displayName"],
                                "body": adf_to_text(c["body"]).strip(),
                                "visibility": c.get("visibility"),
                                "properties": c.get("properties", []),
                            }
                            for c in issue["comments"]
                        ],
                        "remotelinks": [copy.deepcopy(link) for link in issue["remotelinks"]],
                    }
                )
            return out

    def start_recording(self) -> None:
        self.recording = True
        self.exchanges = []

    # ------------------------------------------------------------------------------------- admin HTTP

    def _jira_admin_routes(self) -> None:
        """``/_sandbox/jira/…``: the scripting API over HTTP (JSON in, JSON out, 4xx with a message)."""

        def guarded(fn: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
            def run(request: Request) -> Reply:
                try:
                    return fn(request)
                except (ValueError, KeyError, TypeError) as exc:
                    return Reply(400 if not isinstance(exc, KeyError) else 404, {"message": str(exc)})

            return run

        def body(request: Request) -> dict[str, Any]:
            data = request.json() or {}
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            return data

        def create(request: Request) -> Reply:
            data = body(request)
            key = self.create_issue(
                data.get("project", "OPS"),
                data.get("summary", "Sandbox issue"),
                issuetype=data.get("issuetype", "Bug"),
                description=data.get("description"),
                labels=data.get("labels", []),
                fields=data.get("fields"),
                as_user=data.get("as", "dana"),
            )
            return Reply(201, {"key": key})

        def comment(request: Request) -> Reply:
            data = body(request)
            cid = self.add_comment(
                request.params["key"], data["body"], as_user=data.get("as", "dana"), visibility=data.get("visibility")
            )
            return Reply(201, {"id": cid})

        def transition(request: Request) -> Reply:
            data = body(request)
            names = self.transition(
                request.params["key"],
                data["status"],
                as_user=data.get("as", "dana"),
                resolution=data.get("resolution", "Done"),
            )
            return Reply(200, {"transitions": names})

        def edit(request: Request) -> Reply:
            data = body(request)
            self.edit_issue(request.params["key"], data.get("fields", {}), as_user=data.get("as", "dana"))
            return Reply(204)

        def time_zone(request: Request) -> Reply:
            data = body(request)
            self.set_time_zone(data["timeZone"], data.get("user", "bridge"))
            return Reply(204)

        def clock(request: Request) -> Reply:
            self.advance_clock(float(body(request).get("advance_seconds", 0)))
            return Reply(200, {"now": self.now().isoformat()})

        def failures(request: Request) -> Reply:
            data = body(request)
            self.fail_next(int(data.get("count", 1)), int(data.get("status", 503)), int(data.get("retry_after", 1)))
            return Reply(204)

        def settings(request: Request) -> Reply:
            self.configure(**body(request))
            return Reply(200, self.state["settings"])

        def listing(_: Request) -> Reply:
            return Reply(200, {"mode": self.mode, "issues": self.snapshot()})

        def recording(request: Request) -> Reply:
            if request.method == "POST":
                if body(request).get("on", True):
                    self.start_recording()
                else:
                    self.recording = False
                return Reply(204)
            return Reply(200, {"exchanges": self.exchanges})

        for method, path, fn in [
            ("POST", "/_sandbox/jira/issues", create),
            ("GET", "/_sandbox/jira/issues", listing),
            ("PUT", "/_sandbox/jira/issues/{key}", edit),
            ("POST", "/_sandbox/jira/issues/{key}/comments", comment),
            ("POST", "/_sandbox/jira/issues/{key}/transition", transition),
            ("PUT", "/_sandbox/jira/timezone", time_zone),
            ("POST", "/_sandbox/jira/clock", clock),
            ("POST", "/_sandbox/jira/failures", failures),
            ("PUT", "/_sandbox/jira/settings", settings),
            ("POST", "/_sandbox/jira/recording", recording),
            ("GET", "/_sandbox/jira/recording", recording),
        ]:
            self.router.add(method, path, guarded(fn))


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.sandbox.jira``: serve until SIGTERM/SIGINT; print the URL once ready."""
    parser = argparse.ArgumentParser(prog="python -m bridge.sandbox.jira", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    server = SandboxServer(JiraSandbox(mode=args.mode, state_dir=args.state_dir), port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(server.url, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
