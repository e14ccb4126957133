"""The attachment pass of a cycle: list the files of the changed links' items, plan, apply.

Run after the cycle's other actions, so a record escalated in this cycle already has its issue and
link. Reads one file list per item of each touched link (both sides: the copy direction needs both to
recognise copies), plans with the pure :func:`bridge.sync.plan_attachments.plan_attachments` and applies
through the cycle's executor (journaled like every action). Off unless the mapping has ``attachments:``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bridge.core.actions import Action
from bridge.core.attachments import Attachment
from bridge.errors import ConnectorError, NotFoundError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Ref, Side
from bridge.sync.executor import ActionOutcome, Executor
from bridge.sync.plan_attachments import plan_attachments

if TYPE_CHECKING:
    from bridge.sync.cycle import CycleReport
    from bridge.sync.engine import Engine

log = get_logger(__name__)


def sync_attachments(
    engine: Engine, spec: MappingSpec, executor: Executor, records: Sequence[Item], issues: Sequence[Item],
    report: CycleReport | None = None,
) -> list[ActionOutcome]:
    """Copy the files of the links that ``records`` and ``issues`` (the cycle's changed items) belong to;
    the actions and their outcomes are added to ``report``."""
    actions = attachment_actions(engine, spec, records, issues)
    outcomes = executor.execute(actions) if actions else []
    if report is not None:
        report.actions = [*report.actions, *actions]
        report.outcomes = [*report.outcomes, *outcomes]
    return outcomes


def attachment_actions(
    engine: Engine, spec: MappingSpec, records: Sequence[Item], issues: Sequence[Item]
) -> list[Action]:
    """The copies and notes the links of ``records`` and ``issues`` need, reading file lists only: what
    :func:`sync_attachments` applies, and what ``bridge plan`` shows without applying it."""
    rules = spec.attachments
    if rules is None or rules.direction == "none":
        return []
    record_ids = [r.ref.id for r in records] + _with_new_files(engine, spec)
    if not record_ids and not issues:
        return []
    states = engine.store.load_link_states(spec.name, record_ids, [i.ref.id for i in issues])
    actions: list[Action] = []
    for state in states:
        link = state.link
        if link.closed is not None:
            continue
        issue_files = _files(engine.jira.list_attachments, link.issue)
        listed = [(record, _files(engine.itsm.list_attachments, record)) for record in link.records]
        if issue_files is None or any(files is None for _, files in listed):
            continue
        actions.extend(plan_attachments(
            spec, link.id, link.issue, issue_files, [(r, files or []) for r, files in listed],
            engine.store.attachment_pairs(link.id),
        ))
    return actions


def _with_new_files(engine: Engine, spec: MappingSpec) -> list[str]:
    """Records that got a file since the ITSM cursor (less the overlap) without changing otherwise."""
    cursor = engine.store.get_cursor(spec.name, Side.ITSM)
    if cursor is None:
        return []
    try:
        return engine.itsm.attachment_parents_since(spec, cursor - engine.options.overlap)
    except ConnectorError as exc:
        log.warning("could not look for records with new files", mapping=spec.name, error=str(exc))
        return []


def _files(listing: object, ref: Ref) -> list[Attachment] | None:
    """The files of ``ref``, or ``None`` (logged) when they cannot be read now: the next cycle tries again."""
    try:
        return list(listing(ref))  # type: ignore[operator]
    except NotFoundError:
        return None
    except ConnectorError as exc:
        log.warning("could not list the files of an item", item=ref.key, error=str(exc))
        return None


__all__ = ["attachment_actions", "sync_attachments"]
