"""Files on Jira issues (Cloud and Data Center), per docs/connectors/jira.md, "Attachments".

* list: the issue's ``attachment`` field (``GET /issue/{key}?fields=attachment``): id, filename, size,
  mimeType, created, author and the ``content`` URL;
* download: ``GET`` the ``content`` URL (Cloud redirects it to its media host), streamed;
* upload: ``POST /issue/{key}/attachments``, ``multipart/form-data`` with the file in the part named
  ``file``, and the header ``X-Atlassian-Token: no-check`` (every request of this connector sends it;
  without it Jira answers 403 "XSRF check failed"). Over the site's size limit Jira answers 413.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from bridge.connectors.filestream import download, multipart, send
from bridge.connectors.jira.common import parse_jira_datetime
from bridge.connectors.jira.transport import JiraTransport
from bridge.core.attachments import Attachment
from bridge.errors import PermanentError
from bridge.model import Marker, Ref


class JiraAttachments(JiraTransport):
    """The attachment half of the port for Jira."""

    def _attachment(self, issue_id: str, raw: dict[str, Any]) -> Attachment:
        author = raw.get("author") or {}
        return Attachment(
            id=str(raw["id"]),
            parent_id=issue_id,
            filename=str(raw.get("filename") or ""),
            size=int(raw["size"]) if raw.get("size") is not None else None,
            mime_type=str(raw.get("mimeType") or "application/octet-stream"),
            created=parse_jira_datetime(raw["created"]),
            author=str(author.get("displayName") or author.get("name") or ""),
            url=str(raw.get("content") or ""),
        )

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        data = self._json("GET", f"issue/{ref.id}", params={"fields": "attachment"})
        files = [self._attachment(ref.id, raw) for raw in ((data or {}).get("fields") or {}).get("attachment") or []]
        files.sort(key=lambda a: (a.created, a.id))
        return [a for a in files if since is None or a.created >= since]

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        url = attachment.url or f"{self._api}attachment/content/{attachment.id}"
        return download(self._client, url, into)

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        body, content_type = multipart("file", filename, mime_type, path)
        response = send(self._client, "POST", f"{self._api}issue/{ref.id}/attachments", data=body,
                        headers={"Content-Type": content_type, "X-Atlassian-Token": "no-check"})
        with response:
            made = response.json()
        if not made:
            raise PermanentError(f"jira accepted {filename} but listed no attachment", side="jira")
        return self._attachment(ref.id, made[0])


__all__ = ["JiraAttachments"]
