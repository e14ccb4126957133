"""Adoption: the state store is a cache of vendor truth, so a lost link is found again, never duplicated.

When the store no longer knows a record's link (the database was deleted, or restored from a backup
older than the link, or a crash hit between a create and its journal commit), the vendors still know:
the record's back-reference field names its issue, and the issue carries the record's marker (label or
``links.jira_marker_field``). Mirrored comments carry a :class:`~bridge.model.Marker` naming their
origin. This module holds the pure rules the planner applies to that evidence:

* :func:`choose_partner` — which existing issue a record without a link belongs to, or why that cannot
  be decided (conflicting evidence is never guessed: it becomes a problem naming both issues);
* :class:`MirrorIndex` — the markers of every comment the planner sees, so a comment whose mirror
  already exists on the other side is adopted (its pair recorded), never posted again. A mirror that
  carries no marker (a reply on a channel the customer reads) but was written by bridge's dedicated
  account (:attr:`bridge.model.Comment.own`) is found by its text instead: the author says it is
  bridge's, the text says whose mirror it is (:func:`same_text`).

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


#: A mirror cut by ``max_length`` keeps the start of its origin: this much of it must be found.
_TRUNCATED_PREFIX = 200


def _normal(text: str) -> str:
    """Text as compared: whitespace runs as one space (vendors re-wrap and trim what they store)."""
    return " ".join(text.split())


def same_text(origin: str, mirror: str) -> bool:
    """Whether ``mirror`` (attribution line, then the body, perhaps cut) is a mirror of the body ``origin``.

    The mirror is the origin's text after its first line (the attribution, which may be empty); a long
    origin may have been cut at ``max_length``, so its first 200 characters must then appear in the
    mirror. Short, common texts ("thanks") match only a mirror that ends with exactly them.
    """
    o, m = _normal(origin), _normal(mirror)
    if not o:
        return False
    if m == o or m.endswith(f" {o}"):
        return True
    return len(o) > _TRUNCATED_PREFIX and o[:_TRUNCATED_PREFIX] in m


class MirrorIndex:
    """Every comment the planner sees that carries a marker, by (origin side, origin id, item it is on),
    and the unmarked comments bridge's dedicated account wrote (:attr:`~bridge.model.Comment.own`).

    A mirror bridge wrote names its origin in its marker; finding one on the target item means the
    original is mirrored already, whatever the store remembers. A mirror without a marker is claimed
    by the first origin whose text it carries (:meth:`mirror_of` with ``texts``), once: two identical
    origins need two mirrors.
    """

    def __init__(self, comments: Mapping[str, Sequence[Comment]]) -> None:
        self._mirrors: dict[tuple[Side, str, str], str] = {}
        self._unnamed: dict[str, list[Comment]] = {}
        self._claimed: dict[tuple[Side, str, str], str] = {}
        self._stored: set[str] = set()  # unmarked mirrors the store already pairs with their origin
        for item_comments in comments.values():
            for comment in item_comments:
                if comment.marker is not None:
                    key = (comment.marker.side, comment.marker.origin_id, comment.parent.id)
                    self._mirrors.setdefault(key, comment.id)
                elif comment.own:
                    self._unnamed.setdefault(comment.parent.id, []).append(comment)
        for unnamed in self._unnamed.values():
            unnamed.sort(key=lambda c: (c.created, c.id))

    def mirror_of(self, origin_side: Side, origin_id: str, target_item: str,
                  texts: Sequence[str] = ()) -> str | None:
        """The id of the comment on ``target_item`` that mirrors ``origin_id`` of ``origin_side``.

        Without a marker naming it, the first unclaimed comment by bridge's own account on
        ``target_item`` whose text is one of ``texts`` (the origin's body as it would be mirrored:
        routed, stripped) is that mirror, and is claimed for this origin.
        """
        key = (origin_side, origin_id, target_item)
        found = self._mirrors.get(key) or self._claimed.get(key)
        if found is not None or not texts:
            return found
        taken = self._stored | set(self._claimed.values())
        for candidate in self._unnamed.get(target_item, ()):
            if candidate.id not in taken and any(same_text(t, candidate.body) for t in texts):
                self._claimed[key] = candidate.id
                return candidate.id
        return None

    def stored(self, mirror_ids: Iterable[str]) -> None:
        """Mirrors the store already pairs with an origin (a restored backup knows some): never claimed by
        another origin with the same text."""
        self._stored.update(mirror_ids)

    def pairs(self, record_id: str, issue_id: str, record_comments: Iterable[str],
              issue_texts: Mapping[str, Sequence[str]] | None = None) -> list[CommentPair]:
        """The comment pairs between one record and one issue that their markers (or texts) prove.

        Mirrors on the issue count for this record only when their origin is one of
        ``record_comments`` (the record's comment ids): several records may share one issue.
        ``issue_texts`` (the issue's comments not proven by a marker, by id, with the texts their mirror
        would carry) finds the unmarked mirrors bridge's own account wrote on the record.
        """
        own = set(record_comments)
        found: list[CommentPair] = []
        for (side, origin_id, item), mirror_id in sorted(self._mirrors.items()):
            if side is Side.ITSM and item == issue_id and origin_id in own:
                found.append(CommentPair(Side.ITSM, origin_id, record_id, issue_id, mirror_id))
            elif side is Side.JIRA and item == record_id:
                found.append(CommentPair(Side.JIRA, origin_id, issue_id, record_id, mirror_id))
        proven = {p.origin_id for p in found if p.origin_side is Side.JIRA}
        for origin_id, texts in (issue_texts or {}).items():
            if origin_id in proven:
                continue
            mirror = self.mirror_of(Side.JIRA, origin_id, record_id, texts)
            if mirror is not None:
                found.append(CommentPair(Side.JIRA, origin_id, issue_id, record_id, mirror))
        return found


def unmarked(comments: Iterable[Comment]) -> list[Comment]:
    """The originals among ``comments`` (those bridge did not write: no marker, not by its own account)."""
    return [c for c in comments if not c.is_mirror]


__all__ = ["Decision", "MirrorIndex", "back_reference_key", "choose_partner", "named_key", "same_text", "unmarked"]
