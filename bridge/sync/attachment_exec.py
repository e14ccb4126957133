"""Applying the attachment actions: download, hash, recognise an existing copy, upload, clean up.

A copy streams the origin file into a temporary file inside the work directory (the state directory),
hashing it on the way, so at most one file is on disk and none is held in memory. Before uploading it
looks for a file of the same name on the target and compares hashes (the other file is hashed as it
streams, never stored): a copy made before the store was lost, or by a run that crashed before its
journal commit, is then adopted instead of copied twice. The temporary file is removed in every case.

A file bigger than the mapping's ``max_size`` that was listed without a size, or one the target refuses
for its size (Jira's 413), gets the visible note instead: recorded like a copy, never retried.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from bridge.connectors.base import Connector
from bridge.core.attachments import AttachmentPair, CopyAttachment, NoteAttachment
from bridge.errors import PermanentError
from bridge.logging import get_logger
from bridge.mapping.attachments import human_size
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Side, Visibility
from bridge.sync.effects import ActionResult

log = get_logger(__name__)


class HashingWriter:
    """A binary sink that hashes what passes through and, given a file, writes it there too."""

    def __init__(self, target: BinaryIO | None = None) -> None:
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> int:
        self.sha.update(chunk)
        self.size += len(chunk)
        if self.target is not None:
            self.target.write(chunk)
        return len(chunk)

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


#: the actions :func:`write_attachment` applies
ATTACHMENT_ACTIONS = (CopyAttachment, NoteAttachment)


def write_attachment(
    connectors: Mapping[Side, Connector], spec: MappingSpec, action: CopyAttachment | NoteAttachment,
    work_dir: str | None,
) -> ActionResult:
    """Apply one attachment action (see the module docstring), or recognise it as done already: a note
    by its marker, a copy by its name and hash on the target (after a crash or a lost store)."""
    if isinstance(action, NoteAttachment):
        done = connectors[action.target.side].find_comment_by_marker(action.target, action.marker)
        if done is not None:
            return ActionResult(link_id=action.link_id, remote_id=done.id, adopted=True,
                                attachment=_pair(action, "", "", action.size))
        return _note(connectors, spec, action, action.body)
    source, target = connectors[action.origin.side], connectors[action.target.side]
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="bridge-file-", suffix=".part", dir=work_dir)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as raw:
            sink = HashingWriter(raw)
            source.download_attachment(action.attachment(), sink)  # type: ignore[arg-type]
        digest = sink.hexdigest()
        rules = spec.attachments
        if rules is not None and sink.size > rules.max_size:
            body = rules.note_for(action.filename, sink.size)
            return _note(connectors, spec, action, f"{body} It stays on {action.origin.key}.")
        existing = _existing_copy(target, action, sink.size, digest)
        if existing is not None:
            log.info("file already on the other side; adopted", file=action.filename, target=action.target.key)
            return ActionResult(link_id=action.link_id, remote_id=existing, adopted=True,
                                attachment=_pair(action, existing, digest, sink.size))
        try:
            made = target.upload_attachment(action.target, path, filename=action.filename,
                                            mime_type=action.mime_type, marker=action.marker)
        except PermanentError as exc:
            if exc.status != 413:
                raise
            body = (f"bridge did not copy {action.filename} ({human_size(sink.size)}): "
                    f"{target.display_name} refused it as too large. It stays on {action.origin.key}.")
            return _note(connectors, spec, action, body)
        return ActionResult(link_id=action.link_id, remote_id=made.id,
                            attachment=_pair(action, made.id, digest, sink.size))
    finally:
        path.unlink(missing_ok=True)


def _existing_copy(target: Connector, action: CopyAttachment, size: int, digest: str) -> str | None:
    """The id of a file on the target with the same name and bytes, if there is one."""
    for candidate in target.list_attachments(action.target):
        if candidate.filename != action.filename or (candidate.size is not None and candidate.size != size):
            continue
        probe = HashingWriter()
        target.download_attachment(candidate, probe)  # type: ignore[arg-type]
        if probe.hexdigest() == digest:
            return candidate.id
    return None


def _note(
    connectors: Mapping[Side, Connector], spec: MappingSpec, action: CopyAttachment | NoteAttachment, body: str
) -> ActionResult:
    target = action.target
    channel = action.channel if isinstance(action, NoteAttachment) else (
        "comment" if target.side is Side.JIRA else spec.comments.to_itsm_channel)
    rule = spec.comments.jira_visibility
    visibility = Visibility(rule.type, rule.value) if rule is not None and target.side is Side.JIRA else None
    comment = connectors[target.side].add_comment(target, body, channel=channel, marker=action.marker,
                                                  visibility=visibility)
    return ActionResult(link_id=action.link_id, remote_id=comment.id,
                        attachment=_pair(action, "", "", action.size))


def _pair(action: CopyAttachment | NoteAttachment, mirror_id: str, digest: str, size: int | None) -> AttachmentPair:
    return AttachmentPair(action.origin.side, action.attachment_id, action.origin.id, action.target.id, mirror_id,
                          digest, action.filename, size)


__all__ = ["ATTACHMENT_ACTIONS", "HashingWriter", "write_attachment"]
