"""Files on ServiceNow records through the Attachment API (docs/connectors/servicenow.md, "Attachments").

* list: ``GET /api/now/attachment?sysparm_query=table_sys_id=<sys_id>^ORDERBYsys_created_on`` (with
  ``^sys_created_on>=`` for a point in time), one request per record (paged by ``sysparm_limit``);
* download: ``GET /api/now/attachment/{sys_id}/file``, streamed;
* upload: ``POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=`` with the raw bytes as the
  body (streamed from the file) and the file's ``Content-Type``. An instance refuses a file over
  ``com.glide.attachment.max_size`` with 400 "…File part might be too large."; that refusal is raised with
  status 413 so the engine notes the file instead of retrying it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from bridge.connectors.base import Connector
from bridge.connectors.filestream import StreamedBody, download, send
from bridge.connectors.http import HttpClient
from bridge.core.attachments import Attachment
from bridge.errors import PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Marker, Ref, Side
from bridge.vendors.servicenow import DATE_FORMAT

ATTACHMENT_PATH = "/api/now/attachment"


def _attachment(row: dict[str, Any]) -> Attachment:
    size = str(row.get("size_bytes") or "")
    return Attachment(
        id=str(row["sys_id"]),
        parent_id=str(row.get("table_sys_id") or ""),
        filename=str(row.get("file_name") or ""),
        size=int(size) if size.isdigit() else None,
        mime_type=str(row.get("content_type") or "application/octet-stream"),
        created=datetime.strptime(str(row.get("sys_created_on") or "1970-01-01 00:00:00"), DATE_FORMAT).replace(
            tzinfo=UTC),
        author=str(row.get("sys_created_by") or ""),
    )


class ServiceNowAttachments(Connector):
    """The attachment half of the port for ServiceNow (mixed into the connector)."""

    http: HttpClient
    page_size: int

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        query = f"table_sys_id={ref.id}"
        if since is not None:
            query += f"^sys_created_on>={since.astimezone(UTC).strftime(DATE_FORMAT)}"
        files: list[Attachment] = []
        offset = 0
        while True:
            response = self.http.request("GET", ATTACHMENT_PATH, params={
                "sysparm_query": query + "^ORDERBYsys_created_on", "sysparm_limit": self.page_size,
                "sysparm_offset": offset})
            rows = (response.json() or {}).get("result") or []
            files.extend(_attachment(row) for row in rows)
            if len(rows) < self.page_size:
                return files
            offset += len(rows)

    def attachment_parents_since(self, mapping: MappingSpec, since: datetime) -> list[str]:
        """The records of the mapping's table with a file added since ``since`` (one paged query): ServiceNow
        does not touch a record when a file is attached, so its change search would not see it."""
        query = (f"table_name={mapping.route.record_type}^sys_created_on>={since.astimezone(UTC).strftime(DATE_FORMAT)}"
                 "^ORDERBYsys_created_on")
        parents: dict[str, None] = {}
        offset = 0
        while True:
            response = self.http.request("GET", ATTACHMENT_PATH, params={
                "sysparm_query": query, "sysparm_fields": "table_sys_id", "sysparm_limit": self.page_size,
                "sysparm_offset": offset})
            rows = (response.json() or {}).get("result") or []
            parents.update((str(r.get("table_sys_id") or ""), None) for r in rows if r.get("table_sys_id"))
            if len(rows) < self.page_size:
                return list(parents)
            offset += len(rows)

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        return download(self.http, f"{ATTACHMENT_PATH}/{attachment.id}/file", into, headers={"Accept": "*/*"})

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        params = {"table_name": ref.kind, "table_sys_id": ref.id, "file_name": filename}
        try:
            response = send(self.http, "POST", f"{ATTACHMENT_PATH}/file", params=params, data=StreamedBody([path]),
                            headers={"Content-Type": mime_type or "application/octet-stream"})
        except PermanentError as exc:
            if exc.status == 400 and "too large" in (exc.vendor_message or str(exc)).lower():
                raise PermanentError(f"ServiceNow refused {filename} as too large", side=Side.ITSM.value,
                                     status=413, vendor_message=exc.vendor_message) from exc
            raise
        with response:
            return _attachment((response.json() or {}).get("result") or {})


__all__ = ["ServiceNowAttachments"]
