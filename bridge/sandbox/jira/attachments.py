"""Attachments of the sandbox Jira, per Atlassian's "Issue attachments" REST reference
(developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-attachments/):

* ``POST {api}/issue/{key}/attachments``: ``multipart/form-data`` (RFC 1867/7578), the files in parts named
  ``file``; without the header ``X-Atlassian-Token: no-check`` the request is blocked (403 "XSRF check
  failed", as Jira answers); a file over the site's upload limit (``settings.attachment_max_size``, 10 MB
  by default like Jira Data Center's) answers 413; an issue holds at most 2,000 files. 200 with the list
  of the attachments made.
* the issue's ``attachment`` field: ``{id, self, filename, author, created, size, mimeType, content}``.
* ``content``: Cloud ``{api}/attachment/content/{id}``, which redirects (303) to the file (Cloud's media
  host); Data Center ``/secure/attachment/{id}/{filename}``, the bytes themselves.

Scripting: :meth:`attach` (Python) and ``POST /_sandbox/jira/issues/{key}/attachments`` with
``{filename, content_base64, mimeType, author}``, acting as a person.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

from bridge.sandbox.jira.app import errors, fail
from bridge.sandbox.jira.issues import IssuesMixin
from bridge.sandbox.server import Reply, Request

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
MAX_PER_ISSUE = 2000


class AttachmentsMixin(IssuesMixin):
    """Files on issues; state in ``state["attachments"]`` (bytes as base64, so the state stays JSON)."""

    def reset(self) -> None:
        super().reset()
        self.state["settings"]["attachment_max_size"] = DEFAULT_MAX_SIZE  # configure(attachment_max_size=…)
        self.state["attachments"] = {}

    def routes(self) -> None:
        super().routes()
        api = self.api
        self._add("POST", f"{api}/issue/{{id}}/attachments", self._post_attachments)
        self._add("GET", f"{api}/attachment/content/{{id}}", self._attachment_redirect)
        self._add("GET", "/_media/file/{id}", self._attachment_bytes)
        self._add("GET", "/secure/attachment/{id}/{name}", self._attachment_bytes)
        self._add("GET", f"{api}/attachment/{{id}}", self._attachment_meta)
        self.router.add("POST", "/_sandbox/jira/issues/{key}/attachments", self._script_attach)

    # ------------------------------------------------------------------------------------ scripting

    def attach(self, key: str, filename: str, data: bytes, *, mime_type: str = "application/octet-stream",
               author: str = "dana") -> dict[str, Any]:
        """A person attaches a file to an issue (updates the issue like Jira does)."""
        with self.lock:
            issue = self._issue(key)
            made = self._store_file(issue, filename, data, mime_type, author)
            self.save()
            return self._attachment_json(made)

    def files(self, key: str) -> list[tuple[dict[str, Any], bytes]]:
        """Every file of an issue with its bytes (scripting)."""
        with self.lock:
            issue = self._issue(key)
            found = [self.state.setdefault("attachments", {})[i] for i in issue.get("attachment_ids", [])]
            return [(self._attachment_json(a), base64.b64decode(a["data"])) for a in found]

    def _script_attach(self, request: Request) -> Reply:
        body = request.json() or {}
        made = self.attach(request.params["key"], body["filename"], base64.b64decode(body["content_base64"]),
                           mime_type=body.get("mimeType", "application/octet-stream"),
                           author=body.get("author", "dana"))
        return Reply(201, made)

    # ------------------------------------------------------------------------------------ the API

    def _store_file(self, issue: dict[str, Any], filename: str, data: bytes, mime_type: str,
                    author: str) -> dict[str, Any]:
        counters = self.state["counters"]
        counters["attachment"] = counters.get("attachment", 10000) + 1
        record = {"id": str(counters["attachment"]), "issue": issue["id"], "filename": filename, "size": len(data),
                  "mimeType": mime_type, "created": self._now_ms(), "author": author,
                  "data": base64.b64encode(data).decode()}
        self.state.setdefault("attachments", {})[record["id"]] = record
        issue.setdefault("attachment_ids", []).append(record["id"])
        self._touch(issue)
        return record

    def _attachment_json(self, record: dict[str, Any], viewer: str | None = None) -> dict[str, Any]:
        if self.mode == "cloud":
            content = f"{self.base_url}{self.api}/attachment/content/{record['id']}"
        else:
            content = f"{self.base_url}/secure/attachment/{record['id']}/{quote(record['filename'])}"
        return {
            "self": f"{self.base_url}{self.api}/attachment/{record['id']}",
            "id": record["id"],
            "filename": record["filename"],
            "author": self._user_json(record["author"]),
            "created": self._fmt(record["created"], viewer),
            "size": record["size"],
            "mimeType": record["mimeType"],
            "content": content,
        }

    def _post_attachments(self, request: Request) -> Reply:
        handle = self._user(request)
        if request.headers.get("x-atlassian-token", "").lower() != "no-check":
            return Reply(403, text="XSRF check failed")
        issue = self._issue(request.params["id"])
        self._allowed("CREATE_ATTACHMENTS")
        parts = list(_file_parts(request))
        if not parts:
            raise fail(400, "No file was attached (the multipart parameter must be named 'file').")
        limit = int(self.state["settings"].get("attachment_max_size") or DEFAULT_MAX_SIZE)
        for filename, _, data in parts:
            if len(data) > limit:
                return errors(413, [f"The file '{filename}' is too large: the limit is {limit} bytes."])
        if len(issue.get("attachment_ids", [])) + len(parts) > MAX_PER_ISSUE:
            raise fail(400, f"An issue can have at most {MAX_PER_ISSUE} attachments.")
        made = [self._store_file(issue, name, data, mime, handle) for name, mime, data in parts]
        return Reply(200, [self._attachment_json(r, handle) for r in made])

    def _attachment_record(self, attachment_id: str) -> dict[str, Any]:
        record = self.state.setdefault("attachments", {}).get(attachment_id)
        if record is None:
            raise fail(404, f"The attachment with id '{attachment_id}' does not exist")
        return record

    def _attachment_meta(self, request: Request) -> Reply:
        viewer = self._user(request)
        return Reply(200, self._attachment_json(self._attachment_record(request.params["id"]), viewer))

    def _attachment_redirect(self, request: Request) -> Reply:
        self._user(request)
        record = self._attachment_record(request.params["id"])
        return Reply(303, headers={"Location": f"{self.base_url}/_media/file/{record['id']}"})

    def _attachment_bytes(self, request: Request) -> Reply:
        self._user(request)
        record = self._attachment_record(request.params["id"])
        return Reply(200, data=base64.b64decode(record["data"]), headers={"Content-Type": record["mimeType"]})

    # ------------------------------------------------------------------------------------ the field

    def _field_json(self, issue: dict[str, Any], field: str, viewer: str | None) -> Any:
        if field == "attachment":
            records = [self._attachment_record(i) for i in issue.get("attachment_ids", [])]
            return [self._attachment_json(r, viewer) for r in records]
        return super()._field_json(issue, field, viewer)

    def _wanted_fields(self, spec: Iterable[str] | None, default: str) -> list[str]:
        chosen = super()._wanted_fields(spec, default)
        names = {p.strip() for item in (spec if spec is not None else [default]) for p in str(item).split(",")}
        if ("attachment" in names or "*all" in names) and "-attachment" not in names and "attachment" not in chosen:
            chosen.append("attachment")
        return chosen


def _file_parts(request: Request) -> Iterable[tuple[str, str, bytes]]:
    """The ``file`` parts of a multipart/form-data body: (filename, MIME type, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    if not message.is_multipart():
        return
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        payload = part.get_payload(decode=True)
        yield (part.get_filename() or "file", part.get_content_type(), payload if isinstance(payload, bytes) else b"")


__all__ = ["AttachmentsMixin"]
