"""Comments: visibility by role or group, ``jsdPublic`` and comment properties, paging by ``created``.

Comment properties are what JSM's internal/public flag rides on (``sd.public.comment``), so they live
here rather than with issue properties.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bridge.sandbox.jira.app import INVALID_PAYLOAD, NOT_ADF, fail
from bridge.sandbox.jira.catalog import GROUPS, ROLES
from bridge.sandbox.jira.render import TOO_LONG, RenderMixin, adf_to_text, is_adf, too_long
from bridge.sandbox.server import Reply, Request
from bridge.vendors import jira as jira_facts
from bridge.vendors import jsm as jsm_facts


class CommentsMixin(RenderMixin):
    """``GET|POST issue/{id}/comment`` and the one place a comment is validated and stored."""

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
                p.get("key") == jsm_facts.PUBLIC_PROPERTY and (p.get("value") or {}).get("internal")
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
            raise fail(400, INVALID_PAYLOAD)
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
        if too_long(text):
            raise fail(400, **{"comment": TOO_LONG})
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
                # reload/github-security-jira#128 (docs/connectors/jira.md, "What the Jira sandbox reproduces").
                kind = "project role" if visibility["type"] == "role" else "group"
                raise fail(400, **{"commentLevel": f"You are currently not a member of the {kind}: {name}."})
            visibility = {"type": visibility["type"], "value": name}
        props = []
        for prop in properties or []:
            # Entity property limits: key ≤ 255 characters, value ≤ 32768 (OpenAPI v3; Atlassian "Entity properties",
            # developer.atlassian.com/server/jira/platform/entity-properties).
            if not isinstance(prop, dict) or not prop.get("key") or len(str(prop["key"])) > 255:
                raise fail(400, **{"properties": "Property keys must be non-empty and at most 255 characters."})
            if len(json.dumps(prop.get("value"))) > jira_facts.MAX_PROPERTY_VALUE_LENGTH:
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
