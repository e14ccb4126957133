"""Which files to copy between a record and its issue: pure, values in and actions out.

For one link, given the files listed on each side and the stored pairs, the plan copies every file that
is neither an origin nor a mirror of a stored pair, that the mapping's direction and patterns let
through and that bridge did not put there itself. A file over ``max_size`` (or one more than Jira's
2,000 per issue) gets one visible note instead (:class:`NoteAttachment`), recorded like a copy so it is
never planned again. Recognising a copy that already exists without a stored pair (a lost store) needs
the bytes, so the executor does it (:mod:`bridge.sync.attachment_exec`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.core.actions import Action
from bridge.core.attachments import (
    JIRA_MAX_ATTACHMENTS_PER_ISSUE,
    Attachment,
    AttachmentPair,
    CopyAttachment,
    NoteAttachment,
)
from bridge.mapping.attachments import AttachmentRules, human_size
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side


def known_ids(pairs: Sequence[AttachmentPair]) -> set[tuple[Side, str]]:
    """Every (side, attachment id) a stored pair names: origins, and the copies bridge made."""
    known: set[tuple[Side, str]] = set()
    for pair in pairs:
        known.add((pair.origin_side, pair.origin_id))
        if pair.mirror_id:
            other = Side.JIRA if pair.origin_side is Side.ITSM else Side.ITSM
            known.add((other, pair.mirror_id))
    return known


def plan_attachments(
    spec: MappingSpec,
    link_id: int | None,
    issue: Ref,
    issue_files: Sequence[Attachment],
    records: Sequence[tuple[Ref, Sequence[Attachment]]],
    pairs: Sequence[AttachmentPair],
    *,
    itsm_channel: str | None = None,
) -> list[Action]:
    """The copies and notes of one link (``records``: each record of it with its files)."""
    rules = spec.attachments
    if rules is None or rules.direction == "none":
        return []
    known = known_ids(pairs)
    actions: list[Action] = []
    room = JIRA_MAX_ATTACHMENTS_PER_ISSUE - len(issue_files)
    if rules.copies(to_jira=True):
        for record, files in records:
            for file in _wanted(rules, files, known, Side.ITSM):
                note = _note_reason(rules, file, room)
                if note is None:
                    room -= 1
                    actions.append(_copy(spec, link_id, issue, record, file))
                elif rules.on_oversize == "note":
                    actions.append(_note(spec, link_id, issue, record, file, note, "comment"))
    if rules.copies(to_jira=False):
        channel = itsm_channel or spec.comments.to_itsm_channel
        for record, _ in records:
            for file in _wanted(rules, issue_files, known, Side.JIRA):
                note = _note_reason(rules, file, None)
                if note is None:
                    actions.append(_copy(spec, link_id, record, issue, file))
                elif rules.on_oversize == "note":
                    actions.append(_note(spec, link_id, record, issue, file, note, channel))
    return actions


def _wanted(
    rules: AttachmentRules, files: Sequence[Attachment], known: set[tuple[Side, str]], side: Side
) -> list[Attachment]:
    return [
        f for f in files
        if (side, f.id) not in known and not f.by_bridge and rules.admits(f.filename, f.mime_type)
    ]


def _note_reason(rules: AttachmentRules, file: Attachment, room: int | None) -> str | None:
    """Why ``file`` is noted instead of copied (the note's text), ``None`` when it is copied."""
    if file.size is not None and file.size > rules.max_size:
        return rules.note_for(file.filename, file.size)
    if room is not None and room <= 0:
        return (f"bridge did not copy {file.filename} ({human_size(file.size)}): the issue has "
                f"{JIRA_MAX_ATTACHMENTS_PER_ISSUE:,} attachments, the most Jira allows.")
    return None


def _copy(spec: MappingSpec, link_id: int | None, target: Ref, origin: Ref, file: Attachment) -> CopyAttachment:
    return CopyAttachment(spec.name, link_id, target=target, origin=origin, attachment_id=file.id,
                          filename=file.filename, mime_type=file.mime_type or "application/octet-stream",
                          size=file.size, url=file.url)


def _note(spec: MappingSpec, link_id: int | None, target: Ref, origin: Ref, file: Attachment, body: str,
          channel: str) -> NoteAttachment:
    return NoteAttachment(spec.name, link_id, target=target, origin=origin, attachment_id=file.id,
                          filename=file.filename, body=f"{body} It stays on {origin.key}.", channel=channel,
                          size=file.size)


__all__ = ["known_ids", "plan_attachments"]
