"""Files on Request Tracker tickets through REST2 (docs/connectors/rt.md, "Attachments").

In RT a file is an attachment record (a MIME part) of a transaction, so every file came with a comment,
a reply or the ticket's creation; :attr:`Attachment.comment_id` names that transaction.

* list: ``GET /REST/2.0/ticket/{id}/attachments`` (paged) with ``TransactionId``, ``ContentType``,
  ``Filename``, ``Headers``, ``Created`` and ``Creator``, but not ``Content``; the parts a person sees as
  attached files are kept (:attr:`bridge.connectors.rt_mime.Part.is_file`), the message bodies are not;
* download: ``GET /REST/2.0/attachment/{id}``, whose ``Content`` is base64 (one file in memory at a time);
* upload: ``POST /REST/2.0/ticket/{id}/comment`` with ``Attachments: [{FileName, FileType, FileContent}]``
  (``FileContent`` base64) and a short internal comment ending with bridge's marker line, so the
  transaction is recognised as bridge's and never mirrored; the body is encoded as it is sent.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from bridge.connectors.filestream import CHUNK, Base64Json, json_around, send
from bridge.connectors.rt.client import MAX_PER_PAGE, RTClient
from bridge.connectors.rt_mime import part_from_rest
from bridge.connectors.rt_parse import object_name, parse_datetime, ticket_id, transaction_id_from_location
from bridge.core.attachments import Attachment
from bridge.errors import PermanentError
from bridge.model import Marker, Ref

#: what the file listing reads of each attachment record (never ``Content``: that is the file itself)
FILE_FIELDS = "TransactionId,ContentType,Filename,Headers,Created,Creator"
_PLACEHOLDER = "\x00bridge-file-content\x00"


class RTAttachments(RTClient):
    """The attachment half of the port for RT."""

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        rt_id = ticket_id(ref.id)
        files: list[Attachment] = []
        for item in self._ticket_attachments(rt_id):
            part = part_from_rest(item)
            created = parse_datetime(item.get("Created"))
            if not part.is_file or created is None:
                continue
            if since is not None and created < since.replace(microsecond=0) - timedelta(seconds=1):
                continue
            creator = object_name(item.get("Creator")) or ""
            files.append(Attachment(
                id=str(part.id), parent_id=ref.id, filename=part.filename or "file",
                size=part.size, mime_type=part.content_type or "application/octet-stream", created=created,
                author=creator, comment_id=part.transaction_id or None,
                by_bridge=bool(self.bridge_user) and creator == self.bridge_user,
            ))
        return files

    def _ticket_attachments(self, rt_id: str) -> list[dict[str, Any]]:
        """Every attachment record of the ticket. RT filters a page by the account's rights AFTER cutting it,
        so a page may hold fewer records than asked although more follow (``pages`` is then ``null``):
        pages are read until one comes back empty, or RT's own page count says it was the last."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.http.request("GET", f"ticket/{rt_id}/attachments", params={
                "fields": FILE_FIELDS, "orderby": "id", "order": "ASC", "page": page, "per_page": MAX_PER_PAGE})
            data = response.json() if response.content else {}
            items = [i for i in (data or {}).get("items") or [] if isinstance(i, dict)]
            found.extend(items)
            pages = (data or {}).get("pages")
            if not items or (pages is not None and page >= int(float(pages))):
                return found
            page += 1

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        data: dict[str, Any] = self._json("GET", f"attachment/{attachment.id}") or {}
        content = str(data.get("Content") or "")
        try:
            raw = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            raise PermanentError(f"rt: attachment {attachment.id} has no readable content", side="rt") from None
        del content, data
        for start in range(0, len(raw), CHUNK):
            into.write(raw[start:start + CHUNK])
        return len(raw)

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        rt_id = ticket_id(ref.id)
        self._live(ref)  # type: ignore[attr-defined]
        note = f"{filename} copied by bridge.\n\n{marker.render()}"
        body = {"Content": note, "ContentType": "text/plain",
                "Attachments": [{"FileName": filename, "FileType": mime_type or "application/octet-stream",
                                 "FileContent": _PLACEHOLDER}]}
        before, after = json_around(body, _PLACEHOLDER)
        response = send(self.http, "POST", f"ticket/{rt_id}/comment", data=Base64Json(before, path, after),
                        headers={"Content-Type": "application/json"})
        with response:
            txn = transaction_id_from_location(response.headers.get("Location"))
        if txn is None:
            raise PermanentError("rt did not say which transaction holds the file", side="rt",
                                 endpoint=f"/REST/2.0/ticket/{rt_id}/comment")
        for made in self.list_attachments(ref):
            if made.comment_id == txn and made.filename == filename:
                return made
        raise PermanentError(f"rt took the comment but shows no file {filename!r} on it", side="rt")


__all__ = ["RTAttachments"]
