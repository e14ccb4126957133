"""JQL search: Cloud's enhanced ``search/jql`` (``nextPageToken``, no total, 410 on the old endpoint) and
Data Center's ``search`` (``startAt``/``maxResults``/``total``), both over :mod:`.jql` and with an optional
index lag. Every behaviour is listed in docs/connectors/jira.md, "What the Jira sandbox reproduces"."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from bridge.sandbox.jira import jql
from bridge.sandbox.jira.app import INVALID_PAYLOAD, SEARCH_REMOVED, errors, fail
from bridge.sandbox.jira.catalog import CATEGORIES, ISSUE_TYPES, PRIORITIES, RESOLUTIONS, RICH_TEXT_FIELDS
from bridge.sandbox.jira.issues import IssuesMixin
from bridge.sandbox.jira.render import adf_to_text
from bridge.sandbox.server import Reply, Request

#: searches whose ordered answer is kept for their next pages (a cycle pages one search per mapping at a time)
SEARCHES_KEPT = 8


class SearchMixin(IssuesMixin):
    """The search endpoints; a page renders issues, hence the issues mixin."""

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

    def _run_jql(
        self, text: str, viewer: str | None, reconcile: Iterable[Any] = (), *, resume: bool = False
    ) -> list[dict[str, Any]]:
        """The issues ``text`` selects for ``viewer``, in the query's order.

        ``resume`` (a request for a page after the first) may reuse the list computed for an earlier page of
        the same search when nothing has changed since (:meth:`JiraApp._search_validator`): a real Jira
        answers each page from its index, while evaluating the JQL over every stored issue for each page
        made a full read of 100,000 issues quadratic. The first page is always evaluated afresh, and a query
        whose answer depends on the clock (a relative date, the index lag) is never reused.
        """
        customs = {f[0] for f in self.field_table if f[3]}
        try:
            query = jql.parse(text, customs, self._known_values())
        except jql.JqlError as exc:
            raise fail(400, *exc.messages) from None
        if viewer is None:
            # Anonymous users browse nothing: 200 with an empty page (Atlassian's basic-auth example for Jira
            # Server, "anonymous access"; docs/connectors/jira.md, "What the Jira sandbox reproduces").
            return []
        zone = self._zone(viewer)
        ctx = jql.Context(zone, self.now(), self._jql_read)
        # Search is eventually consistent: an issue created less than ``index_lag_seconds`` ago is not in
        # the index yet, unless its id is in ``reconcileIssues`` (OpenAPI v3 search/jql; docs/connectors/jira.md,
        # "What the Jira sandbox reproduces").
        lag_ms = float(self.state["settings"].get("index_lag_seconds") or 0) * 1000
        reconciled = {str(r) for r in reconcile}
        key = (text, str(zone), tuple(sorted(reconciled)))
        validator = self._search_validator()
        if resume and not lag_ms:
            cached = self._search_results.get(key)
            if cached is not None and cached[0] == validator:
                return cached[1]
        now_ms = self.now().timestamp() * 1000
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
        ordered = sorted(found, key=lambda i: jql.sort_key(i, order, ctx))
        if not lag_ms and not query.uses_now:
            self._search_results.pop(key, None)
            self._search_results[key] = (validator, ordered)
            while len(self._search_results) > SEARCHES_KEPT:
                del self._search_results[next(iter(self._search_results))]
        return ordered

    def _search_params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                raise fail(400, INVALID_PAYLOAD)
            return body
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        for multi in ("fields", "properties"):
            if multi in request.query:
                params[multi] = [x for v in request.query[multi] for x in v.split(",")]
        return params

    def _search_jql(self, request: Request) -> Reply:
        """Cloud enhanced search (OpenAPI v3 searchAndReconsileIssuesUsingJql[Post]; docs/connectors/jira.md,
        "What the Jira sandbox reproduces")."""
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
        token = params.get("nextPageToken")
        found = self._run_jql(query, viewer if kind == "user" else None, reconcile, resume=bool(token))
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
        start = self._int(params.get("startAt"), "startAt", 0)
        found = self._run_jql(str(params.get("jql") or ""), viewer if kind == "user" else None, resume=start > 0)
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
