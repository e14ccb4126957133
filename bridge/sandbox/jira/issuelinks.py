"""Issue links between two issues, and deleting an issue: ``POST issueLink`` and ``DELETE issue/{id}``.

Follows the Jira Cloud platform REST API (OpenAPI v3 ``linkIssues``, ``deleteIssue``;
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-links/#api-rest-api-3-issuelink-post
and …/api-group-issues/#api-rest-api-3-issue-issueidorkey-delete), the same on Data Center's v2:

* ``POST issueLink`` with ``{"type": {"name"|"id"}, "inwardIssue": {"key"|"id"}, "outwardIssue": {…}}``
  answers 201 with an empty body; 404 when an issue cannot be seen or the link type does not exist
  ("No issue link type with name '…' found."); 403 without the *Link Issues* permission; 400 for a body
  without a type or an issue. Linking the same two issues the same way twice keeps one link.
* ``DELETE issue/{id}`` answers 204; afterwards every call about the issue answers 404.

The stored link reads "outwardIssue <type's outward description> inwardIssue" ("OPS-4 duplicates OPS-2"),
as Atlassian's "Jira issue linking model" guide describes the two directions.
"""

from __future__ import annotations

from typing import Any

from bridge.sandbox.jira.app import INVALID_PAYLOAD, JiraApp, fail
from bridge.sandbox.server import Reply, Request

#: Jira's default issue link types: name → (outward, inward) descriptions
LINK_TYPES: dict[str, tuple[str, str]] = {
    "Blocks": ("blocks", "is blocked by"),
    "Cloners": ("clones", "is cloned by"),
    "Duplicate": ("duplicates", "is duplicated by"),
    "Relates": ("relates to", "relates to"),
}
LINK_TYPE_IDS = {"10000": "Blocks", "10001": "Cloners", "10002": "Duplicate", "10003": "Relates"}


class IssueLinksMixin(JiraApp):
    """``POST issueLink``, ``DELETE issue/{id}`` and their scripting helpers; needs nothing but the frame."""

    def routes(self) -> None:
        super().routes()
        self._add("POST", f"{self.api}/issueLink", self._post_issue_link)
        self._add("DELETE", f"{self.api}/issue/{{id}}", self._delete_issue)

    def _issue_links(self) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = self.state.setdefault("issuelinks", [])
        return links

    def _post_issue_link(self, request: Request) -> Reply:
        self._user(request)
        body = request.json()
        if not isinstance(body, dict):
            raise fail(400, INVALID_PAYLOAD)
        kind = body.get("type")
        if not isinstance(kind, dict) or not (kind.get("name") or kind.get("id")):
            raise fail(400, "Issue link type is required.")
        name = kind.get("name") or LINK_TYPE_IDS.get(str(kind.get("id")), "")
        ends = {}
        for end in ("inwardIssue", "outwardIssue"):
            ref = body.get(end)
            if not isinstance(ref, dict) or not (ref.get("key") or ref.get("id")):
                raise fail(400, f"'{end}' is required.")
            ends[end] = self._issue(str(ref.get("id") or ref.get("key")))
        if name not in LINK_TYPES:
            raise fail(404, f"No issue link type with name '{name}' found.")
        self._allowed("LINK_ISSUES")
        link = {"type": name, "outward": ends["outwardIssue"]["key"], "inward": ends["inwardIssue"]["key"]}
        if link not in self._issue_links():
            self._issue_links().append(link)
            for issue in ends.values():
                self._touch(issue)
        return Reply(201)

    def _delete_issue(self, request: Request) -> Reply:
        self._user(request)
        issue = self._issue(request.params["id"])
        self._allowed("DELETE_ISSUES")
        del self.state["issues"][issue["id"]]
        self.state["issuelinks"] = [
            link for link in self._issue_links() if issue["key"] not in (link["inward"], link["outward"])
        ]
        return Reply(204)

    # ------------------------------------------------------------------------------------- scripting

    def issue_links(self) -> list[tuple[str, str, str]]:
        """Every issue link as ``(type, outward key, inward key)``: "outward <type outward> inward"."""
        with self.lock:
            return [(link["type"], link["outward"], link["inward"]) for link in self._issue_links()]

    def delete_issue(self, key: str) -> None:
        """Delete an issue as a person with the right would (every later call about it answers 404)."""
        with self.lock:
            issue = self._issue(key)
            del self.state["issues"][issue["id"]]
