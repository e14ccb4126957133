"""``bridge adopt``: rebuild the state store from the vendors, all at once (docs/operations.md §11).

The cycle adopts a record's existing issue when the record changes (:mod:`bridge.sync.adoption`); after a
lost or restored database, an operator may rather rebuild every link at once, before the daemon runs
again. :func:`adopt_mapping` reads every record the mapping's route selects, every record whose
back-reference names an issue of the mapping (a linked record that has left the route since keeps its
link: the change search returns it by its back-reference field, in the same query) and every issue
carrying the mapping's label (one full search per side), pairs them by marker and back-reference with
the same pure rules as the planner, and records the adoptions (links, current values, comment pairs) through
the executor, so they are journaled like any action. It writes nothing to either vendor; with
``dry_run`` it writes nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from bridge.core.actions import AdoptIssue
from bridge.core.state import Changes, Partners, PlanInput
from bridge.errors import NotFoundError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Comment, Issue, Record, Ref, Side
from bridge.sync.adoption import back_reference_key
from bridge.sync.cycle import _executor, itsm_fields, jira_fields
from bridge.sync.engine import Engine
from bridge.sync.executor import Outcome
from bridge.sync.planner import plan

log = get_logger(__name__)

#: records handled per step (one comment read per side per step): bounds memory and shows progress
STEP = 50


@dataclass
class AdoptReport:
    """What ``bridge adopt`` found for one mapping."""

    mapping: str
    records: int = 0
    issues: int = 0
    known: int = 0
    adopted: list[AdoptIssue] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unmatched: int = 0
    failed: list[str] = field(default_factory=list)


def adopt_mapping(
    engine: Engine, spec: MappingSpec, *, dry_run: bool, progress: Callable[[str], None] = lambda _: None
) -> AdoptReport:
    """Adopt every existing issue of ``spec`` whose record has no stored link (see the module docstring)."""
    report = AdoptReport(spec.name)
    issues = [cast(Issue, i) for i in engine.jira.search_changed(spec, None, jira_fields(spec))]
    by_marker: dict[str, list[Issue]] = {}
    by_key: dict[str, Issue] = {}
    for issue in issues:
        by_key[issue.ref.key] = issue
        if issue.back_reference:
            by_marker.setdefault(issue.back_reference, []).append(issue)
    records: list[Record] = []
    outside = 0
    for found in engine.itsm.search_changed(spec, None, itsm_fields(spec)):
        record = cast(Record, found)
        if matches(spec.route.where, record.fields):
            records.append(record)
        elif back_reference_key(record) in by_key:  # left the route since it was linked: still this mapping's
            records.append(record)
            outside += 1
    report.records, report.issues = len(records), len(issues)
    progress(f"{spec.name}: {len(records)} record(s) selected ({outside} outside the route, by back-reference), "
             f"{len(issues)} issue(s) labelled {spec.links.jira_label}")
    # the records are chosen above; the planner must not drop those that left the route
    unrouted = spec.model_copy(update={"route": spec.route.model_copy(update={"where": None})})
    store = engine.store
    unlinked: list[Record] = []
    owners = store.record_owners(r.ref.id for r in records)
    for record in records:
        if owners.get(record.ref.id) not in (None, spec.name):
            report.known += 1  # one record, one link: another mapping linked it
        elif store.link_for_record(spec.name, record.ref.id) is not None:
            report.known += 1
        else:
            unlinked.append(record)
    executor = None if dry_run else _executor(engine, spec)
    for start in range(0, len(unlinked), STEP):
        chunk = unlinked[start : start + STEP]
        partners: dict[str, Partners] = {}
        for record in chunk:
            named: Issue | None = None
            key = back_reference_key(record)
            if key is not None:
                named = by_key.get(key) or _get(engine, spec, key)
            marked = tuple(by_marker.get(record.ref.token, ()))
            if marked or named is not None:
                partners[record.ref.id] = Partners(marked, named)
        report.unmatched += len(chunk) - len(partners)
        comments: dict[str, list[Comment]] = {}
        candidates = [r.ref for r in chunk if r.ref.id in partners]
        if candidates:
            comments.update(engine.itsm.comments_since(candidates, None))
            issue_refs = {
                i.ref.id: i.ref
                for p in partners.values()
                for i in (*p.by_marker, *((p.by_back_reference,) if p.by_back_reference else ()))
            }
            comments.update(engine.jira.comments_since(list(issue_refs.values()), None))
        the_plan = plan(
            unrouted,
            PlanInput(
                changes=Changes(records=[r for r in chunk if r.ref.id in partners], issues=[], comments=comments),
                jira_system=engine.jira.display_name,
                itsm_system=engine.itsm.display_name,
                partners=partners,
            ),
        )
        adoptions = [a for a in the_plan.actions if isinstance(a, AdoptIssue)]
        report.conflicts += [f"{p.item.key}: {p.message}" for p in the_plan.problems]
        if not dry_run and the_plan.problems:
            for problem in the_plan.problems:
                store.report_problem(spec.name, f"problem:{spec.name}:{problem.item.side.value}:{problem.item.id}",
                                     "plan_problem", problem.message, item_ref=problem.item.key)
        if executor is not None and adoptions:
            for outcome in executor.execute(adoptions):
                if outcome.status in (Outcome.DONE, Outcome.SKIPPED):
                    report.adopted.append(cast(AdoptIssue, outcome.action))
                else:
                    report.failed.append(f"{outcome.action.describe()}: {outcome.message or outcome.status}")
        else:
            report.adopted += adoptions
        progress(f"{spec.name}: {min(start + STEP, len(unlinked))}/{len(unlinked)} record(s) without a link examined, "
                 f"{len(report.adopted)} adopted, {len(report.conflicts)} conflict(s)")
    log.info("adoption finished", mapping=spec.name, adopted=len(report.adopted), known=report.known,
             conflicts=len(report.conflicts), dry_run=dry_run)
    return report


def _get(engine: Engine, spec: MappingSpec, key: str) -> Issue | None:
    """The issue a back-reference names when the label search did not return it (it lost the label)."""
    try:
        issue = cast(Issue, engine.jira.get(Ref(Side.JIRA, "issue", key, key), jira_fields(spec)))
    except NotFoundError:
        return None
    return issue if issue.ref.key == key else None


__all__ = ["AdoptReport", "adopt_mapping"]
