"""The ``attachments:`` section of a mapping: which files are copied, which way, and up to what size.

Patterns are shell globs (``*.log``, ``image/*``) matched case-insensitively against the file name and
against the MIME type: ``deny`` wins over ``allow``, and an empty ``allow`` allows everything.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: 10 MB: the default ``max_size``
DEFAULT_MAX_SIZE = 10 * 1024 * 1024


class AttachmentRules(BaseModel):
    """Copy files between a record and its issue (off unless the section is present)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    direction: Literal["both", "to_jira", "to_itsm", "none"] = "both"
    max_size: int = Field(default=DEFAULT_MAX_SIZE, ge=1, description="bytes; bigger files are noted, not copied")
    allow: list[str] = Field(default_factory=list, examples=[["*.log", "image/*"]])
    deny: list[str] = Field(default_factory=list, examples=[["*.exe"]])
    on_oversize: Literal["note", "skip"] = "note"
    oversize_note: str = "bridge did not copy {filename} ({size}): files over {limit} are not copied."

    def note_for(self, filename: str, size: int | None) -> str:
        """The oversize note for one file (placeholders replaced literally: other braces stay as written)."""
        return (self.oversize_note.replace("{filename}", filename).replace("{size}", human_size(size))
                .replace("{limit}", human_size(self.max_size)))

    def copies(self, to_jira: bool) -> bool:
        """Whether files go this way (``to_jira``: from the record to the issue)."""
        wanted = "to_jira" if to_jira else "to_itsm"
        return self.direction in ("both", wanted)

    def admits(self, filename: str, mime_type: str) -> bool:
        """Whether the patterns let this file through (deny first, then allow when any is given)."""
        name, mime = filename.lower(), (mime_type or "").lower()

        def hit(patterns: list[str]) -> bool:
            return any(fnmatchcase(name, p.lower()) or fnmatchcase(mime, p.lower()) for p in patterns)

        if hit(self.deny):
            return False
        return not self.allow or hit(self.allow)


def human_size(size: int | None) -> str:
    """``2.5 MB``, ``812 bytes``: the size as the note shows it."""
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


__all__ = ["DEFAULT_MAX_SIZE", "AttachmentRules", "human_size"]
