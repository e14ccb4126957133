"""``bridge resync``: forget one link's synced values and re-plan it from both sides' current state.

Split from :mod:`bridge.sync.cycle` (whose helpers it uses): a resync is a cycle of one link, read with
``get`` and every comment instead of the change search, and it never moves a cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import cast

import structlog

from bridge.core.state import Changes, ItemState, LinkState, PlanInput, index_links
from bridge.errors import StoreError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, Issue, Link, Record
from bridge.sync import refusals
from bridge.sync.cycle import CycleReport, _executor, _measured, _record_problems, itsm_fields, jira_fields
from bridge.sync.engine import Engine
from bridge.sync.itsm_limits import itsm_limits_for
from bridge.sync.pending import unplannable_keys
from bridge.sync.people import people_for
from bridge.sync.planner import Plan, plan
from bridge.sync.watermarks import held_items, mark_processed

log = get_logger(__name__)


def plan_resync(engine: Engine, ref: str) -> CycleReport:
    """``bridge resync REF --dry-run``: what :func:`resync_link` would do, writing nothing anywhere (the
    plan as if the link's synced values were forgotten)."""
    link, spec = _resync_target(engine, ref)
    report = CycleReport(spec.name, uuid.uuid4().hex[:12], dry_run=True)
    with structlog.contextvars.bound_contextvars(cycle=report.cycle_id, mapping=spec.name, link=link.id):
        with _measured(engine, report):
            records, issue, comments = _read_link(engine, spec, link, report)
            state = engine.store.link_state(link.id)
            assert state is not None
            forgotten = {rid: ItemState(item.ref) for rid, item in state.records.items()}
            state = LinkState(state.link, ItemState(state.issue.ref), forgotten, state.comments)
            overridden = refusals.overridden(engine.store, spec.name, link.id, link.records)
            _plan_link(engine, spec, state, records, issue, comments, report,
                       plannable=frozenset(e.key for e in overridden))
        log.info("link resync planned", link=link.id, actions=report.actions_by_kind)
    return report


def resync_link(engine: Engine, ref: str) -> CycleReport:
    """``bridge resync REF``: forget the synced values of one link and re-plan it from both sides'
    current state (read with ``get`` and every comment). Comment pairs are kept, so nothing already
    mirrored is mirrored again. Cursors are not touched. (To see it first: :func:`plan_resync`.)"""
    link, spec = _resync_target(engine, ref)
    report = CycleReport(spec.name, uuid.uuid4().hex[:12])
    with structlog.contextvars.bound_contextvars(cycle=report.cycle_id, mapping=spec.name, link=link.id):
        with _measured(engine, report):
            executor = _executor(engine, spec)
            report.reconciled = executor.reconcile()
            records, issue, comments = _read_link(engine, spec, link, report)
            # The operator asks for this link now: refused actions of it do not hold the plan back.
            engine.store.journal_archive([e.id for e in refusals.overridden(engine.store, spec.name, link.id,
                                                                             link.records)])
            engine.store.forget_synced(link.id)
            state = engine.store.link_state(link.id)
            assert state is not None
            the_plan, by_record, by_issue = _plan_link(engine, spec, state, records, issue, comments, report)
            _record_problems(engine, spec, the_plan, [*records, issue])
            report.acknowledged = engine.store.acknowledge(spec.name, the_plan.acknowledgements)
            report.outcomes = executor.execute(the_plan.actions)
            held = held_items([*report.reconciled, *report.outcomes], by_record, by_issue)
            mark_processed(engine, spec, records, [issue], held)
        log.info("link resynced", link=link.id, actions=report.actions_by_kind, outcomes=report.outcomes_by_status)
    return report


def _resync_target(engine: Engine, ref: str) -> tuple[Link, MappingSpec]:
    link = engine.store.find_link(ref)
    if link is None:
        raise StoreError(f"no link found for {ref!r} (give a link id, an issue key or a record key)")
    return link, engine.mapping(link.mapping)


def _read_link(
    engine: Engine, spec: MappingSpec, link: Link, report: CycleReport
) -> tuple[list[Record], Issue, dict[str, list[Comment]]]:
    """Both sides' current state of one link: its items (``get``) and every comment of them."""
    records = cast(list[Record], [engine.itsm.get(r, itsm_fields(spec)) for r in link.records])
    issue = cast(Issue, engine.jira.get(link.issue, jira_fields(spec)))
    report.records_seen = report.records_changed = len(records)
    report.issues_seen = report.issues_changed = 1
    comments = engine.itsm.comments_since([r.ref for r in records], None)
    comments.update(engine.jira.comments_since([issue.ref], None))
    return records, issue, comments


def _plan_link(
    engine: Engine,
    spec: MappingSpec,
    state: LinkState,
    records: list[Record],
    issue: Issue,
    comments: Mapping[str, Sequence[Comment]],
    report: CycleReport,
    *,
    plannable: frozenset[str] = frozenset(),
) -> tuple[Plan, dict[str, LinkState], dict[str, LinkState]]:
    by_record, by_issue = index_links([state])
    the_plan = plan(
        spec,
        PlanInput(
            changes=Changes(records=records, issues=[issue], comments=comments),
            links_by_record=by_record,
            links_by_issue=by_issue,
            pending_keys=unplannable_keys(engine.store, spec.name) - plannable,
            jira_system=engine.jira.display_name,
            itsm_system=engine.itsm.display_name,
            people=people_for(engine, spec, records),
            itsm_limits=itsm_limits_for(engine, spec),
        ),
    )
    report.actions = list(the_plan.actions)
    report.problems = [f"{p.item.key}: {p.message}" for p in the_plan.problems]
    return the_plan, by_record, by_issue


__all__ = ["plan_resync", "resync_link"]
