"""The domain model every part of bridge speaks: sides, references, records, issues, comments, links.

Everything here is a frozen value. Connectors translate vendor JSON into these objects and back, so the
planner never sees ADF, wiki markup, ServiceNow's all-string JSON or RT's mixed id types. Three rules
make the rest of bridge simple:

* Timestamps are timezone-aware UTC ``datetime`` objects, always. :func:`utc` enforces it.
* Field values are *normalised* :data:`FieldValue` s: a string, a number, a bool, ``None`` or a tuple of
  strings. Jira's ``{"name": "High"}`` becomes ``"High"``, ADF becomes plain text, a multi-select or
  ``labels`` becomes a sorted tuple of names, ServiceNow's ``"true"`` stays the string ``"true"`` (the
  ITSM's own vocabulary is kept; the mapping converts). Connectors convert back when they write.
  Equality of two normalised values is what "changed" means.
* A thing that bridge wrote on one side as a mirror of something from the other side carries a
  :class:`Marker` naming its origin, so that it is never mirrored back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Side(StrEnum):
    """The two sides bridge keeps in sync."""

    ITSM = "itsm"
    JIRA = "jira"

    @property
    def other(self) -> Side:
        return Side.JIRA if self is Side.ITSM else Side.ITSM


FieldValue = str | int | float | bool | None | tuple[str, ...]
"""A normalised field value (see the module docstring)."""


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive input is refused, not guessed."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value!r}: bridge only handles timezone-aware timestamps")
    return value.astimezone(UTC)


def normalise(value: Any) -> FieldValue:
    """Bring a plain Python value into :data:`FieldValue` form (lists become sorted tuples of str)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(sorted(str(v) for v in value))
    raise TypeError(f"not a field value: {type(value).__name__}")


def frozen_fields(values: Mapping[str, Any] | None = None) -> Mapping[str, FieldValue]:
    """A read-only copy of a field dict with every value normalised."""
    return MappingProxyType({k: normalise(v) for k, v in (values or {}).items()})


@dataclass(frozen=True, slots=True)
class Ref:
    """Points at one record or issue.

    ``id`` is the stable identifier (ServiceNow ``sys_id``, RT ticket id, Jira issue id); ``key`` is what
    people read (``INC0010001``, ``RT#42``, ``OPS-7``). ``kind`` is the ITSM record type (ServiceNow table,
    RT queue) or ``"issue"`` on the Jira side.
    """

    side: Side
    kind: str
    id: str
    key: str
    url: str = ""

    def __str__(self) -> str:
        return self.key

    @property
    def token(self) -> str:
        """A stable, label-safe marker token naming this item, e.g. ``itsm-incident-9d38…``.

        Jira labels may not contain spaces; this keeps letters, digits, ``-``, ``_`` and ``.`` only, so the
        token can be a label, a custom-field value and part of a JQL string literal alike.
        """
        raw = f"{self.side.value}-{self.kind}-{self.id}"
        return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)


@dataclass(frozen=True, slots=True)
class Visibility:
    """A Jira comment restriction: ``type`` is ``role`` or ``group``."""

    type: str
    value: str


MARKER_RE = re.compile(r"\[bridge:(itsm|jira):([A-Za-z0-9_.:/-]{1,200})\]")


@dataclass(frozen=True, slots=True)
class Marker:
    """Names the origin of a mirrored thing: the side and the id of the original there.

    Connectors store it where their vendor allows it least visibly (a Jira comment property, the last
    line of a ServiceNow journal entry, …) and must give it back parsed in :attr:`Comment.marker`.
    Its text form, ``[bridge:itsm:<id>]``, is what connectors that keep it in the text use.
    """

    side: Side
    origin_id: str

    def render(self) -> str:
        return f"[bridge:{self.side.value}:{self.origin_id}]"

    @classmethod
    def find(cls, text: str | None) -> Marker | None:
        """The last marker in ``text``, if any (the last one, because quoted mirrors may nest)."""
        if not text:
            return None
        found = MARKER_RE.findall(text)
        if not found:
            return None
        side, origin_id = found[-1]
        return cls(Side(side), origin_id)

    @staticmethod
    def strip(text: str) -> str:
        """``text`` without any marker and without the whitespace the marker left behind."""
        return MARKER_RE.sub("", text).rstrip()


@dataclass(frozen=True, slots=True)
class Item:
    """What both sides have in common: a record on the ITSM side, an issue on the Jira side.

    ``fields`` holds the normalised values of the fields the mapping asked for (and only those).
    ``status`` is the ITSM state value (``"6"``, ``"resolved"``) or the Jira status name;
    ``status_category`` is Jira's ``new``/``indeterminate``/``done`` (``None`` on the ITSM side).
    ``version`` changes on every update of the item (ServiceNow ``sys_mod_count``, RT ``LastUpdated``,
    Jira ``updated``): together with ``ref.id`` it de-duplicates overlapping cursor windows.
    ``updated_by`` is the account that made the last change, when the vendor says.
    ``back_reference`` is what the item says it is linked to: on a record the Jira key written in its
    link field (or the existing key named by ``link_existing``); on an issue the marker token of the
    record that created it.
    """

    ref: Ref
    fields: Mapping[str, FieldValue] = field(default_factory=frozen_fields, hash=False)
    status: str | None = None
    status_category: str | None = None
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: str = ""
    updated_by: str | None = None
    back_reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "updated", utc(self.updated))
        if not isinstance(self.fields, MappingProxyType):
            object.__setattr__(self, "fields", frozen_fields(self.fields))


@dataclass(frozen=True, slots=True)
class Record(Item):
    """An ITSM record: a ServiceNow incident or change request, an RT ticket, a JSM request.

    ``first_message`` is what the requester first wrote (RT: the ticket's Create transaction), filled only
    by connectors that keep it apart from the record's fields and only when a template reads it.
    """

    first_message: str | None = None


@dataclass(frozen=True, slots=True)
class Issue(Item):
    """A Jira issue."""


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment or journal entry, as plain text.

    ``channel`` is where it lives: ServiceNow ``work_notes`` or ``comments``, RT ``comment`` or
    ``correspond``, Jira ``comment``. ``internal`` is true when customers cannot see it (a work note, an
    RT comment, a Jira comment with a visibility restriction or marked internal in JSM). ``marker`` is
    set when bridge wrote this comment as a mirror; ``body`` never contains the marker text. ``own`` is
    set by a connector told that bridge's account is dedicated to bridge (``itsm.dedicated_account``)
    when that account wrote the comment: the author is then the carrier, a mirror without a marker
    (a reply on a channel the customer reads) is still known as bridge's own after the state store is
    lost (docs/mappings.md, "comments").
    """

    id: str
    parent: Ref
    author: str
    body: str
    created: datetime
    channel: str
    internal: bool = True
    visibility: Visibility | None = None
    marker: Marker | None = None
    own: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "created", utc(self.created))

    @property
    def is_mirror(self) -> bool:
        """Bridge wrote it: it names its origin (``marker``) or its author is bridge's own account."""
        return self.marker is not None or self.own


@dataclass(frozen=True, slots=True)
class Link:
    """The stored pairing of one Jira issue with one or more records (``link_existing`` fans in).

    A link is open until one of its items is deleted or merged away: then ``closed`` says when and
    ``closed_reason`` why, and bridge never syncs it again.
    """

    id: int
    mapping: str
    issue: Ref
    records: tuple[Ref, ...]
    created: datetime
    closed: datetime | None = None
    closed_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def __post_init__(self) -> None:
        object.__setattr__(self, "created", utc(self.created))
        if self.closed is not None:
            object.__setattr__(self, "closed", utc(self.closed))
