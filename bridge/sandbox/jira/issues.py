"""Issues: read one, create one or a bulk of up to 50, edit (``fields`` and ``update`` verbs)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bridge.sandbox.jira.app import NOT_ON_SCREEN, _Fail, errors, fail
from bridge.sandbox.jira.catalog import ISSUE_TYPES
from bridge.sandbox.jira.fields import FieldsMixin
from bridge.sandbox.jira.workflow import WorkflowMixin
from bridge.sandbox.server import Reply, Request


class IssuesMixin(FieldsMixin, WorkflowMixin):
    """The issue resource; ``expand=transitions`` is why it also stands on the workflow mixin."""

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

    def _get_issue(self, request: Request) -> Reply:
        viewer = self._user(request)
        issue = self._issue(request.params["id"])
        wanted = self._wanted_fields(request.query.get("fields"), "*all")
        props = [p for v in request.query.get("properties", []) for p in v.split(",")]
        return Reply(200, self._issue_json(issue, viewer, wanted, request.arg("expand") or "", props))

    def _created(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {"id": issue["id"], "key": issue["key"], "self": f"{self.base_url}{self.api}/issue/{issue['id']}"}

    def _create_issue(self, request: Request) -> Reply:
        handle = self._user(request)
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            raise fail(400, "Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssueUpdateBean")
        self._allowed("CREATE_ISSUES")
        issue = self._build_issue(body["fields"], handle)
        return Reply(201, self._created(issue))

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
                failed.append(
                    {"status": failure.reply.status, "elementErrors": collection, "failedElementNumber": number}
                )
                continue
            created.append(self._created(issue))
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
        issue: dict[str, Any] = {
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
