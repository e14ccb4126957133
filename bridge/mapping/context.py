"""Template contexts: which names each template place may use, and the functions that build them.

The loader validates templates against :data:`PLACES`; the engine renders them with the builders below.
Keeping both in one module is what makes "the mapping validated" mean "the mapping renders".

=====================  ===================================================  ================================
place                  where in a mapping                                   names
=====================  ===================================================  ================================
``to_jira``            ``fields.<f>.template``                              record fields, ``record``
``to_itsm``            ``status.to_itsm.<s>.fields.<f>.template``           record fields, ``record``, ``issue``
``note``               ``notes_to_itsm[].template``                         as ``to_itsm`` + ``value``, ``previous``
``attribution``        ``comments.attribution``                             ``author``, ``system``, ``record``
``truncation``         ``comments.truncation_notice``                       ``omitted``, ``source``
=====================  ===================================================  ================================

A record field whose name collides with one of the context names (``record``, ``issue``, …) is shadowed
by the context name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.model import Ref

RECORD_ATTRIBUTES = ("key", "id", "url", "type", "first_message")
ISSUE_ATTRIBUTES = ("key", "url", "status", "resolution", "summary", "fields")
JINJA_GLOBALS = frozenset(
    {"range", "dict", "cycler", "joiner", "namespace", "loop", "self", "caller", "varargs", "kwargs"}
)
"""Names Jinja itself provides; never record fields."""


@dataclass(frozen=True)
class Place:
    """One kind of template: whether it sees the record's fields, and which extra names it gets."""

    name: str
    description: str
    record_fields: bool
    names: tuple[str, ...]


PLACES: dict[str, Place] = {
    "to_jira": Place("to_jira", "an ITSM→Jira field template", True, ("record",)),
    "to_itsm": Place("to_itsm", "a Jira→ITSM template", True, ("record", "issue")),
    "note": Place("note", "a notes_to_itsm template", True, ("record", "issue", "value", "previous")),
    "attribution": Place("attribution", "the comment attribution", False, ("author", "system", "record")),
    "truncation": Place("truncation", "the truncation notice", False, ("omitted", "source")),
}


def record_context(ref: Ref, *, first_message: str | None = None) -> dict[str, str]:
    """``record``: the ITSM record as templates see it.

    ``first_message`` (what the requester first wrote) is only known to ITSM→Jira field templates of
    systems that keep it apart from the fields (Request Tracker); elsewhere it is empty.
    """
    return {"key": ref.key, "id": ref.id, "url": ref.url, "type": ref.kind, "first_message": first_message or ""}


def issue_context(
    ref: Ref,
    *,
    status: str | None,
    resolution: str | None,
    summary: str | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """``issue``: the Jira issue as Jira→ITSM templates see it (``fields`` keyed by Jira field key)."""
    return {
        "key": ref.key,
        "url": ref.url,
        "status": status or "",
        "resolution": resolution or "",
        "summary": summary or "",
        "fields": dict(fields),
    }


def to_jira_context(
    record_fields: Mapping[str, Any], record: Ref, *, first_message: str | None = None
) -> dict[str, Any]:
    """Context of ``fields.<f>.template``: the record's fields plus ``record`` (with its first message)."""
    return {**record_fields, "record": record_context(record, first_message=first_message)}


def to_itsm_context(record_fields: Mapping[str, Any], record: Ref, issue: Mapping[str, Any]) -> dict[str, Any]:
    """Context of Jira→ITSM templates (close notes): the record's fields, ``record`` and ``issue``.

    ``issue`` is what :func:`issue_context` builds.
    """
    return {**record_fields, "record": record_context(record), "issue": dict(issue)}


def note_context(
    record_fields: Mapping[str, Any], record: Ref, issue: Mapping[str, Any], *, value: Any, previous: Any
) -> dict[str, Any]:
    """Context of ``notes_to_itsm`` templates: as :func:`to_itsm_context` plus the new and previous value."""
    return {**to_itsm_context(record_fields, record, issue), "value": value, "previous": previous}
