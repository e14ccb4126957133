"""Actions: one effect on one side, planned by the pure planner and applied by the executor.

Each action has an **idempotency key** that is the same every time the same effect is planned from the
same change, so a re-planned action after a crash is recognised in the journal and never applied twice.
Each carries the **synced updates** the executor records in the store in the same transaction that marks
the action done: that is how bridge remembers what it wrote and never mirrors its own writes back.

Actions are serialised to JSON for the journal (:func:`to_json` / :func:`from_json`) so a pending action
can be reconciled after a restart without re-planning it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar

from bridge.core.state import CommentPair
from bridge.model import FieldValue, Marker, Ref, Side, Visibility


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value, for idempotency keys."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SyncedUpdate:
    """After the action succeeds: the item's synced ``fields`` (merged over the stored ones) and
    ``status`` (when not ``None``) become these values."""

    side: Side
    item_id: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """Base of all actions. ``mapping`` names the mapping; ``link_id`` the stored link, if one exists yet."""

    kind: ClassVar[str] = "action"
    #: the side the action writes to (``None`` for actions that write nowhere, like ReportConflict)
    mapping: str
    link_id: int | None

    @property
    def side(self) -> Side | None:  # pragma: no cover - overridden
        return None

    @property
    def key(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def synced(self) -> tuple[SyncedUpdate, ...]:
        return ()

    #: the names of the fields holding the items the action touches, the item it is about first
    ref_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def refs(self) -> tuple[Ref, ...]:
        """The items this action touches, the one it is about (writes to, or reports on) first.

        The one answer to "which items does this action touch": the executor's lanes and error-list
        references, the store effects' link lookup, the cycle's held items and the pending-placeholder
        protocol all read it.
        """
        return tuple(getattr(self, name) for name in self.ref_fields)

    def describe(self) -> str:  # pragma: no cover - overridden
        return self.kind


@dataclass(frozen=True, slots=True)
class CreateIssue(Action):
    """Create the Jira issue for a record that the route selects and that has no link yet.

    ``fields`` are the Jira values from the mapping; ``marker`` is the record's :attr:`Ref.token`.
    ``record_fields``/``record_status`` are the record's synced values; ``issue_status`` is the status
    the new issue will be moved to after the create (``None``: leave Jira's initial status).
    """

    kind: ClassVar[str] = "create_issue"
    ref_fields: ClassVar[tuple[str, ...]] = ("record",)
    record: Ref
    project: str
    issue_type: str
    fields: Mapping[str, FieldValue]
    marker: str
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    marker_field: str | None = None
    record_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    record_status: str | None = None

    @property
    def side(self) -> Side:
        return Side.JIRA

    @property
    def key(self) -> str:
        return self.key_for(self.mapping, self.record.id)

    @staticmethod
    def key_for(mapping: str, record_id: str) -> str:
        """The key of the create of ``record_id`` in ``mapping`` (freed when its issue is recreated)."""
        return f"create:{mapping}:{record_id}"

    def describe(self) -> str:
        return f"create {self.issue_type} in {self.project} for {self.record.key}"


@dataclass(frozen=True, slots=True)
class LinkExisting(Action):
    """Link a record to the existing issue ``issue_key`` that its ``link_existing`` field names."""

    kind: ClassVar[str] = "link_existing"
    ref_fields: ClassVar[tuple[str, ...]] = ("record",)
    record: Ref
    issue_key: str
    record_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    record_status: str | None = None

    @property
    def side(self) -> Side:
        return Side.JIRA

    @property
    def key(self) -> str:
        return f"link:{self.mapping}:{self.record.id}:{self.issue_key}"

    def describe(self) -> str:
        return f"link {self.record.key} to existing {self.issue_key}"


@dataclass(frozen=True, slots=True)
class MarkLinked(Action):
    """Show on ``issue`` that records are linked to it: the mapping's ``jira_label`` (so the Jira side's
    change query sees an issue a person created), and with the ``linked_count_*`` options how many.

    Planned after :class:`LinkExisting` (and after :class:`CreateIssue` when a count option is set)
    with the placeholder issue. ``count`` is ``None`` when planned: the executor fills it in at execution
    time from the stored link (its records, this one included), because only then is it known how many
    records share the issue. The key is the issue id and the count: the planned key names the record
    through its placeholder, the executed one says which count it showed.
    """

    kind: ClassVar[str] = "mark_linked"
    ref_fields: ClassVar[tuple[str, ...]] = ("issue",)
    issue: Ref
    jira_label: str
    count_field: str | None = None
    count_label_prefix: str | None = None
    count: int | None = None

    @property
    def side(self) -> Side:
        return Side.JIRA

    @property
    def key(self) -> str:
        suffix = f":{self.count}" if self.count is not None else ""
        return f"linked:{self.mapping}:{self.issue.id}{suffix}"

    @property
    def count_label(self) -> str | None:
        """The ``<prefix><count>`` label, when the prefix is set and the count known."""
        if self.count_label_prefix is None or self.count is None:
            return None
        return f"{self.count_label_prefix}{self.count}"

    def describe(self) -> str:
        shown = [f"label {self.jira_label}"]
        if self.count is not None and (self.count_field or self.count_label_prefix):
            shown.append(f"{self.count} linked record{'s' if self.count != 1 else ''}")
        return f"mark {self.issue.key} with {' and '.join(shown)}"


@dataclass(frozen=True, slots=True)
class UpdateFields(Action):
    """Write field values to one item. ``values`` are in the target side's vocabulary
    (ITSM field names and values when ``target.side`` is ITSM)."""

    kind: ClassVar[str] = "update_fields"
    ref_fields: ClassVar[tuple[str, ...]] = ("target",)
    target: Ref
    values: Mapping[str, FieldValue]
    updates: tuple[SyncedUpdate, ...] = ()

    @property
    def side(self) -> Side:
        return self.target.side

    @property
    def key(self) -> str:
        return f"fields:{self.mapping}:{self.target.id}:{digest(dict(self.values))}"

    @property
    def synced(self) -> tuple[SyncedUpdate, ...]:
        return self.updates

    def describe(self) -> str:
        return f"set {', '.join(sorted(self.values))} on {self.target.key}"


@dataclass(frozen=True, slots=True)
class SetStatus(Action):
    """Move one item to ``status`` with the extra ``fields`` the target demands (resolution, close code).

    ``source_version`` is the version of the item whose status change caused this, so two different
    changes to the same status (resolve, reopen, resolve again) get different keys.
    """

    kind: ClassVar[str] = "set_status"
    ref_fields: ClassVar[tuple[str, ...]] = ("target",)
    target: Ref
    status: str
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    source_version: str = ""
    updates: tuple[SyncedUpdate, ...] = ()

    @property
    def side(self) -> Side:
        return self.target.side

    @property
    def key(self) -> str:
        return f"status:{self.mapping}:{self.target.id}:{self.status}:{self.source_version}"

    @property
    def synced(self) -> tuple[SyncedUpdate, ...]:
        return self.updates

    def describe(self) -> str:
        extra = f" ({', '.join(f'{k}={v}' for k, v in sorted(self.fields.items()))})" if self.fields else ""
        return f"move {self.target.key} to {self.status}{extra}"


@dataclass(frozen=True, slots=True)
class AddComment(Action):
    """Mirror the comment ``origin_comment_id`` (on item ``origin``) onto ``target`` as ``body``."""

    kind: ClassVar[str] = "add_comment"
    ref_fields: ClassVar[tuple[str, ...]] = ("target", "origin")
    target: Ref
    origin: Ref
    origin_comment_id: str
    body: str
    channel: str
    visibility: Visibility | None = None

    @property
    def side(self) -> Side:
        return self.target.side

    @property
    def marker(self) -> Marker:
        return Marker(self.origin.side, self.origin_comment_id)

    @property
    def key(self) -> str:
        return f"comment:{self.origin.side.value}:{self.origin_comment_id}:{self.target.id}"

    def describe(self) -> str:
        return f"comment on {self.target.key} from {self.origin.key} ({self.channel})"


@dataclass(frozen=True, slots=True)
class WriteBackReference(Action):
    """Make ``target`` point at ``other``: Jira key/URL into the record, or a remote link on the issue."""

    kind: ClassVar[str] = "back_reference"
    ref_fields: ClassVar[tuple[str, ...]] = ("target", "other")
    target: Ref
    other: Ref
    values: Mapping[str, FieldValue] = field(default_factory=dict)

    @property
    def side(self) -> Side:
        return self.target.side

    @property
    def key(self) -> str:
        return f"backref:{self.mapping}:{self.target.id}:{self.other.id}:{digest(dict(self.values))}"

    def describe(self) -> str:
        return f"point {self.target.key} at {self.other.key}"


@dataclass(frozen=True, slots=True)
class ReportConflict(Action):
    """Both sides changed ``field`` since the last sync and the policy is ``report``: change nothing,
    put the conflict on the error list with both values."""

    kind: ClassVar[str] = "report_conflict"
    ref_fields: ClassVar[tuple[str, ...]] = ("issue", "itsm_item")
    field: str
    itsm_item: Ref
    issue: Ref
    itsm_value: FieldValue
    jira_value: FieldValue

    @property
    def key(self) -> str:
        return f"conflict:{self.mapping}:{self.issue.id}:{self.field}:{digest([self.itsm_value, self.jira_value])}"

    def describe(self) -> str:
        return (
            f"conflict on {self.field}: {self.itsm_item.key} has {self.itsm_value!r}, "
            f"{self.issue.key} has {self.jira_value!r}"
        )


@dataclass(frozen=True, slots=True)
class AdoptIssue(Action):
    """Link ``record`` to ``issue``, an issue that already exists for it (found by the record's
    back-reference or by its marker on the issue): store-only, no vendor call.

    Planned instead of :class:`CreateIssue` when the state store lost the link (a deleted or restored
    database, a crash before the journal commit). The synced values are the CURRENT values on both
    sides (``issue_fields``/``issue_status``, ``record_fields``/``record_status``), so nothing is sent
    again; ``comment_pairs`` are the mirrors already on the other side, found by their markers;
    ``evidence`` says what proved the pairing (``marker``, ``back-reference`` or both), for the journal.
    """

    kind: ClassVar[str] = "adopt_issue"
    ref_fields: ClassVar[tuple[str, ...]] = ("record", "issue")
    record: Ref
    issue: Ref
    issue_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    issue_status: str | None = None
    issue_version: str = ""
    record_fields: Mapping[str, FieldValue] = field(default_factory=dict)
    record_status: str | None = None
    evidence: str = "marker"
    comment_pairs: tuple[CommentPair, ...] = ()

    @property
    def key(self) -> str:
        return f"adopt:{self.mapping}:{self.record.id}:{self.issue.id}"

    def describe(self) -> str:
        pairs = f", {len(self.comment_pairs)} mirrored comment(s)" if self.comment_pairs else ""
        return f"adopt {self.issue.key} for {self.record.key} (by {self.evidence}{pairs})"


@dataclass(frozen=True, slots=True)
class AdoptComment(Action):
    """Remember that the comment ``origin_comment_id`` on ``origin`` already has its mirror ``mirror_id``
    on ``target`` (a comment there carries the origin's marker): store-only, never posted again."""

    kind: ClassVar[str] = "adopt_comment"
    ref_fields: ClassVar[tuple[str, ...]] = ("target", "origin")
    target: Ref
    origin: Ref
    origin_comment_id: str
    mirror_id: str

    @property
    def pair(self) -> CommentPair:
        return CommentPair(self.origin.side, self.origin_comment_id, self.origin.id, self.target.id, self.mirror_id)

    @property
    def key(self) -> str:
        return f"adopt-comment:{self.origin.side.value}:{self.origin_comment_id}:{self.target.id}"

    def describe(self) -> str:
        return f"adopt comment {self.mirror_id} on {self.target.key} as the mirror of {self.origin.key}"


@dataclass(frozen=True, slots=True)
class CloseLink(Action):
    """An item of the link is gone (deleted, or merged into another ticket): say so on ``notice`` (the
    item on the other side, or the gone record's issue), then stop syncing the link, so that bridge never
    writes to the gone item again (no "undelete", no write through a merged id landing on the survivor).

    The executor makes it when a write or read answers that ``gone`` no longer exists (``reason`` says
    how); the planner makes two (one note per side, ``leaving`` = the record) when a linked record leaves
    its route and the mapping says ``links.on_route_exit: detach``. What the store then does with the link:

    * by default it is closed with ``reason`` (``bridge links`` shows it);
    * ``move_to`` (an RT ticket merged into an unlinked one): the link follows the survivor;
    * ``recreate`` (the issue was deleted and the mapping says ``links.recreate_deleted``): the link is
      dropped and the create's journal keys ``release_keys`` freed, so the record is escalated again.

    ``duplicate_of`` (a merge into a ticket that has its own issue): that issue, which ``notice`` gets a
    Jira "Duplicate" issue link to, where the project allows it.
    """

    kind: ClassVar[str] = "close_link"
    ref_fields: ClassVar[tuple[str, ...]] = ("notice", "gone")
    notice: Ref
    gone: Ref
    reason: str
    body: str
    channel: str
    move_to: Ref | None = None
    duplicate_of: Ref | None = None
    recreate: bool = False
    release_keys: tuple[str, ...] = ()
    #: the record that leaves the link (``links.on_route_exit: detach``); a gone record leaves it too.
    #: Only that record's link closes when other records share the issue.
    leaving: Ref | None = None

    @property
    def side(self) -> Side:
        return self.notice.side

    @property
    def marker(self) -> Marker:
        """Names the gone item: the notice is recognised after a crash, and never mirrored."""
        return Marker(self.gone.side, f"gone-{self.gone.id}")

    @property
    def key(self) -> str:
        return f"close:{self.mapping}:{self.link_id}:{self.gone.id}:{self.notice.id}"

    def describe(self) -> str:
        if self.move_to is not None:
            return f"move the link of {self.gone.key} to {self.move_to.key} ({self.reason})"
        verb = "recreate the issue of" if self.recreate else "close the link of"
        return f"{verb} {self.gone.key}: {self.reason} (note on {self.notice.key})"


ACTION_TYPES: dict[str, type[Action]] = {
    cls.kind: cls
    for cls in (
        CreateIssue,
        LinkExisting,
        MarkLinked,
        UpdateFields,
        SetStatus,
        AddComment,
        WriteBackReference,
        ReportConflict,
        AdoptIssue,
        AdoptComment,
        CloseLink,
    )
}


# ---------------------------------------------------------------------------------- serialisation


def _encode(value: Any) -> Any:
    if isinstance(value, Side):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def to_json(action: Action) -> str:
    """Serialise an action for the journal."""
    return json.dumps({"kind": action.kind, **_encode(action)}, sort_keys=True)


def _ref(data: Mapping[str, Any]) -> Ref:
    return Ref(Side(data["side"]), data["kind"], data["id"], data["key"], data.get("url", ""))


def _value(value: Any) -> FieldValue:
    return tuple(value) if isinstance(value, list) else value


def from_json(text: str) -> Action:
    """Rebuild an action from :func:`to_json` output."""
    data = json.loads(text)
    cls = ACTION_TYPES[data.pop("kind")]
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.name in cls.ref_fields:
            kwargs[f.name] = _ref(raw)
        elif f.name in ("fields", "values", "record_fields", "issue_fields"):
            kwargs[f.name] = {k: _value(v) for k, v in raw.items()}
        elif f.name in ("move_to", "duplicate_of", "leaving"):
            kwargs[f.name] = _ref(raw) if raw else None
        elif f.name in ("labels", "components", "release_keys"):
            kwargs[f.name] = tuple(raw)
        elif f.name == "visibility":
            kwargs[f.name] = Visibility(**raw) if raw else None
        elif f.name == "updates":
            kwargs[f.name] = tuple(
                SyncedUpdate(Side(u["side"]), u["item_id"], {k: _value(v) for k, v in u["fields"].items()},
                             u["status"])
                for u in raw
            )
        elif f.name == "comment_pairs":
            kwargs[f.name] = tuple(
                CommentPair(Side(p["origin_side"]), p["origin_id"], p["origin_item"], p["mirror_item"], p["mirror_id"])
                for p in raw
            )
        elif f.name in ("itsm_value", "jira_value"):
            kwargs[f.name] = _value(raw)
        else:
            kwargs[f.name] = raw
    return cls(**kwargs)


__all__ = [
    "ACTION_TYPES",
    "Action",
    "AddComment",
    "AdoptComment",
    "AdoptIssue",
    "CloseLink",
    "CreateIssue",
    "LinkExisting",
    "MarkLinked",
    "ReportConflict",
    "SetStatus",
    "SyncedUpdate",
    "UpdateFields",
    "WriteBackReference",
    "digest",
    "from_json",
    "to_json",
]
