"""Adoption: the state store is a cache of vendor truth, so a lost link is found again, never duplicated.

When the store no longer knows a record's link (the database was deleted, or restored from a backup
older than the link, or a crash hit between a create and its journal commit), the vendors still know:
the record's back-reference field names its issue, and the issue carries the record's marker (label or
``links.jira_marker_field``). Mirrored comments carry a :class:`~bridge.model.Marker` naming their
origin. This module holds the pure rules the planner applies to that evidence:

* :func:`choose_partner` — which existing issue a record without a link belongs to, or why that cannot
  be decided (conflicting evidence is never guessed: it becomes a problem naming both issues);
* :class:`MirrorIndex` — the markers of every comment the planner sees, so a comment whose mirror
  already exists on the other side is adopted (its pair recorded), never posted again.

The cycle gathers the evidence (:func:`bridge.sync.cycle` → ``find_by_markers``, one batched search
per cycle for all the records about to be created) and passes it in
:attr:`bridge.core.state.PlanInput.partners`; the planner stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bridge.core.state import CommentPair, Partners
from bridge.model import Comment, Issue, Record, Side

_JIRA_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")


def back_reference_key(record: Record) -> str | None:
    """The Jira key the record's back-reference field names, or ``None`` (empty, or not a key)."""
    value = (record.back_reference or "").strip()
    if "/browse/" in value:  # a URL field used as the back-reference
        value = value.rsplit("/browse/", 1)[1].split("?", 1)[0].strip("/")
    return value if _JIRA_KEY_RE.match(value) else None


def named_key(record: Record, link_existing: str | None) -> str | None:
    """The issue a record names: the key in its ``links.link_existing`` field, else its back-reference.

    A record linked by ``link_existing`` names its issue there even when its back-reference was never
    written; after the state database is lost that issue's comments prove which are mirrored already.
    """
    value = record.fields.get(link_existing) if link_existing else None
    if isinstance(value, str) and _JIRA_KEY_RE.match(value.strip()):
        return value.strip()
    return back_reference_key(record)


@dataclass(frozen=True, slots=True)
class Decision:
    """What :func:`choose_partner` found: the issue to adopt (with the evidence that proves it), a
    conflict to report (``problem``), or neither (nothing exists: create)."""

    issue: Issue | None = None
    evidence: str = ""
    problem: str | None = None


def choose_partner(record: Record, partners: Partners | None) -> Decision:
    """The existing issue ``record`` belongs to, from the marker search and its back-reference.

    One issue named by all the evidence is adopted. Two issues carrying the record's marker, or a
    back-reference naming another issue than the one carrying the marker, or a back-reference naming
    an issue that carries ANOTHER record's marker, is a conflict: bridge does not guess, it reports
    both issues so an operator decides (and until then creates nothing).
    """
    if partners is None:
        return Decision()
    marked = sorted({i.ref.id: i for i in partners.by_marker}.values(), key=lambda i: i.ref.key)
    named = partners.by_back_reference
    who = record.ref.key
    if len(marked) > 1:
        keys = " and ".join(i.ref.key for i in marked)
        return Decision(problem=(
            f"{keys} both carry the marker of {who}: bridge will not guess which one is its issue "
            "(remove the marker label/field from the duplicate, then run the cycle again)"
        ))
    if marked and named is not None and named.ref.id != marked[0].ref.id:
        return Decision(problem=(
            f"{who} names {named.ref.key} in its back-reference but {marked[0].ref.key} carries its marker: "
            "bridge will not guess which one is its issue (fix the back-reference or the marker)"
        ))
    if marked:
        return Decision(marked[0], "marker and back-reference" if named is not None else "marker")
    if named is not None:
        other = named.back_reference
        if other and other != record.ref.token:
            return Decision(problem=(
                f"{who} names {named.ref.key} in its back-reference but {named.ref.key} carries the marker "
                f"{other!r} of another record: bridge will not guess (clear the back-reference to create a "
                "new issue, or link the records with link_existing)"
            ))
        return Decision(named, "back-reference")
    return Decision()


class MirrorIndex:
    """Every comment the planner sees that carries a marker, by (origin side, origin id, item it is on).

    A mirror bridge wrote names its origin in its marker; finding one on the target item means the
    original is mirrored already, whatever the store remembers.
    """

    def __init__(self, comments: Mapping[str, Sequence[Comment]]) -> None:
        self._mirrors: dict[tuple[Side, str, str], str] = {}
        for item_comments in comments.values():
            for comment in item_comments:
                if comment.marker is not None:
                    key = (comment.marker.side, comment.marker.origin_id, comment.parent.id)
                    self._mirrors.setdefault(key, comment.id)

    def mirror_of(self, origin_side: Side, origin_id: str, target_item: str) -> str | None:
        """The id of the comment on ``target_item`` that mirrors ``origin_id`` of ``origin_side``."""
        return self._mirrors.get((origin_side, origin_id, target_item))

    def pairs(self, record_id: str, issue_id: str, record_comments: Iterable[str]) -> list[CommentPair]:
        """The comment pairs between one record and one issue that their markers prove.

        Mirrors on the issue count for this record only when their origin is one of
        ``record_comments`` (the record's comment ids): several records may share one issue.
        """
        own = set(record_comments)
        found: list[CommentPair] = []
        for (side, origin_id, item), mirror_id in sorted(self._mirrors.items()):
            if side is Side.ITSM and item == issue_id and origin_id in own:
                found.append(CommentPair(Side.ITSM, origin_id, record_id, issue_id, mirror_id))
            elif side is Side.JIRA and item == record_id:
                found.append(CommentPair(Side.JIRA, origin_id, issue_id, record_id, mirror_id))
        return found


def unmarked(comments: Iterable[Comment]) -> list[Comment]:
    """The originals among ``comments`` (those bridge did not write)."""
    return [c for c in comments if c.marker is None]


__all__ = ["Decision", "MirrorIndex", "back_reference_key", "choose_partner", "named_key", "unmarked"]
