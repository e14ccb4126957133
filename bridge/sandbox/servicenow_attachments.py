"""The Attachment API of the sandbox ServiceNow, per ServiceNow's "Attachment API" reference
(www.servicenow.com/docs/r/zurich/api-reference/rest-apis/c_AttachmentAPI.html):

* ``GET /api/now/attachment?sysparm_query=table_sys_id=…`` lists ``sys_attachment`` metadata (``sys_id``,
  ``file_name``, ``content_type``, ``size_bytes``, ``table_name``, ``table_sys_id``, ``sys_created_on``,
  ``sys_created_by``, ``download_link``, all strings like the Table API's); the query understands ``^``-joined
  ``field=value`` terms, ``sys_created_on>=yyyy-MM-dd HH:mm:ss`` and ``ORDERBY``/``ORDERBYDESC``;
* ``GET /api/now/attachment/{sys_id}`` one file's metadata, ``GET /api/now/attachment/{sys_id}/file`` its bytes
  with its ``Content-Type``;
* ``POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=`` with the raw bytes as the body and
  the file's ``Content-Type``: 201 with the metadata. Over ``com.glide.attachment.max_size`` (1024 MB by
  default; ``state["attachment_max_size"]`` here) the instance answers 400 "Failed to create the attachment.
  File part might be too large."; an unknown record answers 400 too.

Adding a file does not change the record (no ``sys_updated_on`` move), as on an instance. Scripting:
:meth:`attach` and ``POST /_sandbox/servicenow/{table}/{sys_id}/attachments`` with ``{file_name,
content_base64, content_type, user}``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from bridge.sandbox.server import Reply, Request
from bridge.sandbox.servicenow_rules import ServiceNowRecords, sn_error

DEFAULT_MAX_SIZE = 1024 * 1024 * 1024


class ServiceNowAttachments(ServiceNowRecords):
    """Files on records; metadata and bytes (base64) in ``state["attachments"]``."""

    def _user(self) -> str:  # pragma: no cover - provided by the sandbox
        raise NotImplementedError

    def _attachment_routes(self) -> None:
        self.router.add("GET", "/api/now/attachment", self._list_attachments)
        self.router.add("POST", "/api/now/attachment/file", self._upload_attachment)
        self.router.add("GET", "/api/now/attachment/{sys_id}", self._attachment_meta)
        self.router.add("GET", "/api/now/attachment/{sys_id}/file", self._attachment_file)
        self.router.add("POST", "/_sandbox/servicenow/{table}/{sys_id}/attachments", self._script_attach)

    # ------------------------------------------------------------------------------------ scripting

    def attach(self, table: str, sys_id: str, file_name: str, data: bytes, *,
               content_type: str = "application/octet-stream", user: str = "beth.anglin") -> dict[str, str]:
        """A person attaches a file to a record."""
        with self.lock:
            made = self._store_attachment(table, sys_id, file_name, data, content_type, user)
            self.save()
            return self._attachment_json(made)

    def attachments(self, sys_id: str) -> list[tuple[dict[str, str], bytes]]:
        """Every file of a record with its bytes (scripting)."""
        with self.lock:
            rows = [a for a in self._attachment_rows() if a["table_sys_id"] == sys_id]
            return [(self._attachment_json(a), base64.b64decode(a["data"])) for a in rows]

    def _script_attach(self, request: Request) -> Reply:
        body = request.json() or {}
        made = self.attach(request.params["table"], request.params["sys_id"], body["file_name"],
                           base64.b64decode(body["content_base64"]),
                           content_type=body.get("content_type", "application/octet-stream"),
                           user=body.get("user", "beth.anglin"))
        return Reply(201, {"result": made})

    # ------------------------------------------------------------------------------------ storage

    def _attachment_rows(self) -> list[dict[str, str]]:
        return list(self.state.setdefault("attachments", {}).values())

    def _store_attachment(self, table: str, sys_id: str, file_name: str, data: bytes, content_type: str,
                          user: str) -> dict[str, str]:
        attachment_id = uuid.uuid4().hex  # a sys_id: 32 hex digits
        row = {"sys_id": attachment_id, "file_name": file_name, "content_type": content_type,
               "size_bytes": str(len(data)), "table_name": table, "table_sys_id": sys_id,
               "sys_created_on": self._now(), "sys_created_by": user, "sys_updated_on": self._now(),
               "hash": hashlib.sha256(data).hexdigest(), "data": base64.b64encode(data).decode(),
               "_seq": str(len(self._attachment_rows())).zfill(9)}
        self.state.setdefault("attachments", {})[attachment_id] = row
        return row

    def _attachment_json(self, row: dict[str, str]) -> dict[str, str]:
        shown = {k: v for k, v in row.items() if k not in ("data", "_seq")}
        base = getattr(self, "base_url", "") or ""
        shown["download_link"] = f"{base}/api/now/attachment/{row['sys_id']}/file"
        return shown

    # ------------------------------------------------------------------------------------ the API

    def _list_attachments(self, request: Request) -> Reply:
        rows = self._attachment_rows()
        order, descending = "sys_created_on", False
        for term in (request.arg("sysparm_query") or "").split("^"):
            if not term:
                continue
            if term.startswith("ORDERBYDESC"):
                order, descending = term[len("ORDERBYDESC"):], True
            elif term.startswith("ORDERBY"):
                order = term[len("ORDERBY"):]
            elif ">=" in term:
                name, value = term.split(">=", 1)
                rows = [r for r in rows if r.get(name, "") >= value]
            elif "=" in term:
                name, value = term.split("=", 1)
                rows = [r for r in rows if r.get(name, "") == value]
        # the instance's insertion order breaks ties of the second-precision timestamps
        rows.sort(key=lambda r: (r.get(order, ""), r.get("_seq", "")), reverse=descending)
        limit = int(request.arg("sysparm_limit") or 1000)
        offset = int(request.arg("sysparm_offset") or 0)
        return Reply(200, {"result": [self._attachment_json(r) for r in rows[offset:offset + limit]]})

    def _find_attachment(self, request: Request) -> dict[str, str] | None:
        return self.state.setdefault("attachments", {}).get(request.params["sys_id"])

    def _attachment_meta(self, request: Request) -> Reply:
        row = self._find_attachment(request)
        if row is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        return Reply(200, {"result": self._attachment_json(row)})

    def _attachment_file(self, request: Request) -> Reply:
        row = self._find_attachment(request)
        if row is None:
            return sn_error(404, "Record doesn't exist or ACL restricts the record retrieval", None)
        return Reply(200, data=base64.b64decode(row["data"]), headers={"Content-Type": row["content_type"]})

    def _upload_attachment(self, request: Request) -> Reply:
        table, sys_id = request.arg("table_name") or "", request.arg("table_sys_id") or ""
        file_name = request.arg("file_name") or ""
        if not (table and sys_id and file_name):
            return sn_error(400, "Missing parameter: table_name, table_sys_id and file_name are required", None)
        if sys_id not in self.state["tables"].get(table, {}):
            return sn_error(400, "Invalid table or sys_id", f"{table}/{sys_id} does not exist")
        limit = int(self.state.get("attachment_max_size") or DEFAULT_MAX_SIZE)
        if len(request.body) > limit:
            return sn_error(400, "Failed to create the attachment. File part might be too large.", None)
        content_type = request.headers.get("content-type", "application/octet-stream")
        row = self._store_attachment(table, sys_id, file_name, request.body, content_type, self._user())
        return Reply(201, {"result": self._attachment_json(row)})


__all__ = ["ServiceNowAttachments"]
