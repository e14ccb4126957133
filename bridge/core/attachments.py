"""Attachments as values: a file on one side, the pair it forms with its copy, and the two actions.

A file is identified by the vendor's attachment id. The state store remembers each copied file as an
:class:`AttachmentPair` (origin id, mirror id, sha256 of the bytes), so the next cycle neither copies it
again nor mirrors the copy back; after a lost store the executor recognises a copy already on the other
side by its name and content hash (see :mod:`bridge.sync.attachment_exec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from bridge.core.actions import Action
from bridge.model import Marker, Ref, Side

#: Jira refuses more attachments on one issue than this (Atlassian's per-issue limit, docs/connectors/jira.md)
JIRA_MAX_ATTACHMENTS_PER_ISSUE = 2000


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file on an item, as a connector lists it.

    ``size`` is in bytes (``None`` when the vendor does not say before the download). ``url`` is where the
    connector downloads it from (Jira's ``content`` URL; empty when the id is enough). ``comment_id`` is
    the comment or transaction the file came with (RT, JSM), ``None`` for a file put on the item itself.
    ``by_bridge`` is set when the vendor shows that bridge added the file (an RT transaction carrying
    bridge's marker): such a file is never mirrored, even without a stored pair.
    """

    id: str
    parent_id: str
    filename: str
    size: int | None
    mime_type: str
    created: datetime
    author: str = ""
    url: str = ""
    comment_id: str | None = None
    by_bridge: bool = False


@dataclass(frozen=True, slots=True)
class AttachmentPair:
    """A file of ``origin_item`` (on ``origin_side``) and its copy ``mirror_id`` on ``mirror_item``.

    ``mirror_id`` is empty when no copy was made on purpose (the file was over the size limit and a note
    says so): the pair then only keeps the file from being planned again.
    """

    origin_side: Side
    origin_id: str
    origin_item: str
    mirror_item: str
    mirror_id: str
    sha256: str
    filename: str
    size: int | None = None


class _FileAction:
    """What a copy and a note of one file share: the side written, and the marker naming the origin file
    (the same for both, so a note or an upload is recognised after a crash and never mirrored back)."""

    __slots__ = ()
    target: Ref
    origin: Ref
    attachment_id: str

    @property
    def side(self) -> Side:
        return self.target.side

    @property
    def marker(self) -> Marker:
        """Names the origin file: where a vendor keeps a marker with an upload (an RT transaction) or a note."""
        return Marker(self.origin.side, f"file-{self.attachment_id}")


@dataclass(frozen=True, slots=True)
class CopyAttachment(_FileAction, Action):
    """Copy the file ``attachment_id`` of ``origin`` onto ``target`` (download, hash, upload)."""

    kind: ClassVar[str] = "copy_attachment"
    ref_fields: ClassVar[tuple[str, ...]] = ("target", "origin")
    target: Ref
    origin: Ref
    attachment_id: str
    filename: str
    mime_type: str = "application/octet-stream"
    size: int | None = None
    url: str = ""

    @property
    def key(self) -> str:
        return f"attachment:{self.origin.side.value}:{self.attachment_id}:{self.target.id}"

    def attachment(self) -> Attachment:
        """The origin file as its connector downloads it."""
        return Attachment(self.attachment_id, self.origin.id, self.filename, self.size, self.mime_type,
                          datetime.min, url=self.url)

    def describe(self) -> str:
        return f"copy {self.filename} from {self.origin.key} to {self.target.key}"


@dataclass(frozen=True, slots=True)
class NoteAttachment(_FileAction, Action):
    """Say on ``target`` (a visible comment) that the file ``attachment_id`` of ``origin`` is not copied,
    and why (``body`` names the file and its size). Planned once per file, never retried as a copy."""

    kind: ClassVar[str] = "attachment_note"
    ref_fields: ClassVar[tuple[str, ...]] = ("target", "origin")
    target: Ref
    origin: Ref
    attachment_id: str
    filename: str
    body: str
    channel: str
    size: int | None = None

    @property
    def key(self) -> str:
        return f"attachment-note:{self.origin.side.value}:{self.attachment_id}:{self.target.id}"

    def describe(self) -> str:
        return f"note on {self.target.key} that {self.filename} of {self.origin.key} is not copied"


ATTACHMENT_ACTIONS: tuple[type[Action], ...] = (CopyAttachment, NoteAttachment)

__all__ = [
    "ATTACHMENT_ACTIONS",
    "JIRA_MAX_ATTACHMENTS_PER_ISSUE",
    "Attachment",
    "AttachmentPair",
    "CopyAttachment",
    "NoteAttachment",
]
