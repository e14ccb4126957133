"""What the pure planner is given: the changes seen this cycle and the stored state of the links they touch.

These are plain frozen values, loaded by the cycle from the store for the changed items only (never for
all links: an idle cycle must cost the same with 10 or 100,000 links).

Synced values are kept per item and keyed by the *rule key* of the mapping's ``fields:`` (the Jira
field name), in Jira's vocabulary: for a record, the value its ITSM fields produce through the rule
(``"High"`` for ServiceNow priority ``"2"``); for an issue, the value Jira holds. "Changed on a side"
means "differs from what that side had at the last sync", so bridge's own writes never bounce back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from bridge.model import Comment, FieldValue, Issue, Link, Record, Ref, Side, frozen_fields


@dataclass(frozen=True, slots=True)
class ItemState:
    """The last synced state of one item (a record or the issue) of a link."""

    ref: Ref
    fields: Mapping[str, FieldValue] = field(default_factory=frozen_fields, hash=False)
    status: str | None = None
    version: str = ""
    updated: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fields, MappingProxyType):
            object.__setattr__(self, "fields", frozen_fields(self.fields))


@dataclass(frozen=True, slots=True)
class CommentPair:
    """One mirrored comment: the original (side, id, on which item) and its mirror (item, id)."""

    origin_side: Side
    origin_id: str
    origin_item: str
    mirror_item: str
    mirror_id: str


@dataclass(frozen=True, slots=True)
class LinkState:
    """A stored link with its synced values and the comments already mirrored across it."""

    link: Link
    issue: ItemState
    records: Mapping[str, ItemState]  # by record Ref.id
    comments: tuple[CommentPair, ...] = ()

    def record_state(self, record_id: str) -> ItemState | None:
        return self.records.get(record_id)

    def knows_comment(self, side: Side, comment_id: str) -> bool:
        """True when the comment is a mirror bridge wrote, or an original already mirrored somewhere."""
        for pair in self.comments:
            if pair.origin_side is side and pair.origin_id == comment_id:
                return True
            if pair.origin_side is side.other and pair.mirror_id == comment_id:
                return True
        return False

    def mirrored_to(self, side: Side, comment_id: str, target_item: str) -> bool:
        """True when the original ``comment_id`` on ``side`` already has a mirror on ``target_item``."""
        return any(
            p.origin_side is side and p.origin_id == comment_id and p.mirror_item == target_item
            for p in self.comments
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """What the cycle saw on both sides since the cursors, plus the comments of those items.

    ``comments`` is keyed by item ``Ref.id`` (records and issues share the dict; ids of the two sides
    never collide in practice, and the comment's ``parent.side`` says which is which).
    """

    records: Sequence[Record] = ()
    issues: Sequence[Issue] = ()
    comments: Mapping[str, Sequence[Comment]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class FirstStart:
    """Records without a link in ``finished`` states last changed before ``not_before`` are not escalated
    (history from before the mapping's first start; see :mod:`bridge.sync.first_start`)."""

    finished: frozenset[str]
    not_before: datetime

    def leaves_out(self, record: Record) -> bool:
        return record.status is not None and record.status in self.finished and record.updated < self.not_before


@dataclass(frozen=True, slots=True)
class Partners:
    """What the vendors say about a record without a stored link: the issues carrying its marker (label
    or marker field) and the issue its back-reference names, each read with its current values.

    The cycle gathers them in one batched search for every record about to be created, so the pure
    planner can adopt an existing partner instead of creating a duplicate.
    """

    by_marker: tuple[Issue, ...] = ()
    by_back_reference: Issue | None = None


@dataclass(frozen=True, slots=True)
class PlanInput:
    """Everything :func:`bridge.sync.planner.plan` reads.

    ``links_by_record`` and ``links_by_issue`` index the same :class:`LinkState` objects by record id and
    by issue id, for the changed items only. ``pending_keys`` are idempotency keys of actions still
    pending or on the error list: the planner does not plan them again.
    """

    changes: Changes
    links_by_record: Mapping[str, LinkState] = field(default_factory=dict, hash=False)
    links_by_issue: Mapping[str, LinkState] = field(default_factory=dict, hash=False)
    pending_keys: frozenset[str] = frozenset()
    #: with a value: the line under closed history that new records must clear to be escalated
    first_start: FirstStart | None = None
    jira_system: str = "Jira"
    itsm_system: str = "ServiceNow"
    #: by record id, for records without a link: the existing issues that may be theirs (adoption)
    partners: Mapping[str, Partners] = field(default_factory=dict, hash=False)
    #: ITSM user → Jira user (``None``: nobody), for field rules with ``user: true`` (:mod:`bridge.users`)
    people: Mapping[str, str | None] = field(default_factory=dict, hash=False)
    #: ITSM field → the most characters it keeps (ServiceNow ``sys_dictionary.max_length``), for ``to_itsm`` rules
    itsm_limits: Mapping[str, int] = field(default_factory=dict, hash=False)


def index_links(states: Sequence[LinkState]) -> tuple[dict[str, LinkState], dict[str, LinkState]]:
    """Build the two indexes of :class:`PlanInput` from a list of link states."""
    by_record: dict[str, LinkState] = {}
    by_issue: dict[str, LinkState] = {}
    for state in states:
        by_issue[state.link.issue.id] = state
        for ref in state.link.records:
            by_record[ref.id] = state
    return by_record, by_issue
