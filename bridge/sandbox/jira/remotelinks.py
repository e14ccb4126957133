"""Remote issue links: upsert by ``globalId`` (201 then 200, omitted fields nulled) and the single-object
answer of ``GET …/remotelink?globalId=`` (OpenAPI v3 createOrUpdateRemoteIssueLink, getRemoteIssueLinks)."""

from __future__ import annotations

import copy
from typing import Any

from bridge.sandbox.jira.app import INVALID_PAYLOAD, JiraApp, _Fail, errors, fail
from bridge.sandbox.server import Reply, Request
from bridge.vendors import jira as jira_facts


class RemoteLinksMixin(JiraApp):
    """``GET|POST issue/{id}/remotelink``; needs nothing but the frame."""

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
            raise fail(400, INVALID_PAYLOAD)
        obj = body.get("object")
        problems = {}
        if not isinstance(obj, dict) or not obj.get("title"):
            problems["title"] = "'title' is required."
        if not isinstance(obj, dict) or not obj.get("url"):
            problems["url"] = "'url' is required."
        global_id = body.get("globalId")
        if global_id is not None and len(str(global_id)) > jira_facts.MAX_GLOBAL_ID_LENGTH:
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
