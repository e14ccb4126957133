"""What the planner looks at and gathers while planning (:mod:`bridge.sync.planner`).

The views of an item that templates and rules read (:func:`issue_view`, :func:`project`), the link being
planned (:class:`LinkContext`), and the bookkeeping of synced updates and field writes being assembled
(:class:`Updates`, :class:`Write`). All pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.core.actions import SyncedUpdate
from bridge.core.state import LinkState
from bridge.mapping.context import issue_context, to_jira_context
from bridge.mapping.schema import FieldRule
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import notice, project_value, to_jira_value
from bridge.model import FieldValue, Issue, Record, Ref, Side
from bridge.text_limits import cut, shorten

STATUS = "\x00status"  # the status slot of an item in the planner's bookkeeping (never a field name)


def _text(value: FieldValue) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def issue_view(issue: Issue) -> dict[str, Any]:
    """``issue`` as Jira→ITSM templates see it (:func:`bridge.mapping.context.issue_context`)."""
    return issue_context(
        issue.ref,
        status=issue.status,
        resolution=_text(issue.fields.get("resolution")),
        summary=_text(issue.fields.get("summary")),
        fields=issue.fields,
    )


def project(
    mapping: MappingSpec, record: Record, people: Mapping[str, str | None] | None = None
) -> dict[str, FieldValue]:
    """The record's value for every rule key, in Jira's vocabulary (``people``: ITSM → Jira users). Raises
    TemplateError."""
    context = to_jira_context(record.fields, record.ref, first_message=record.first_message)
    notice = mapping.comments.truncation_notice  # one notice for every text bridge cuts
    return {
        key: project_value(key, rule, record.fields, context, notice_template=notice, people=people)
        for key, rule in mapping.fields.items()
    }


def written_projection(
    rule: FieldRule, itsm_value: FieldValue, people: Mapping[str, str | None] | None = None
) -> FieldValue:
    """What a record will project to after bridge writes ``itsm_value`` to the rule's ITSM field."""
    assert rule.itsm is not None
    return to_jira_value(rule, {rule.itsm: itsm_value}, {}, people)


def within_itsm_limit(
    rule: FieldRule, value: FieldValue, limits: Mapping[str, int], notice_template: str, issue: Ref
) -> FieldValue:
    """``value`` as bridge writes it to the rule's ITSM field: cut to the rule's ``max_length``, else to the
    field's length on the instance (``limits``, ServiceNow ``sys_dictionary.max_length``).

    The vendor would otherwise drop the tail silently; cut here, the text ends at a line or word boundary
    with the mapping's notice naming the issue that holds it whole, and :func:`written_projection` of the
    cut value is what the record then shows, so the next cycle sees no change to send back to Jira.
    """
    assert rule.itsm is not None
    limit = rule.max_length if rule.max_length is not None else limits.get(rule.itsm)
    return _within(value, limit, notice_template, issue)


def _within(value: FieldValue, limit: int | None, notice_template: str, issue: Ref) -> FieldValue:
    """``value`` cut to ``limit`` with the notice naming ``issue``; a value within it, or no limit: as is."""
    if limit is None or not isinstance(value, str) or len(value) <= limit:
        return value
    line = notice(notice_template, source={"key": issue.key, "url": issue.url})
    if len(line(len(value))) * 2 > limit:
        return shorten(value, limit)  # a short column (a title): the notice would fill it, just "…"
    return cut(value, limit, line)


def within_field_limits(
    fields: Mapping[str, FieldValue], limits: Mapping[str, int], notice_template: str, issue: Ref
) -> dict[str, FieldValue]:
    """The close data of an ITSM state (``close_notes`` built from the issue's comments can be long) cut to
    each field's length on the instance, with the notice, as :func:`within_itsm_limit` cuts field rules."""
    return {name: _within(value, limits.get(name), notice_template, issue) for name, value in fields.items()}


class Updates:
    """Synced updates gathered per item and merged (one SyncedUpdate per item)."""

    def __init__(self) -> None:
        self._fields: dict[tuple[Side, str], dict[str, FieldValue]] = {}
        self._status: dict[tuple[Side, str], str] = {}

    def add(self, side: Side, item_id: str, fields: Mapping[str, FieldValue] | None = None,
            status: str | None = None) -> None:
        key = (side, item_id)
        self._fields.setdefault(key, {}).update(fields or {})
        if status is not None:
            self._status[key] = status

    def __bool__(self) -> bool:
        return bool(self._fields)

    def build(self, exclude: set[tuple[Side, str, str]] | frozenset[tuple[Side, str, str]] = frozenset()
              ) -> list[SyncedUpdate]:
        """The merged updates, leaving out what ``exclude`` names ((side, item id, field or STATUS))."""
        built = []
        for (side, item_id), values in self._fields.items():
            kept = {k: v for k, v in values.items() if (side, item_id, k) not in exclude}
            status = self._status.get((side, item_id))
            if (side, item_id, STATUS) in exclude:
                status = None
            if kept or status is not None:
                built.append(SyncedUpdate(side, item_id, kept, status))
        return built


class Write:
    """One UpdateFields being assembled for one target."""

    def __init__(self, target: Ref) -> None:
        self.target = target
        self.values: dict[str, FieldValue] = {}
        self.updates = Updates()


def is_mirror(state: LinkState, side: Side, comment_id: str) -> bool:
    """True when the comment on ``side`` is a mirror bridge wrote there."""
    return any(p.origin_side is side.other and p.mirror_id == comment_id for p in state.comments)


@dataclass(slots=True)
class LinkContext:
    """One link's view during planning: what changed on it, and its synced state."""

    state: LinkState
    issue: Issue | None
    issue_ref: Ref
    changed: list[Record]  # changed records with usable projections, oldest first
    record_refs: list[Ref]  # every linked record (fan-out targets), minus those with problems
    projections: dict[str, dict[str, FieldValue]]
    fields: dict[str, Mapping[str, FieldValue]]  # ITSM fields of every record changed this cycle

    def record_fields(self, record_id: str) -> Mapping[str, FieldValue]:
        """The record's ITSM fields when it changed this cycle; empty otherwise (only those are fetched)."""
        return self.fields.get(record_id, {})

    def unknown_fields_hint(self, record_id: str) -> str:
        if record_id in self.fields:
            return ""
        return (" (the record did not change this cycle, so its ITSM fields were not fetched: templates "
                "Jira→ITSM can only use the record's fields for records that changed)")

    def synced_record(self, record_id: str) -> Mapping[str, FieldValue]:
        item = self.state.record_state(record_id)
        return item.fields if item is not None else {}

    def synced_record_state(self, record_id: str) -> str | None:
        item = self.state.record_state(record_id)
        return item.status if item is not None else None

    def record_value(self, record_id: str, key: str) -> FieldValue:
        if record_id in self.projections:
            return self.projections[record_id][key]
        return self.synced_record(record_id).get(key)

    def record_status(self, record_id: str) -> str | None:
        for record in self.changed:
            if record.ref.id == record_id and record.status is not None:
                return record.status
        return self.synced_record_state(record_id)

    def issue_value(self, key: str) -> FieldValue:
        if self.issue is not None and key in self.issue.fields:
            return self.issue.fields[key]
        return self.state.issue.fields.get(key)

    def issue_status(self) -> str | None:
        if self.issue is not None and self.issue.status is not None:
            return self.issue.status
        return self.state.issue.status


__all__ = ["STATUS", "LinkContext", "Updates", "Write", "is_mirror", "issue_view", "project", "within_field_limits",
           "within_itsm_limit", "written_projection"]
