"""The sandbox Jira with Jira Service Management: a service project next to the software projects.

JSM is not a separate server: it is a Jira site whose *service projects* carry requests (issues with a
request type), a service-desk workflow, and comments that are either public replies (the customer sees
them in the portal) or internal notes (agents only). This subclass of
:class:`~bridge.sandbox.jira.JiraSandbox` adds exactly that, so one loopback server can host both the
service project (``SUP``) and the development projects (``OPS``, ``DEV``) — the "same site" setup — or
run twice for "two sites".

What it reproduces (docs/connectors/jsm.md, "Vendor facts bridge relies on";
Atlassian "Exploring the JSM domain model via the REST APIs";
JSM Cloud REST ``/rest/servicedeskapi/``):

* ``GET /rest/project/SUP`` says ``projectTypeKey: service_desk``; ``GET /rest/servicedeskapi/servicedesk``
  lists the service desk (``id``, ``projectId``, ``projectKey``, ``projectName``) in JSM's paged envelope
  (``size``, ``start``, ``limit``, ``isLastPage``, ``values``); request types per service desk likewise.
* The request type is a custom field ("Request Type" on Cloud, "Customer Request Type" on DC, schema
  ``sd-customerrequesttype``) whose platform value is ``{"requestType": {...}, "currentStatus": {...}}``.
* The JSM workflow: Waiting for support → In Progress → Waiting for customer → Resolved (resolution
  required) → Closed, Resolved → Waiting for support (reopen), Canceled; ids differ from the software
  workflow's.
* Comment visibility: the ``sd.public.comment`` property ``{"internal": true}`` makes a comment internal;
  Cloud renders it as ``jsdPublic`` on every comment, DC only as the property (``expand=properties``).
  ``POST /rest/servicedeskapi/request/{key}/comment {"body", "public"}`` is the JSM API's way to comment
  (plain text body) and stores the same property.

Scripting: :meth:`JsmSandbox.create_request`, :meth:`JsmSandbox.reply` (public reply or internal note, as
an agent or the customer), plus everything :class:`JiraSandbox` offers (``transition``, ``edit_issue``…).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from bridge.sandbox import jira as base
from bridge.sandbox.jira import EDITABLE, FIELDS, PROJECTS, STATUSES, JiraSandbox, fail
from bridge.sandbox.jira.app import errors
from bridge.sandbox.jira.attachments import _file_parts
from bridge.sandbox.jira.render import adf_to_text
from bridge.sandbox.server import Reply, Request
from bridge.vendors import jira as jira_facts
from bridge.vendors import jsm as jsm_facts

SERVICE_PROJECT = "SUP"
SERVICE_DESK_ID = "1"
#: Status ids of the JSM workflow; "In Progress" is the site's shared status (statuses are global in Jira).
WAITING_FOR_SUPPORT = "10100"
WAITING_FOR_CUSTOMER = "10101"
RESOLVED = "10102"
CLOSED = "10103"
CANCELED = "10104"
IN_PROGRESS = "10001"
JSM_STATUSES = {
    WAITING_FOR_SUPPORT: ("Waiting for support", "new"),
    WAITING_FOR_CUSTOMER: ("Waiting for customer", "indeterminate"),
    RESOLVED: ("Resolved", "done"),
    CLOSED: ("Closed", "done"),
    CANCELED: ("Canceled", "done"),
}
#: The service project's workflow (same tuple shape as bridge.sandbox.jira.WORKFLOW).
JSM_WORKFLOW: list[tuple[int, str, str, str, dict[str, bool]]] = [
    (11, "Start work", WAITING_FOR_SUPPORT, IN_PROGRESS, {}),
    (21, "Respond to customer", WAITING_FOR_SUPPORT, WAITING_FOR_CUSTOMER, {}),
    (22, "Respond to customer", IN_PROGRESS, WAITING_FOR_CUSTOMER, {}),
    (31, "Respond to support", WAITING_FOR_CUSTOMER, WAITING_FOR_SUPPORT, {}),
    (32, "Stop work", IN_PROGRESS, WAITING_FOR_SUPPORT, {}),
    (41, "Resolve this issue", WAITING_FOR_SUPPORT, RESOLVED, {"resolution": True}),
    (42, "Resolve this issue", IN_PROGRESS, RESOLVED, {"resolution": True}),
    (43, "Resolve this issue", WAITING_FOR_CUSTOMER, RESOLVED, {"resolution": True}),
    (51, "Cancel request", WAITING_FOR_SUPPORT, CANCELED, {"resolution": True}),
    (61, "Reopen", RESOLVED, WAITING_FOR_SUPPORT, {}),
    (71, "Close", RESOLVED, CLOSED, {}),
]
#: request type id -> (name, portal key suffix, description)
REQUEST_TYPES = {
    "10": ("Get IT help", "getithelp", "Ask the IT team for help."),
    "11": ("Report a bug", "reportbug", "Something in one of our applications does not work."),
    "12": ("Request new software", "newsoftware", "Ask for software to be installed."),
}
REQUEST_TYPE_FIELD = "customfield_10010"
DEV_ISSUE_FIELD = "customfield_10060"
DEV_ISSUE_URL_FIELD = "customfield_10061"
_JSM_FIELDS = {REQUEST_TYPE_FIELD, DEV_ISSUE_FIELD, DEV_ISSUE_URL_FIELD}


class JsmSandbox(JiraSandbox):
    """A Jira site with the service project ``SUP`` (Cloud or Data Center, like the base sandbox)."""

    name = "jira"
    projects: ClassVar[dict[str, dict[str, Any]]] = {
        **PROJECTS,
        SERVICE_PROJECT: {"id": "10002", "name": "Support", "offset": 900, "components": {}},
    }
    statuses: ClassVar[dict[str, tuple[str, str]]] = {**STATUSES, **JSM_STATUSES}
    editable = EDITABLE | _JSM_FIELDS
    creatable = EDITABLE | _JSM_FIELDS | {"project", "issuetype", "reporter"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        mode = kwargs.get("mode", args[0] if args else "cloud")
        # Cloud calls the field "Request Type", Data Center "Customer Request Type" (same schema type).
        request_type_name = "Request Type" if mode == "cloud" else "Customer Request Type"
        self.field_table = [
            *FIELDS,
            (REQUEST_TYPE_FIELD, request_type_name, "sd-customerrequesttype", "com.atlassian.servicedesk:vp-origin"),
            (
                DEV_ISSUE_FIELD,
                "Development issue",
                "string",
                "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
            ),
            (
                DEV_ISSUE_URL_FIELD,
                "Development issue URL",
                "string",
                "com.atlassian.jira.plugin.system.customfieldtypes:url",
            ),
        ]
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------------- catalogue

    def workflow_of(self, project: str) -> list[tuple[int, str, str, str, dict[str, bool]]]:
        return JSM_WORKFLOW if project == SERVICE_PROJECT else super().workflow_of(project)

    def _project_json(self, key: str) -> dict[str, Any]:
        body = super()._project_json(key)
        if key == SERVICE_PROJECT:
            body["projectTypeKey"] = "service_desk"
        return body

    def _project_statuses(self, request: Request) -> Reply:
        reply = super()._project_statuses(request)
        key = self._project_or_404(request.params["key"])
        used = {s for step in self.workflow_of(key) for s in (step[2], step[3])}
        for issue_type in reply.body or []:
            issue_type["statuses"] = [s for s in issue_type["statuses"] if s["id"] in used]
        return reply

    # ------------------------------------------------------------------------------------- fields

    def _request_type_json(self, issue: dict[str, Any]) -> dict[str, Any] | None:
        rtid = issue["fields"].get(REQUEST_TYPE_FIELD)
        if rtid is None:
            return None
        name, portal, description = REQUEST_TYPES[rtid]
        status_name, category = self.statuses[issue["status"]]
        return {
            "_links": {
                "jiraRest": f"{self.base_url}{self.api}/issue/{issue['id']}",
                "web": f"{self.base_url}/servicedesk/customer/portal/1/{issue['key']}",
            },
            "requestType": {
                "id": rtid,
                "_links": {"self": f"{self.base_url}/rest/servicedeskapi/servicedesk/1/requesttype/{rtid}"},
                "name": name,
                "description": description,
                "helpText": "",
                "issueTypeId": issue["fields"]["issuetype"],
                "serviceDeskId": SERVICE_DESK_ID,
                "portalKey": f"sup/{portal}",
                "groupIds": [],
            },
            "currentStatus": {
                "status": status_name,
                "statusCategory": {"new": "NEW", "indeterminate": "INDETERMINATE", "done": "DONE"}[category],
                "statusDate": {"epochMillis": issue["updated"]},
            },
        }

    def _field_json(self, issue: dict[str, Any], field: str, viewer: str | None) -> Any:
        if field == REQUEST_TYPE_FIELD:
            return self._request_type_json(issue)
        return super()._field_json(issue, field, viewer)

    def _jql_read(self, issue: dict[str, Any], field: str) -> Any:
        if field == REQUEST_TYPE_FIELD:
            rtid = issue["fields"].get(REQUEST_TYPE_FIELD)
            # JQL matches a request type by name or portal key ("sup/getithelp").
            return None if rtid is None else [REQUEST_TYPES[rtid][0], f"sup/{REQUEST_TYPES[rtid][1]}"]
        return super()._jql_read(issue, field)

    def _coerce(self, project: str, field: str, value: Any, problems: dict[str, str]) -> Any:
        if field == REQUEST_TYPE_FIELD:
            # The platform API takes the request type id as a string (Cloud; DC also takes the portal key).
            if project != SERVICE_PROJECT:
                problems[field] = base.NOT_ON_SCREEN.format(field)
                return None
            text = str(value.get("id") if isinstance(value, dict) else value)
            for rtid, (name, portal, _) in REQUEST_TYPES.items():
                if text.lower() in (rtid, name.lower(), f"sup/{portal}"):
                    return rtid
            problems[field] = f"The request type '{text}' does not exist in this service project."
            return None
        if field in (DEV_ISSUE_FIELD, DEV_ISSUE_URL_FIELD):
            if value is not None and not isinstance(value, str):
                problems[field] = "Operation value must be a string"
            elif value is not None and len(value) > jira_facts.MAX_SHORT_TEXT_LENGTH:
                problems[field] = ("The entered text is too long. It exceeds the allowed limit of "
                                   f"{jira_facts.MAX_SHORT_TEXT_LENGTH} characters.")
            elif field == DEV_ISSUE_URL_FIELD and value and not value.startswith(("http://", "https://")):
                problems[field] = f"Not a valid URL: {value}"
            return value
        return super()._coerce(project, field, value, problems)

    def _build_issue(self, given: dict[str, Any], reporter: str) -> dict[str, Any]:
        issue = super()._build_issue(given, reporter)
        if issue["project"] == SERVICE_PROJECT:
            issue["status"] = WAITING_FOR_SUPPORT  # the initial status of the service-desk workflow
            issue["fields"].setdefault(REQUEST_TYPE_FIELD, "10")
        return issue

    # ------------------------------------------------------------------------------------- servicedeskapi

    def routes(self) -> None:
        super().routes()
        add = self._add
        add("GET", "/rest/servicedeskapi/servicedesk", self._service_desks)
        add("GET", "/rest/servicedeskapi/servicedesk/{id}", self._service_desk)
        add("GET", "/rest/servicedeskapi/servicedesk/{id}/requesttype", self._request_types)
        add("POST", "/rest/servicedeskapi/request/{key}/comment", self._request_comment)
        add("GET", "/rest/servicedeskapi/request/{key}/comment", self._request_comments)
        add("GET", "/rest/servicedeskapi/request/{key}/comment/{cid}/attachment", self._comment_attachments)
        add("POST", "/rest/servicedeskapi/servicedesk/{id}/attachTemporaryFile", self._attach_temporary)
        add("POST", "/rest/servicedeskapi/request/{key}/attachment", self._request_attachment)

    def _paged(self, request: Request, values: list[dict[str, Any]]) -> Reply:
        """JSM's paged envelope (``start``/``limit``/``size``/``isLastPage``/``values``, default limit 50)."""
        start = self._int(request.arg("start"), "start", 0)
        limit = max(1, min(self._int(request.arg("limit"), "limit", 50), 100))
        page = values[start : start + limit]
        return Reply(
            200,
            {
                "_expands": [],
                "size": len(page),
                "start": start,
                "limit": limit,
                "isLastPage": start + len(page) >= len(values),
                "_links": {"base": self.base_url, "context": "", "self": f"{self.base_url}{request.path}"},
                "values": page,
            },
        )

    def _desk_json(self) -> dict[str, Any]:
        project = self.projects[SERVICE_PROJECT]
        return {
            "id": SERVICE_DESK_ID,
            "projectId": project["id"],
            "projectName": project["name"],
            "projectKey": SERVICE_PROJECT,
            "_links": {"self": f"{self.base_url}/rest/servicedeskapi/servicedesk/{SERVICE_DESK_ID}"},
        }

    def _desk_or_404(self, request: Request) -> None:
        self._user(request)
        # "serviceDeskId … can alternatively be a project identifier" (JSM REST: getServiceDeskById).
        if request.params["id"] not in (SERVICE_DESK_ID, SERVICE_PROJECT, self.projects[SERVICE_PROJECT]["id"]):
            raise fail(404, "The service desk does not exist or you do not have permission to see it.")

    def _service_desks(self, request: Request) -> Reply:
        self._user(request)
        return self._paged(request, [self._desk_json()])

    def _service_desk(self, request: Request) -> Reply:
        self._desk_or_404(request)
        return Reply(200, self._desk_json())

    def _request_types(self, request: Request) -> Reply:
        self._desk_or_404(request)
        values = [
            {
                "id": rtid,
                "name": name,
                "description": description,
                "helpText": "",
                "issueTypeId": "10002",
                "serviceDeskId": SERVICE_DESK_ID,
                "portalId": "1",
                "groupIds": [],
                "_links": {"self": f"{self.base_url}/rest/servicedeskapi/servicedesk/1/requesttype/{rtid}"},
            }
            for rtid, (name, _, description) in REQUEST_TYPES.items()
        ]
        return self._paged(request, values)

    def _request_comment(self, request: Request) -> Reply:
        """``POST /rest/servicedeskapi/request/{key}/comment``: plain-text body, ``public`` flag."""
        handle = self._user(request)
        issue = self._issue(request.params["key"])
        if issue["project"] != SERVICE_PROJECT:
            raise fail(404, f"The issue {issue['key']} is not a customer request.")
        self._allowed("ADD_COMMENTS")
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("body"), str) or not data["body"].strip():
            raise fail(400, "The comment body is required.")
        public = data.get("public", True)
        if not isinstance(public, bool):
            raise fail(400, "'public' must be true or false.")
        comment = self._add_request_comment(issue, handle, data["body"], public)
        created = datetime.fromtimestamp(comment["created"] / 1000, self._zone(handle))
        return Reply(
            201,
            {
                "id": comment["id"],
                "body": data["body"],
                "public": public,
                "author": {
                    "accountId": base.USERS[handle]["accountId"],
                    "displayName": base.USERS[handle]["displayName"],
                },
                "created": {"epochMillis": comment["created"], "iso8601": created.strftime("%Y-%m-%dT%H:%M:%S%z")},
                "_links": {
                    "self": f"{self.base_url}/rest/servicedeskapi/request/{issue['id']}/comment/{comment['id']}"
                },
            },
        )

    def _add_request_comment(
        self, issue: dict[str, Any], handle: str, text: str, public: bool, files: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """A JSM comment; ``files`` (stored attachments) come with it, shown in the body where the editor puts
        them (an ADF media node on Cloud, a wiki ``[^name]`` link on Data Center) and tied to the comment."""
        body: Any = self._rich(text)
        if files:
            if self.mode == "cloud":
                media = {"type": "mediaGroup", "content": [
                    {"type": "media", "attrs": {"type": "file", "id": f["id"], "collection": ""}} for f in files]}
                kept = body.get("content", []) if text.strip() else []
                body = {"type": "doc", "version": 1, "content": [*kept, media]}
            else:
                body = "\n\n".join([*([text] if text.strip() else []), *(f"[^{f['filename']}]" for f in files)])
        # A comment of files only is valid (the portal sends one); the platform's emptiness check looks at
        # the text, so it is made with the files' names and then given its real body.
        named = self._rich(" ".join(f["filename"] for f in files)) if files and not text.strip() else body
        comment = self._store_comment(
            issue, handle, named, None,
            [{"key": jsm_facts.PUBLIC_PROPERTY, "value": {"internal": not public}}],
        )
        comment["body"] = body
        comment["attachment_ids"] = [f["id"] for f in files]
        self._touch(issue, comment["created"])
        return comment

    # ------------------------------------------------------------------------------------- files with comments
    # JSM Cloud REST (developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/): getRequestComments
    # (``expand=attachment``), getCommentAttachments, createAttachment (``temporaryAttachmentIds``, ``public``,
    # ``additionalComment``); api-group-servicedesk: attachTemporaryFile (multipart, XSRF header).

    def _jsm_date(self, millis: int, viewer: str | None) -> dict[str, Any]:
        when = datetime.fromtimestamp(millis / 1000, self._zone(viewer))
        return {"iso8601": when.strftime("%Y-%m-%dT%H:%M:%S%z"), "jira": when.strftime("%Y-%m-%dT%H:%M:%S.000%z"),
                "friendly": when.strftime("%d/%b/%y %I:%M %p"), "epochMillis": millis}

    def _jsm_user(self, handle: str) -> dict[str, Any]:
        return {"accountId": base.USERS[handle]["accountId"], "displayName": base.USERS[handle]["displayName"]}

    def _jsm_attachment(self, record: dict[str, Any], viewer: str | None) -> dict[str, Any]:
        """An attachment as the JSM API shows it: no ``id``, the platform id is in ``_links.jiraRest``."""
        return {
            "filename": record["filename"],
            "author": self._jsm_user(record["author"]),
            "created": self._jsm_date(record["created"], viewer),
            "size": record["size"],
            "mimeType": record["mimeType"],
            "_links": {
                "jiraRest": f"{self.base_url}/rest/api/2/attachment/{record['id']}",
                "content": f"{self.base_url}/servicedesk/customershim/secure/attachment/{record['id']}/"
                           f"{record['filename']}",
            },
        }

    def _customer_request(self, request: Request) -> tuple[str, dict[str, Any]]:
        handle = self._user(request)
        issue = self._issue(request.params["key"])
        if issue["project"] != SERVICE_PROJECT:
            raise fail(404, f"The issue {issue['key']} is not a customer request.")
        return handle, issue

    def _request_comments(self, request: Request) -> Reply:
        """``GET request/{key}/comment``: ``public``/``internal`` filters, ``expand=attachment``, paged."""
        handle, issue = self._customer_request(request)
        public_ok = request.arg("public", "true") != "false"
        internal_ok = request.arg("internal", "true") != "false"
        expand = {e.strip() for e in (request.arg("expand") or "").split(",")}
        values = []
        base_path = f"{self.base_url}/rest/servicedeskapi/request/{issue['id']}/comment"
        for comment in issue["comments"]:
            internal = any(p["key"] == jsm_facts.PUBLIC_PROPERTY and (p.get("value") or {}).get("internal")
                           for p in comment.get("properties") or [])
            if (internal and not internal_ok) or (not internal and not public_ok):
                continue
            body = comment["body"]
            value: dict[str, Any] = {
                "id": comment["id"],
                "body": adf_to_text(body) if isinstance(body, dict) else str(body or ""),
                "public": not internal,
                "author": self._jsm_user(comment["author"]),
                "created": self._jsm_date(comment["created"], handle),
                "_links": {"self": f"{base_path}/{comment['id']}"},
            }
            if "attachment" in expand:
                files = [self._jsm_attachment(self._attachment_record(i), handle)
                         for i in comment.get("attachment_ids") or []]
                value["attachments"] = {"size": len(files), "start": 0, "limit": 50, "isLastPage": True,
                                        "values": files}
            values.append(value)
        return self._paged(request, values)

    def _comment_attachments(self, request: Request) -> Reply:
        handle, issue = self._customer_request(request)
        comment = next((c for c in issue["comments"] if c["id"] == request.params["cid"]), None)
        if comment is None:
            raise fail(404, "The comment does not exist.")
        return self._paged(request, [self._jsm_attachment(self._attachment_record(i), handle)
                                     for i in comment.get("attachment_ids") or []])

    def _attach_temporary(self, request: Request) -> Reply:
        """``POST servicedesk/{id}/attachTemporaryFile``: multipart ``file`` parts, kept until attached."""
        self._desk_or_404(request)
        handle = self._user(request)
        if request.headers.get("x-atlassian-token", "").lower() != "no-check":
            return Reply(403, text="XSRF check failed")
        parts = list(_file_parts(request))
        if not parts:
            raise fail(400, "No file was attached (the multipart parameter must be named 'file').")
        limit = int(self.state["settings"].get("attachment_max_size") or 10 * 1024 * 1024)
        made = []
        for filename, mime, data in parts:
            if len(data) > limit:
                return errors(413, [f"The file '{filename}' is too large: the limit is {limit} bytes."])
            counters = self.state["counters"]
            counters["temporary_attachment"] = counters.get("temporary_attachment", 8186986471094818000) + 1
            temporary = f"temp{counters['temporary_attachment']}"
            self.state.setdefault("temporary_attachments", {})[temporary] = {
                "filename": filename, "mimeType": mime, "data": base64.b64encode(data).decode(), "author": handle}
            made.append({"temporaryAttachmentId": temporary, "fileName": filename})
        return Reply(201, {"temporaryAttachments": made})

    def _request_attachment(self, request: Request) -> Reply:
        """``POST request/{key}/attachment``: the temporary files onto the request, with a comment."""
        handle, issue = self._customer_request(request)
        self._allowed("CREATE_ATTACHMENTS")
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("public"), bool):
            raise fail(400, "'public' is required and must be true or false.")
        ids = data.get("temporaryAttachmentIds")
        temporary = self.state.setdefault("temporary_attachments", {})
        if not isinstance(ids, list) or not ids or any(i not in temporary for i in ids):
            raise fail(400, "The temporary attachments do not exist or have expired.")
        files = []
        for tid in ids:
            held = temporary.pop(tid)
            files.append(self._store_file(issue, held["filename"], base64.b64decode(held["data"]), held["mimeType"],
                                          handle))
        text = str(((data.get("additionalComment") or {}).get("body")) or "")
        comment = self._add_request_comment(issue, handle, text, data["public"], files)
        attachments = [self._jsm_attachment(f, handle) for f in files]
        return Reply(201, {
            "comment": {"id": comment["id"], "body": text, "public": data["public"], "author": self._jsm_user(handle),
                        "created": self._jsm_date(comment["created"], handle)},
            "attachments": {"size": len(attachments), "start": 0, "limit": 50, "isLastPage": True,
                            "values": attachments},
        })

    # ------------------------------------------------------------------------------------- scripting API

    def create_request(
        self,
        summary: str = "Sandbox request",
        *,
        request_type: str = "Get IT help",
        description: str | None = None,
        priority: str | None = None,
        labels: Iterable[str] = (),
        fields: dict[str, Any] | None = None,
        as_user: str = "sam",
    ) -> str:
        """Raise a request in the service project as a person (by default Sam, through the portal)."""
        given: dict[str, Any] = {REQUEST_TYPE_FIELD: request_type, **(fields or {})}
        if priority is not None:
            given["priority"] = {"name": priority}
        return self.create_issue(
            SERVICE_PROJECT,
            summary,
            issuetype="Task",
            description=description,
            labels=labels,
            fields=given,
            as_user=as_user,
        )

    def reply(
        self, key: str, body: str, *, public: bool = True, as_user: str = "sam",
        files: Iterable[tuple[str, bytes, str]] = (),
    ) -> str:
        """A public reply (``public=True``) or an internal note on a request, as JSM's agent view makes it;
        ``files`` ((name, bytes, MIME type)) are attached with it, as the portal's "Attach" does."""
        with self.lock:
            issue = self._issue_plain(key)
            handle = self._as(as_user)
            stored = [self._store_file(issue, name, data, mime, handle) for name, data, mime in files]
            comment = self._add_request_comment(issue, handle, body, public, stored)
            self.save()
            return str(comment["id"])
