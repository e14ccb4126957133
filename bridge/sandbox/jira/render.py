"""How the sandbox Jira writes things down: rich text (ADF on Cloud, wiki strings on DC), dates in
Jira's format and the user's zone, and the small JSON objects every resource embeds (users, statuses,
projects, issue types, priorities, resolutions).

The text helpers are the sandbox's own, minimal ones: it must not depend on the connector it is testing.
People scripted through the sandbox write plain text; the sandbox stores it the way Jira would have
received it from a browser: ADF on Cloud (one paragraph per blank-line block, ``hardBreak`` for line
breaks — ADF spec https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/) and a
plain wiki string on Data Center.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.sandbox.jira.app import JiraApp
from bridge.sandbox.jira.catalog import CATEGORIES, ISSUE_TYPES, PRIORITIES, RESOLUTIONS, USERS
from bridge.vendors import jira as jira_facts


def text_to_adf(text: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def adf_to_text(node: Any) -> str:
    """Flatten ADF for JQL text search and for the admin listing (not a faithful renderer)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = "".join(adf_to_text(child) for child in node.get("content", []) or [])
    if kind in ("paragraph", "codeBlock", "heading", "listItem"):
        return inner + "\n"
    return inner


TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
"""Jira's 400 for description, environment, textarea fields and comment bodies over the limit (OpenAPI v3
createIssue/addComment 400 texts; docs/connectors/jira.md, "Text limits")."""


def too_long(value: Any) -> bool:
    """Whether rich text passes Jira's limit: a wiki string by its length, ADF by its compact JSON."""
    size = len(value) if isinstance(value, str) else len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    return size > jira_facts.MAX_TEXT_LENGTH


def is_adf(value: Any) -> bool:
    """Jira Cloud's test for "an Atlassian Document": a doc node with version 1 and a content list."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


class RenderMixin(JiraApp):
    """Rendering shared by every resource: a change of format (the date pattern, the user object of a
    mode) is made here once."""

    def _zone(self, handle: str | None) -> ZoneInfo:
        return ZoneInfo(self.state["time_zones"].get(handle or "bridge", "UTC") if handle else "UTC")

    def _fmt(self, ms: int | None, viewer: str | None) -> str | None:
        """``2024-01-02T03:04:05.000+0100``: millis, offset without colon, the viewer's zone (OpenAPI v3
        examples; docs/connectors/jira.md, "What the Jira sandbox reproduces")."""
        if ms is None:
            return None
        moment = datetime.fromtimestamp(ms / 1000, self._zone(viewer))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + moment.strftime("%z")

    def _rich(self, text: str | None) -> Any:
        """Plain text as the editor would send it: ADF on Cloud, a wiki string on DC."""
        if text is None:
            return None
        return text_to_adf(text) if self.mode == "cloud" else text

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

    def _priority_json(self, pid: str) -> dict[str, Any]:
        return {
            "self": f"{self.base_url}{self.api}/priority/{pid}",
            "iconUrl": f"{self.base_url}/images/icons/priorities/{PRIORITIES[pid].lower()}.svg",
            "name": PRIORITIES[pid],
            "id": pid,
        }

    def _resolution_json(self, rid: str) -> dict[str, Any]:
        return {
            "self": f"{self.base_url}{self.api}/resolution/{rid}",
            "id": rid,
            "description": "",
            "name": RESOLUTIONS[rid],
        }
