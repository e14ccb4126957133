"""Files on the memory fakes: the attachment half of the port, with the vendors' limits.

The ITSM fake behaves like ServiceNow's Attachment API (a file is a ``sys_attachment`` row; adding one
does not touch the record's ``sys_updated_on``); the Jira fake like Jira's (a file updates the issue, an
upload over :attr:`max_upload_size` is refused like Jira's 413, and an issue holds at most 2,000 files).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from bridge.core.attachments import JIRA_MAX_ATTACHMENTS_PER_ISSUE, Attachment
from bridge.errors import NotFoundError, PermanentError
from bridge.model import Marker, Ref, Side

_CHUNK = 64 * 1024


class MemoryAttachments:
    """Mixed into :class:`~bridge.connectors.memory.core.MemoryConnector`; files live in ``_files``."""

    side: Side
    _lock: threading.RLock
    max_upload_size: int | None

    def _file_store(self) -> dict[str, list[tuple[Attachment, bytes]]]:
        files: dict[str, list[tuple[Attachment, bytes]]] | None = getattr(self, "_files_by_item", None)
        if files is None:
            files = {}
            self._files_by_item = files
        return files

    def _endpoints(self) -> tuple[str, str, str]:
        """(list, download, upload) endpoint templates the calls are counted under."""
        if self.side is Side.JIRA:
            return ("GET /rest/api/3/issue/{issueIdOrKey}", "GET /rest/api/3/attachment/content/{id}",
                    "POST /rest/api/3/issue/{issueIdOrKey}/attachments")
        return ("GET /api/now/attachment", "GET /api/now/attachment/{sys_id}/file", "POST /api/now/attachment/file")

    # ------------------------------------------------------------------------------ scripting

    def attach(
        self,
        ref: Ref | str,
        filename: str,
        content: bytes,
        *,
        mime_type: str = "application/octet-stream",
        author: str = "jane.doe",
        comment_id: str | None = None,
    ) -> Attachment:
        """A person adds a file to an item (scripting; not counted)."""
        with self._lock:
            item = self._find(ref, "SCRIPT attach")  # type: ignore[attr-defined]
            return self._store_file(item, filename, content, mime_type, author, comment_id)

    def files(self, ref: Ref | str) -> list[tuple[Attachment, bytes]]:
        """Every file of an item with its bytes (scripting; not counted)."""
        with self._lock:
            item = self._find(ref, "SCRIPT files")  # type: ignore[attr-defined]
            return list(self._file_store().get(item.ref.id, []))

    def _store_file(self, item: object, filename: str, content: bytes, mime_type: str, author: str,
                    comment_id: str | None) -> Attachment:
        ref: Ref = item.ref  # type: ignore[attr-defined]
        now: datetime = self._now()  # type: ignore[attr-defined]
        number = self._next()  # type: ignore[attr-defined]
        attachment = Attachment(f"att{number}", ref.id, filename, len(content), mime_type, now, author=author,
                                url=f"memory://{ref.id}/att{number}", comment_id=comment_id)
        self._file_store().setdefault(ref.id, []).append((attachment, content))
        if self.side is Side.JIRA:
            self._touch(item, author)  # type: ignore[attr-defined]
        return attachment

    # ------------------------------------------------------------------------------ the port

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        listing, _, _ = self._endpoints()
        self._fault("list_attachments", listing)  # type: ignore[attr-defined]
        with self._lock:
            item = self._find(ref, listing)  # type: ignore[attr-defined]
            self.calls.count(listing, 200)  # type: ignore[attr-defined]
            return [a for a, _ in self._file_store().get(item.ref.id, []) if since is None or a.created >= since]

    def attachment_parents_since(self, mapping: Any, since: datetime) -> list[str]:
        """ITSM: the records with a file added since ``since`` (a file does not touch a ServiceNow record)."""
        if self.side is Side.JIRA:
            return []
        listing, _, _ = self._endpoints()
        self._fault("attachment_parents_since", listing)  # type: ignore[attr-defined]
        with self._lock:
            self.calls.count(listing, 200)  # type: ignore[attr-defined]
            return [item_id for item_id, files in self._file_store().items()
                    if any(a.created >= since for a, _ in files) and item_id in self._items]  # type: ignore[attr-defined]

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        _, download, _ = self._endpoints()
        self._fault("download_attachment", download)  # type: ignore[attr-defined]
        with self._lock:
            found = next((c for a, c in self._file_store().get(attachment.parent_id, []) if a.id == attachment.id),
                         None)
            if found is None:
                self.calls.count(download, 404)  # type: ignore[attr-defined]
                raise NotFoundError(f"attachment {attachment.id} not found", side=self.side.value, status=404)
            self.calls.count(download, 200)  # type: ignore[attr-defined]
        for start in range(0, len(found), _CHUNK):
            into.write(found[start:start + _CHUNK])
        return len(found)

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        _, _, upload = self._endpoints()
        self._fault("upload_attachment", upload)  # type: ignore[attr-defined]
        size = path.stat().st_size
        with self._lock:
            item = self._find(ref, upload)  # type: ignore[attr-defined]
            if self.max_upload_size is not None and size > self.max_upload_size:
                self.calls.count(upload, 413)  # type: ignore[attr-defined]
                raise PermanentError(f"{filename} is over the upload limit", side=self.side.value, status=413)
            held = len(self._file_store().get(item.ref.id, []))
            if self.side is Side.JIRA and held >= JIRA_MAX_ATTACHMENTS_PER_ISSUE:
                self.calls.count(upload, 400)  # type: ignore[attr-defined]
                raise PermanentError("the issue has the most attachments Jira allows", side=self.side.value,
                                     status=400)
            self.calls.count(upload, 200)  # type: ignore[attr-defined]
            attachment = self._store_file(item, filename, path.read_bytes(), mime_type, "bridge", None)
        self._written("upload_attachment", ref)  # type: ignore[attr-defined]
        return attachment


__all__ = ["MemoryAttachments"]
