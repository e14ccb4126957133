"""Scripting: tests and the demo act "as a person would" — in Python (:meth:`ScriptingMixin.create_issue`,
:meth:`~ScriptingMixin.add_comment`, :meth:`~ScriptingMixin.transition`, …) and over HTTP under
``/_sandbox/jira/…`` (:meth:`ScriptingMixin._jira_admin_routes`).

A person goes through the same validation as the REST API (a bad value is a ``ValueError`` carrying
Jira's ErrorCollection), but writes plain text: the sandbox converts it as Jira's editor would.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.sandbox.jira.app import _Fail
from bridge.sandbox.jira.catalog import ISSUE_TYPES, RESOLUTIONS, RICH_TEXT_FIELDS, USERS, user_by
from bridge.sandbox.jira.issues import IssuesMixin
from bridge.sandbox.jira.render import adf_to_text
from bridge.sandbox.server import Reply, Request


class ScriptingMixin(IssuesMixin):
    """The scripting API; every write takes the lock and persists, like a request would."""

    def _as(self, who: str) -> str:
        handle = who if who in USERS else user_by("displayName", who) or user_by("accountId", who)
        if handle is None:
            raise ValueError(f"unknown sandbox user {who!r}; known: {', '.join(USERS)}")
        return handle

    def _issue_plain(self, key: str) -> dict[str, Any]:
        try:
            return self._issue(key)
        except _Fail:
            raise KeyError(key) from None

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

    # ------------------------------------------------------------------------------------- over HTTP

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
