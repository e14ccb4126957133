"""Files on Jira Service Management requests: the site's Jira attachment API (docs/connectors/jsm.md,
"Attachments"), through the platform connector the JSM connector wraps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from bridge.connectors.base import Connector
from bridge.core.attachments import Attachment
from bridge.model import Marker, Ref

if TYPE_CHECKING:
    from bridge.connectors.jira import JiraConnector


class JsmAttachments(Connector):
    """The attachment half of the port for JSM, delegated to the site's :class:`JiraConnector`."""

    site: JiraConnector

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        return self.site.list_attachments(ref, since)

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        return self.site.download_attachment(attachment, into)

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        return self.site.upload_attachment(ref, path, filename=filename, mime_type=mime_type, marker=marker)


__all__ = ["JsmAttachments"]
