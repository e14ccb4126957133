"""One cycle of one mapping: reconcile → fetch → plan → execute → advance cursors.

:func:`run_cycle` is the only way bridge syncs: ``bridge sync --once`` calls it for each mapping, the
daemon calls it on a schedule. :func:`plan_cycle` is steps 2-4 without any write (no lock, no
reconciliation, no execution, no cursor): what ``bridge plan`` shows.

1. **Reconcile** the journal's pending actions first (a crash, a transient failure): nothing new is
   planned on top of an action whose fate is unknown.
2. **Fetch** the changes of each side since its cursor minus an overlap window (default 2 minutes):
   ONE search per side, whatever the number of links. Items whose ``(id, version)`` was already
   processed are dropped here, so the overlap costs nothing further. During a backlog the searches start
   where the last cycle's reached, and the changes it left out are read by id (:mod:`bridge.sync.carryover`).
3. **Comments** of the changed items only, one batched read per side (new records: all their comments).
4. **Load** the stored state of the links those items belong to (never of all links), then **plan**
   (pure) and **execute** (the only writer).
5. **Advance the cursors** past every change whose actions are done or on the error list; an item with
   an action still pending holds its side's cursor at its ``updated`` time, so it is read again.

An idle cycle therefore costs exactly one search call per side per mapping, with 10 links or 100,000.

Safety rail: a full read (no cursor) that returns nothing on a side while the mapping has links is a
:class:`~bridge.errors.SafetyRailError`, never "everything was deleted".
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import cast

import structlog

from bridge.connectors.base import Connector
from bridge.connectors.unreadable import Unreadable
from bridge.core.actions import Action, CreateIssue, LinkExisting
from bridge.core.state import Changes, LinkState, PlanInput, index_links
from bridge.errors import LockHeldError, NotFoundError, SafetyRailError, StoreError
from bridge.logging import get_logger
from bridge.mapping.introspect import itsm_fields_needed, jira_fields_needed
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Comment, Issue, Item, Record, Ref, Side
from bridge.sync import carrying, refusals
from bridge.sync.attachments import attachment_actions, sync_attachments
from bridge.sync.budget import deferred_sides, link_states, precut, within_budget
from bridge.sync.carryover import Carried, measure
from bridge.sync.deadline import CycleStop, not_run_by_deadline
from bridge.sync.engine import Engine
from bridge.sync.executor import ActionOutcome, Executor, Outcome
from bridge.sync.first_start import backfill_note, first_start, left_out_note
from bridge.sync.itsm_limits import itsm_limits_for
from bridge.sync.partners import partner_issues, partners_for, search_covers
from bridge.sync.pending import unplannable_keys
from bridge.sync.people import people_input
from bridge.sync.planner import Plan, plan
from bridge.sync.reading import SideRead, read_side, whole_units
from bridge.sync.rejoin import strays
from bridge.sync.watermarks import held_items, mark_processed, processed, windows
from bridge.vendors import system_of

log = get_logger(__name__)

@dataclass
class CycleReport:
    """What one cycle saw and did; logged as the cycle summary and printed by the CLI."""

    mapping: str
    cycle_id: str
    dry_run: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration: float = 0.0
    records_seen: int = 0
    issues_seen: int = 0
    records_changed: int = 0
    issues_changed: int = 0
    actions: list[Action] = field(default_factory=list)
    outcomes: list[ActionOutcome] = field(default_factory=list)
    reconciled: list[ActionOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: what people should know that is not an error (e.g. closed history left out at the first start)
    notes: list[str] = field(default_factory=list)
    #: records the route selects that were left out as closed history (:mod:`bridge.sync.first_start`)
    left_out: int = 0
    acknowledged: int = 0
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    cursors: dict[str, datetime | None] = field(default_factory=dict)
    #: changed items the cycle's action budget left for the next cycle (:mod:`bridge.sync.budget`)
    deferred: int = 0
    #: a mini-cycle of hinted items (:mod:`bridge.sync.hinted`), not a search since the cursors
    hinted: bool = False

    @property
    def actions_by_kind(self) -> dict[str, int]:
        return dict(Counter(a.kind for a in self.actions))

    @property
    def outcomes_by_status(self) -> dict[str, int]:
        return dict(Counter(o.status for o in [*self.reconciled, *self.outcomes]))

    @property
    def errors(self) -> int:
        """New entries on the error list: failed actions, reported conflicts, planning problems."""
        failed = sum(1 for o in [*self.reconciled, *self.outcomes] if o.status in (Outcome.FAILED, Outcome.REPORTED))
        return failed + len(self.problems)

    @property
    def pending(self) -> int:
        return sum(1 for o in [*self.reconciled, *self.outcomes] if o.holds_cursor)

    def calls_total(self, side: Side) -> int:
        return sum(self.calls.get(side.value, {}).values())


# ------------------------------------------------------------------------------------------ fields


#: the ServiceNow field naming the record a duplicate points at (``links.follow_duplicate_of``)
DUPLICATE_OF = "duplicate_of"


def itsm_fields(mapping: MappingSpec) -> list[str]:
    """The ITSM fields a cycle fetches (see :func:`bridge.mapping.introspect.itsm_fields_needed`)."""
    extra = {DUPLICATE_OF} if mapping.links.follow_duplicate_of else set()
    return sorted(itsm_fields_needed(mapping) | extra)


def jira_fields(mapping: MappingSpec) -> list[str]:
    """The Jira fields a cycle fetches (see :func:`bridge.mapping.introspect.jira_fields_needed`)."""
    return sorted(jira_fields_needed(mapping))


# ------------------------------------------------------------------------------------------ cycle


def plan_cycle(engine: Engine, mapping: MappingSpec | str, *, since: datetime | None = None) -> CycleReport:
    """What a cycle of ``mapping`` would do now, writing nothing anywhere (``bridge plan``).

    No lock is taken and nothing is reconciled, executed or remembered: the report lists the planned
    actions and the planning problems. ``since`` replays a window (backfill).
    """
    spec = engine.mapping(mapping) if isinstance(mapping, str) else mapping
    report = CycleReport(spec.name, uuid.uuid4().hex[:12], dry_run=True)
    with structlog.contextvars.bound_contextvars(cycle=report.cycle_id, mapping=spec.name):
        with _measured(engine, report):
            seen = _read(engine, spec, report, since, known=engine.store.first_seen(spec.name) is not None)
            if seen.changed_records or seen.changed_issues:
                _plan(engine, spec, seen, report, first_seen=engine.store.first_seen(spec.name), since=since)
            report.actions += attachment_actions(engine, spec, seen.changed_records, seen.changed_issues)
        _log_summary("dry run finished", report)
    return report


def run_cycle(engine: Engine, mapping: MappingSpec | str, *, since: datetime | None = None) -> CycleReport:
    """Run one cycle of ``mapping`` (see the module docstring). ``since`` replays a window (backfill)."""
    spec = engine.mapping(mapping) if isinstance(mapping, str) else mapping
    report = CycleReport(spec.name, uuid.uuid4().hex[:12])
    with structlog.contextvars.bound_contextvars(cycle=report.cycle_id, mapping=spec.name):
        # The lock first: a standby replica's attempt is not a cycle, and must not show in its
        # metrics as a failed one (that would page about a replica working as intended).
        try:
            engine.lead(spec.name)
        except LockHeldError:
            if engine.metrics is not None:
                engine.metrics.leader(spec.name, False)
            raise
        if engine.metrics is not None:
            engine.metrics.cycle_started(spec.name)
        ok = False
        try:
            with _measured(engine, report):
                _cycle(engine, spec, report, since=since)
                ok = True
        finally:
            _record_status(engine, spec, ok=ok)
            if engine.metrics is not None:
                _record_metrics(engine, spec, report, ok=ok)
        _log_summary("cycle finished", report)
    return report


@contextmanager
def _measured(engine: Engine, report: CycleReport) -> Iterator[None]:
    """Put the duration and the vendor calls of the block into ``report`` (also when it fails)."""
    started = time.monotonic()
    before = {side: engine.connectors[side].calls.snapshot() for side in Side}
    try:
        yield
    finally:
        report.duration = time.monotonic() - started
        report.calls = {side.value: engine.connectors[side].calls.since(before[side]) for side in Side}


def _log_summary(event: str, report: CycleReport) -> None:
    log.info(
        event,
        records_seen=report.records_seen,
        issues_seen=report.issues_seen,
        records_changed=report.records_changed,
        issues_changed=report.issues_changed,
        actions=report.actions_by_kind,
        outcomes=report.outcomes_by_status,
        errors=report.errors,
        pending=report.pending,
        deferred=report.deferred,
        calls_itsm=report.calls_total(Side.ITSM),
        calls_jira=report.calls_total(Side.JIRA),
        calls=report.calls,
        duration_ms=round(report.duration * 1000),
        dry_run=report.dry_run,
    )


#: executor outcome -> the closed set of outcomes :meth:`bridge.metrics.Metrics.action` accepts
_METRIC_OUTCOMES = {
    Outcome.DONE: "done", Outcome.SKIPPED: "skipped", Outcome.FAILED: "failed", Outcome.REPORTED: "failed"
}


def _record_status(engine: Engine, spec: MappingSpec, *, ok: bool) -> None:
    """Store when the cycle ended and whether it finished (one-shot runs seed their metrics from it)."""
    try:
        engine.store.record_cycle(spec.name, ok, retention=engine.options.journal_retention)
    except StoreError as exc:
        log.warning("could not store the mapping's last cycle", error=str(exc))


def _record_metrics(engine: Engine, spec: MappingSpec, report: CycleReport, *, ok: bool) -> None:
    """Hand the cycle's figures to the metrics (a failure here never fails the cycle)."""
    metrics = engine.metrics
    assert metrics is not None
    try:
        metrics.cycle_finished(spec.name, report.duration, ok)
        for outcome in [*report.reconciled, *report.outcomes]:
            metrics.action(spec.name, type(outcome.action).__name__, _METRIC_OUTCOMES.get(outcome.status, "pending"))
        for side in Side:
            metrics.record_calls(side.value, engine.connectors[side].calls)
        if engine.store.held_lock(spec.name) is not None:
            metrics.leader(spec.name, True)
        metrics.links(spec.name, engine.store.link_count(spec.name))
        metrics.pending_actions(spec.name, engine.store.journal_counts(spec.name).get("pending", 0))
        metrics.record_store(engine.store, [spec.name])
    except StoreError as exc:
        log.warning("could not read the figures for the metrics", error=str(exc))


def _executor(engine: Engine, spec: MappingSpec) -> Executor:
    executor = Executor(
        engine.store,
        engine.connectors,
        spec,
        lock=engine.lead(spec.name),
        stop=CycleStop(engine.stop, engine.options.cycle_seconds, lambda: engine.clock().timestamp()),
        clock=engine.clock,
        backoff_base=engine.options.backoff_base,
        backoff_cap=engine.options.backoff_cap,
        jira_fields=jira_fields(spec),
        parallel_sides=engine.options.parallel_sides,
        workers_per_side=engine.options.workers_per_side,
    )
    executor.progress = engine.progress
    executor.work_dir = engine.options.work_dir
    return executor


@dataclass
class _Seen:
    """What a cycle read: every item since the cursors, the changed ones and the links they belong to."""

    cursors: dict[Side, datetime | None]
    window: dict[Side, datetime | None]
    records: list[Record]
    issues: list[Issue]
    by_record: dict[str, LinkState]
    by_issue: dict[str, LinkState]
    changed_records: list[Record]
    changed_issues: list[Issue]
    unreadable: list[Unreadable] = field(default_factory=list)
    #: the vendor's time of each side's search (its first response's ``Date``; else the engine's clock)
    searched: dict[Side, datetime] = field(default_factory=dict)
    #: ``links.follow_duplicate_of``: changed records marked a duplicate, with the id they duplicate;
    #: never planned (not even escalated), the executor follows them instead
    duplicates: list[tuple[Record, str]] = field(default_factory=list)
    #: comments read beyond the window (items ``bridge retry`` asked to read again)
    comments: dict[str, list[Comment]] = field(default_factory=dict)
    #: changed items the reading left for later cycles, by side (:mod:`bridge.sync.reading`)
    left_out: dict[Side, set[str]] = field(default_factory=dict)
    #: the Jira search covered everything since the stored cursor (:func:`bridge.sync.partners.search_covers`)
    jira_covered: bool = False
    #: how the searches ran: the carried backlog, the budget (:mod:`bridge.sync.carrying`)
    searches: carrying.Searches | None = None
    #: the dropped changes, to read by id later (:mod:`bridge.sync.carryover`)
    dropped: list[Carried] = field(default_factory=list)
    overflow: set[Side] = field(default_factory=set)


def _read(
    engine: Engine, spec: MappingSpec, report: CycleReport, since: datetime | None, hinted: Sequence[Ref] = (),
    known: bool = False, carry: bool = False,
) -> _Seen:
    """Steps 2 and 4a: the changes of both sides since their cursors, and the stored state of their links.
    ``hinted``: read only these items, by id (a mini-cycle, :mod:`bridge.sync.hinted`), not the searches.
    ``carry``: use and later update the backlog carried from the last cycle (:mod:`bridge.sync.carryover`)."""
    store = engine.store
    cursors = {side: store.get_cursor(spec.name, side) for side in Side}
    report.cursors = {side.value: value for side, value in cursors.items()}
    window = windows(engine, spec, since, cursors, known=known)
    # The ITSM connector reads records and the Jira connector issues (the connector contract). Each
    # search is consumed as it is paged, a chunk at a time (bridge.sync.reading: bounded memory).
    searched: dict[Side, datetime] = {}
    searches = carrying.begin(engine, spec, cursors, window, since, carrying=carry and not hinted)
    limit, cap = None if hinted else searches.limit, engine.backlog(spec.name).cap
    if hinted:
        itsm = read_side(_read_hinted(engine.itsm, [r for r in hinted if r.side is Side.ITSM], itsm_fields(spec)),
                         lambda chunk: _changed_records(engine, spec, chunk), None)
        jira = read_side(_read_hinted(engine.jira, [r for r in hinted if r.side is Side.JIRA], jira_fields(spec)),
                         lambda chunk: _changed_issues(engine, spec, chunk), None)
    else:
        # the carried items first (read by id), then each side's search (from the carried position, if any);
        # with parallel sides the ITSM side is paged in a thread meanwhile (its classifying, which may ask
        # Jira about strays, waits for the Jira search: one thread per connector at a time)
        stream = carrying.stream(engine, spec, searches, Side.ITSM, itsm_fields(spec))
        ahead = carrying.ReadAhead(stream) if engine.options.parallel_sides else None
        try:
            if ahead is None:
                itsm = read_side(stream, lambda chunk: _changed_records(engine, spec, chunk), limit, cap)
            jira = read_side(carrying.stream(engine, spec, searches, Side.JIRA, jira_fields(spec)),
                             lambda chunk: _changed_issues(engine, spec, chunk), limit, cap)
            if ahead is not None:
                itsm = read_side(ahead.items(), lambda chunk: _changed_records(engine, spec, chunk), limit, cap)
        finally:
            if ahead is not None:
                ahead.close()
        searched[Side.ITSM] = engine.itsm.calls.window_time or engine.clock()
        searched[Side.JIRA] = engine.jira.calls.window_time or engine.clock()
    covered = search_covers(cursors[Side.JIRA], carrying.query_start(engine, searches, Side.JIRA), since,
                            hinted=bool(hinted), complete=not jira.dropped and not jira.unreadable)
    whole_units([itsm, jira], carrying.waiting(searches))
    # Items a connector could not parse never reach the planner: they go on the error list (_cycle).
    unreadable = [*itsm.unreadable, *jira.unreadable]
    report.records_seen, report.issues_seen = itsm.seen, jira.seen
    report.problems = [f"{u.ref.key}: cannot be read: {u.reason}" for u in unreadable]
    for side, read in ((Side.ITSM, itsm), (Side.JIRA, jira)):
        full_read = searches.windows[side] is None and not hinted
        nothing = not read.seen and not read.unreadable
        open_links = store.link_count(spec.name, open_only=True) if full_read and nothing else 0
        if open_links:
            raise SafetyRailError(
                f"the {side.value} side returned nothing for mapping {spec.name!r} on a full read while "
                f"{open_links} link(s) exist; refusing to treat that as everything deleted "
                "(check the account's permissions and the mapping's route)"
            )

    by_record, by_issue = index_links(link_states(itsm.states, jira.states))
    changed_records = cast(list[Record], itsm.changed)
    changed_issues = cast(list[Issue], jira.changed)
    # for the cursors: the changes kept, and the newest item each search returned
    records = cast(list[Record], _with_newest(itsm))
    issues = cast(list[Issue], _with_newest(jira))
    duplicates: list[tuple[Record, str]] = []
    if spec.links.follow_duplicate_of:
        duplicates = [(r, str(r.fields[DUPLICATE_OF])) for r in changed_records
                      if r.fields.get(DUPLICATE_OF) not in (None, "", r.ref.id)]
        marked = {r.ref.id for r, _ in duplicates}
        changed_records = [r for r in changed_records if r.ref.id not in marked]
    report.records_changed, report.issues_changed = len(changed_records), len(changed_issues)
    return _Seen(
        cursors, window, records, issues, by_record, by_issue, changed_records, changed_issues, unreadable, searched,
        duplicates, left_out={Side.ITSM: itsm.dropped, Side.JIRA: jira.dropped}, jira_covered=covered,
        searches=searches, dropped=[*itsm.left.values(), *jira.left.values()],
        overflow={side for side, read in ((Side.ITSM, itsm), (Side.JIRA, jira)) if read.overflow},
    )


def _changed_records(engine: Engine, spec: MappingSpec, chunk: list[Item]) -> tuple[list[Item], dict[str, LinkState]]:
    """The records of a chunk this mapping plans (owned, not of a closed link, not processed yet)."""
    records = cast(list[Record], chunk)
    by_record, _ = index_links(engine.store.load_link_states(spec.name, [r.ref.id for r in records], []))
    # Items of a closed link (deleted or merged away on the other side) are never planned again, not
    # even as new records to escalate: the link's closing is final.
    unlinked = [r.ref.id for r in records if r.ref.id not in by_record]
    closed = engine.store.closed_item_ids(spec.name, unlinked, []) if unlinked else set()
    owned = _owned(engine, spec, records, by_record)
    owned += strays(engine, spec, records, by_record, owned, jira_fields(spec))  # links the store forgot
    changed: list[Item] = [r for r in owned if r.ref.id not in closed and not processed(r, by_record.get(r.ref.id))]
    return changed, by_record


def _changed_issues(engine: Engine, spec: MappingSpec, chunk: list[Item]) -> tuple[list[Item], dict[str, LinkState]]:
    """The issues of a chunk with a link in this mapping whose change is not processed yet. An issue
    without a link here (another mapping's issue in the same project, one a person labelled) plans
    nothing: reading its comments would break the one-search idle cycle for nothing."""
    _, by_issue = index_links(engine.store.load_link_states(spec.name, [], [i.ref.id for i in chunk]))
    changed = [i for i in chunk if i.ref.id in by_issue and not processed(i, by_issue[i.ref.id])]
    return changed, by_issue


def _with_newest(read: SideRead) -> list[Item]:
    if read.newest is None or any(i.ref.id == read.newest.ref.id for i in read.changed):
        return list(read.changed)
    return [*read.changed, read.newest]


def _read_hinted(connector: Connector, refs: Sequence[Ref], fields: Sequence[str]) -> list[Item | Unreadable]:
    """The hinted items of one side in one batched read (an item gone since the hint is left out)."""
    return list(connector.get_many(refs, fields)) if refs else []


#: (mapping, record id, owning mapping) already logged as "linked by another mapping": logged once per process
_LOGGED_OWNERS: set[tuple[str, str, str]] = set()


def _owned(
    engine: Engine, spec: MappingSpec, records: Sequence[Record], by_record: Mapping[str, LinkState]
) -> list[Record]:
    """The records this mapping plans: its linked ones whatever the route says, and unlinked ones the
    route selects that no other mapping links.

    The searches return linked records outside the route (so a route exit does not freeze a link),
    which brings in records with a back-reference this mapping did not write: another mapping's links
    (one record has at most one link, across mappings — the owner keeps syncing it) and keys a person
    typed. Dropping them here keeps them from costing a comment read.
    """
    # the route is its system's table or queue AND its conditions: a search that also returns linked
    # records brings other queues' tickets (RT) that no condition of ``where`` excludes
    system = system_of(spec.route.record_type, spec.route.system)
    candidates = [
        r for r in records
        if r.ref.id not in by_record and matches(spec.route.where, r.fields)
        and (system == "jsm" or r.ref.kind == spec.route.record_type)
    ]
    owners = engine.store.record_owners([r.ref.id for r in candidates]) if candidates else {}
    selected = {r.ref.id for r in candidates}  # by id: ``in`` a list compared whole records, quadratic per chunk
    kept: list[Record] = []
    for record in records:
        if record.ref.id in by_record:
            kept.append(record)
            continue
        owner = owners.get(record.ref.id)
        if owner is not None and owner != spec.name:
            if (spec.name, record.ref.id, owner) not in _LOGGED_OWNERS:
                _LOGGED_OWNERS.add((spec.name, record.ref.id, owner))
                log.info("record matches this mapping's route but is linked by another mapping; that one "
                         "keeps syncing it", item=record.ref.key, owner=owner)
            continue
        if owner is None and record.ref.id in selected:
            kept.append(record)
    return kept


def _plan(
    engine: Engine,
    spec: MappingSpec,
    seen: _Seen,
    report: CycleReport,
    *,
    plannable: frozenset[str] = frozenset(),
    first_seen: datetime | None = None,
    since: datetime | None = None,
) -> Plan:
    """Steps 3 and 4b: the comments of the changed items, then the (pure) plan. ``plannable``: refused
    keys the planner may plan again (:mod:`bridge.sync.refusals`)."""
    comments = _comments(engine, seen.changed_records, seen.changed_issues, seen.by_record, seen.window)
    comments.update(seen.comments)
    partners = partners_for(engine, spec, [r for r in seen.changed_records if r.ref.id not in seen.by_record],
                            jira_fields(spec), covered=seen.jira_covered,
                            chain=partial(carrying.chain_markers, seen.searches) if seen.searches else None)
    partner_refs = {i.ref.id: i.ref for p in partners.values() for i in partner_issues(p)}
    if partner_refs:
        # Their mirrors prove which comments are paired already (one read per found issue, all history).
        comments.update(engine.jira.comments_since(list(partner_refs.values()), None))
    the_plan = plan(
        spec,
        PlanInput(
            changes=Changes(records=seen.changed_records, issues=seen.changed_issues, comments=comments),
            links_by_record=seen.by_record,
            links_by_issue=seen.by_issue,
            pending_keys=unplannable_keys(engine.store, spec.name) - plannable,
            first_start=first_start(spec, first_seen or engine.clock(), since),
            jira_system=engine.jira.display_name,
            itsm_system=engine.itsm.display_name,
            partners=partners,
            **people_input(engine, spec, seen.changed_records, seen.changed_issues),
            itsm_limits=itsm_limits_for(engine, spec),
        ),
    )
    report.actions = list(the_plan.actions)
    report.problems += [f"{p.item.key}: {p.message}" for p in the_plan.problems]
    report.left_out = len(the_plan.left_out)
    report.notes += the_plan.notes
    if since is not None:
        usual = first_start(spec, first_seen or engine.clock(), None)
        backfilled = {r.ref.id for r in seen.changed_records if r.ref.id not in seen.by_record and usual.leaves_out(r)}
        count = sum(
            1 for a in the_plan.actions if isinstance(a, CreateIssue | LinkExisting) and a.record.id in backfilled
        )
        if count:
            report.notes.append(backfill_note(count, since))
    if the_plan.left_out:
        report.notes.append(left_out_note(len(the_plan.left_out)))
        log.warning("closed records older than the first start left out", count=len(the_plan.left_out),
                    backfill="bridge sync --since DATE")
    return the_plan


def _cycle(
    engine: Engine, spec: MappingSpec, report: CycleReport, *, since: datetime | None, hinted: Sequence[Ref] = ()
) -> None:
    """``hinted``: a mini-cycle of these items only; it never moves a cursor (polling stays the truth)."""
    store = engine.store
    executor = _executor(engine, spec)
    known = store.first_seen(spec.name) is not None  # a mapping's first cycle reads everything (first start)
    first_seen = store.see_mapping(spec.name, engine.clock())
    requeued = refusals.take_requeued(store, spec.name) if not hinted else None
    report.reconciled = executor.reconcile()

    seen = _read(engine, spec, report, since, hinted, known, carry=not hinted)
    assert seen.searches is not None
    _record_unreadable(engine, spec, seen.unreadable)
    followed = [o for record, survivor in seen.duplicates for o in executor.follow_duplicate(record.ref, survivor)]
    if requeued:
        _read_again(engine, spec, seen, requeued)
    if not seen.changed_records and not seen.changed_issues:
        report.outcomes = followed
        if hinted:
            return
        sync_attachments(engine, spec, executor, [], [], report)  # a ServiceNow file changes no record
        stay = {side for side, ids in seen.left_out.items() if ids}
        idle = None if since is not None else _idle_marks(engine, seen)
        report.deferred = carrying.finish(engine, spec, seen.searches, seen.dropped, seen.records, seen.issues,
                                          seen.cursors, set(), stay, idle, overflow=seen.overflow)
        return

    release = refusals.release_changed(
        store, spec.name, [*seen.changed_records, *seen.changed_issues], seen.by_record, seen.by_issue,
        refused_now=[o.journal_id for o in report.reconciled if o.status is Outcome.FAILED and o.journal_id],
    )
    if release.reread:
        _read_again(engine, spec, seen, release.reread)
    changed: list[Item] = [*seen.changed_records, *seen.changed_issues]
    links = link_states(seen.by_record, seen.by_issue)
    later = precut(changed, links, seen.searches.limit)
    seen.changed_records = [r for r in seen.changed_records if r.ref.id not in later]
    seen.changed_issues = [i for i in seen.changed_issues if i.ref.id not in later]
    the_plan = _plan(engine, spec, seen, report, plannable=release.keys, first_seen=first_seen, since=since)
    planned: list[Item] = [*seen.changed_records, *seen.changed_issues]
    budgeted = within_budget(refusals.settle_unlinked(store, spec.name, the_plan.actions, release), planned,
                             links, seen.searches.budget)
    left_out = frozenset().union(*seen.left_out.values())
    budgeted = replace(budgeted, deferred=budgeted.deferred | later | left_out)
    report.actions, report.deferred = budgeted.actions, len(budgeted.deferred)
    if budgeted.deferred:
        report.notes.append(f"{report.deferred} changed item(s) left for the next cycle (a budget of "
                            f"{seen.searches.budget} actions, engine.cycle_budget = {engine.options.cycle_budget}); "
                            "they are read again, nothing is skipped")
    _record_problems(engine, spec, the_plan, planned)
    report.acknowledged = store.acknowledge(
        spec.name, [a for a in the_plan.acknowledgements if a.item_id not in budgeted.deferred]
    )
    if isinstance(executor.stop, CycleStop):
        executor.stop.grant()  # the newest units run first (budget), however long reading took
    writing = time.monotonic()
    report.outcomes = [*followed, *executor.execute(budgeted.actions, states=links)]
    if not hinted:  # the pace of a budgeted cycle sizes the next one's budget (bridge.sync.carryover)
        measure(engine.backlog(spec.name), budgeted=bool(budgeted.deferred), seconds=time.monotonic() - writing,
                applied=sum(1 for o in report.outcomes if o.status in (Outcome.DONE, Outcome.SKIPPED)),
                planned=len(the_plan.actions), items=len(planned))
    if cut := not_run_by_deadline(executor.stop, [*report.reconciled, *report.outcomes]):
        report.deferred += cut
        report.notes.append(f"{cut} action(s) left pending for the next cycle (engine.cycle_seconds = "
                            f"{engine.options.cycle_seconds:g} s); nothing is skipped")
    sync_attachments(engine, spec, executor, [r for r in seen.changed_records if r.ref.id not in budgeted.deferred],
                     [i for i in seen.changed_issues if i.ref.id not in budgeted.deferred], report)

    held = held_items([*report.reconciled, *report.outcomes], seen.by_record, seen.by_issue) | budgeted.deferred
    mark_processed(engine, spec, seen.changed_records, seen.changed_issues, held)
    if not hinted:
        left = carrying.left_behind(changed, held, {*seen.by_record, *seen.by_issue}, seen.dropped)
        carried = carrying.finish(
            engine, spec, seen.searches, left, seen.records, seen.issues, seen.cursors, held,
            deferred_sides(changed, budgeted.deferred) | {side for side, ids in seen.left_out.items() if ids},
            pending=held - budgeted.deferred, overflow=seen.overflow,
        )
        report.deferred = max(report.deferred, carried)


def _read_again(engine: Engine, spec: MappingSpec, seen: _Seen, wanted: refusals.Requeued) -> None:
    """Add the items ``bridge retry`` asked for to what the cycle read, as changed: their current data
    (``get``) and every comment (known ones are skipped by the planner), whatever the cursors say."""
    records = {r.ref.id: r for r in seen.changed_records}
    issues = {i.ref.id: i for i in seen.changed_issues}
    for ref in dict.fromkeys(wanted.records):
        if ref.id not in records:
            try:
                records[ref.id] = cast(Record, engine.itsm.get(ref, itsm_fields(spec)))
            except NotFoundError:
                continue
    for ref in dict.fromkeys(wanted.issues):
        if ref.id not in issues:
            try:
                issues[ref.id] = cast(Issue, engine.jira.get(ref, jira_fields(spec)))
            except NotFoundError:
                continue
    refs = [r for r in [*wanted.records, *wanted.issues] if r.id in records or r.id in issues]
    seen.comments.update(engine.itsm.comments_since([r for r in refs if r.side is Side.ITSM], None))
    seen.comments.update(engine.jira.comments_since([r for r in refs if r.side is Side.JIRA], None))
    states = engine.store.load_link_states(spec.name, list(records), list(issues))
    by_record, by_issue = index_links(states)
    seen.by_record.update(by_record)
    seen.by_issue.update(by_issue)
    seen.changed_records = list(records.values())
    seen.changed_issues = [i for i in issues.values() if i.ref.id in seen.by_issue]


def _comments(
    engine: Engine,
    records: Sequence[Record],
    issues: Sequence[Issue],
    by_record: Mapping[str, LinkState],
    window: Mapping[Side, datetime | None],
) -> dict[str, list[Comment]]:
    """Comments of the changed items: one batched read per side (two on the ITSM side when there are
    both linked records, read since the window, and new records, whose whole history is read)."""
    result: dict[str, list[Comment]] = {}
    linked = [r.ref for r in records if r.ref.id in by_record]
    new = [r.ref for r in records if r.ref.id not in by_record]
    if window[Side.ITSM] is None:
        linked, new = [], linked + new
    if linked:
        result.update(engine.itsm.comments_since(linked, window[Side.ITSM]))
    if new:
        result.update(engine.itsm.comments_since(new, None))
    if issues:
        result.update(engine.jira.comments_since([i.ref for i in issues], window[Side.JIRA]))
    return result


def _record_problems(engine: Engine, spec: MappingSpec, the_plan: Plan, changed: Sequence[Item]) -> None:
    """Planning problems go on the error list (one open entry per item); items planned cleanly this
    time get theirs resolved."""
    store = engine.store
    troubled: set[str] = set()
    for problem in the_plan.problems:
        fingerprint = _problem_fingerprint(spec.name, problem.item)
        troubled.add(fingerprint)
        store.report_problem(spec.name, fingerprint, "plan_problem", problem.message, item_ref=problem.item.key)
        log.warning("item could not be planned; on the error list", item=problem.item.key, problem=problem.message)
    clean = {_problem_fingerprint(spec.name, item.ref) for item in changed} - troubled
    if clean:
        store.resolve_problems(spec.name, clean)


def _record_unreadable(engine: Engine, spec: MappingSpec, unreadable: Sequence[Unreadable]) -> None:
    """Items a connector could not parse go on the error list under their id; the cycle goes on with
    the others. The entry is resolved when the item is next read and planned cleanly (it changes)."""
    for item in unreadable:
        message = f"cannot be read from {item.ref.side.value} ({item.ref.kind} {item.ref.id}): {item.reason}"
        engine.store.report_problem(
            spec.name, _problem_fingerprint(spec.name, item.ref), "unreadable", message, item_ref=item.ref.key
        )
        log.warning("item could not be read; on the error list, the others go on", item=item.ref.key,
                    item_id=item.ref.id, reason=item.reason)


def _problem_fingerprint(mapping: str, ref: Ref) -> str:
    return f"problem:{mapping}:{ref.side.value}:{ref.id}"


def _idle_marks(engine: Engine, seen: _Seen) -> dict[Side, datetime]:
    """Where each side's cursor may go after a cycle that found nothing new: the vendor's time of the
    search minus its index lag. Only sides read within a window: a mapping's first full read stays one."""
    lag = {Side.ITSM: engine.options.index_lag_itsm, Side.JIRA: engine.options.index_lag_jira}
    return {
        side: seen.searched[side] - lag[side]
        for side in Side
        if seen.window[side] is not None and side in seen.searched
    }


__all__ = ["CycleReport", "itsm_fields", "jira_fields", "plan_cycle", "run_cycle"]
