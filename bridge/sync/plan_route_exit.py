"""The planner's part for a linked record that stops matching its route (``links.on_route_exit``).

A mixin of :class:`bridge.sync.planner._Planner`, pure like all of the planner. With ``keep`` (the
default) nothing happens here: the link is the contract, and the route only decides what is escalated.
With ``detach`` the record's link is closed after this cycle's changes of it are synced: two
:class:`~bridge.core.actions.CloseLink` notes ("no longer synced: <why>"), one on the issue and one on
the record, each naming the route field that changed and its new value, so people on both sides see why
their edits stop flowing. Only that record leaves: an issue several records share stays linked to the
others. The notes carry markers (never mirrored; found again after a crash) and their keys name the
link and both items, so a detach is planned and journaled once. With a ``linked_count_*`` option the
issue's count is shown again without the record that left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridge.core.actions import Action, CloseLink
from bridge.core.state import LinkState, PlanInput
from bridge.mapping.schema import AllOf, Condition, FieldCondition
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import RouteTimeout, condition_fields, selects
from bridge.model import Record, Ref
from bridge.sync.recount import recount


def _shown(value: Any) -> str:
    if value is None or value == "" or value == () or value == []:
        return "empty"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return repr(value) if isinstance(value, str) else str(value)


def exit_reason(condition: Condition, fields: Mapping[str, Any]) -> str:
    """Why ``fields`` fail ``condition``, in the record's terms: the field(s) that changed and their value.

    Under ``all:`` the first failing branch says it; a failing ``any:`` or ``not:`` names every field it
    reads (any of them may be the one that changed).
    """
    if isinstance(condition, AllOf):
        for child in condition.all:
            try:
                if not selects(child, fields):
                    return exit_reason(child, fields)
            except RouteTimeout:
                continue
    if isinstance(condition, FieldCondition):
        return f"{condition.field} is now {_shown(fields.get(condition.field))}"
    return ", ".join(f"{name} is now {_shown(fields.get(name))}" for name in sorted(condition_fields(condition)))


class RouteExitPlanning:
    """What :class:`~bridge.sync.planner._Planner` plans when a linked record leaves its route."""

    mapping: MappingSpec
    given: PlanInput

    if TYPE_CHECKING:
        def emit(self, action: Action) -> None: ...

    def plan_route_exit(self, state: LinkState, records: Mapping[str, Record]) -> None:
        """With ``links.on_route_exit: detach``: close the link of each changed record of ``state`` that
        the route no longer selects, with a note on both sides (planned after the link's other actions)."""
        where = self.mapping.route.where
        if self.mapping.links.on_route_exit != "detach" or where is None:
            return
        for ref in state.link.records:
            record = records.get(ref.id)
            if record is None:
                continue
            try:
                if selects(where, record.fields):
                    continue
            except RouteTimeout:
                continue  # unknown: keep syncing rather than detach on a guess
            self.detach(state, record, exit_reason(where, record.fields))

    def detach(self, state: LinkState, record: Record, why: str) -> None:
        issue: Ref = state.link.issue
        name = self.mapping.name
        reason = f"no longer synced: {record.ref.key} left the route of mapping {name} ({why})"
        self.emit(CloseLink(
            name, state.link.id, notice=issue, gone=record.ref, reason=reason,
            body=f"{record.ref.key} no longer synced: {why} in {self.given.itsm_system}, so it left the route "
                 f"of mapping {name}; bridge stops syncing this issue with it.",
            channel="comment", leaving=record.ref,
        ))
        self.emit(CloseLink(
            name, state.link.id, notice=record.ref, gone=issue, reason=reason,
            body=f"No longer synced with {issue.key}: {why}, so this record left the route of mapping {name}; "
                 f"bridge stops syncing it with {self.given.jira_system}.",
            channel=self.mapping.comments.to_itsm_channel, leaving=record.ref,
        ))
        shown = recount(self.mapping, state.link)
        if shown is not None:  # the issue's count of linked records drops (counted again when it runs)
            self.emit(shown)


__all__ = ["RouteExitPlanning", "exit_reason"]
