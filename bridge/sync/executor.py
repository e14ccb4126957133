"""The executor: the only code that writes to a side, one action at a time, crash-safe.

For every action:

1. If its idempotency key is already journaled it is not applied again: ``done`` → skipped,
   ``failed`` → it is on the error list, ``pending`` → :meth:`Executor.reconcile` owns it.
2. It is journaled as **pending** (committed) *before* the remote write, with the rest of its chunk of
   the plan (:meth:`Executor.execute`).
3. The remote write.
4. :func:`~bridge.sync.effects.effects_for` turns the action and what the write produced into store
   effects, and :meth:`~bridge.store.Store.apply_effects` marks it done *and* writes them (synced
   values, the new link, the comment pair) in one transaction.

Around the write the executor reads nothing it already knows: the link states the planner loaded and the
links its creates made are kept in :mod:`bridge.sync.executor_known` (bench/README.md §7).

A crash between 2 and 4 leaves a pending row. :meth:`Executor.reconcile` runs before anything else in the
next cycle and settles each pending row without doing anything twice: a CreateIssue first looks for the
issue by its marker (``find_by_marker``) and adopts it; an AddComment looks for its comment by marker; a
SetStatus reads the item's current status first; a MarkLinked reads the issue's labels and count (it
writes only what the issue does not show yet); WriteBackReference and UpdateFields are simply
repeated (the same values written twice is a no-op on the vendor side). Only when nothing is found is
the write repeated.

Errors: a :class:`~bridge.errors.TransientError` (the HTTP layer's retries exhausted) leaves the action
pending with one attempt more and a backoff; :class:`~bridge.errors.PermanentError` and
:class:`~bridge.errors.NotFoundError` put it on the error list with the vendor's reason while the other
links keep flowing; :class:`~bridge.errors.AuthError` stops the cycle (the whole side refuses us).
Anything else is a bug or a crash: it propagates, and the pending row is reconciled next time.

Gone items: when a write (or a reconciling read) to an item of a link answers that the item no longer
exists (a 404 confirmed by reading it, an RT ticket in status ``deleted``) or was merged into another
one (:class:`~bridge.errors.MergedError`, RT), the action is not retried and not put on the error list:
the executor journals a :class:`~bridge.core.actions.CloseLink` that puts a note on the other side and
closes the link (or, for a merge into an unlinked ticket, moves the link to the survivor and applies the
action there; for a deleted issue with ``links.recreate_deleted``, drops the link so the record is
escalated again). The rest of the plan never writes to that item: its actions are skipped.

Creates run first and in bulk: every CreateIssue of a chunk is journaled pending with the rest, then
they are sent through :meth:`~bridge.connectors.base.Connector.create_many` (Jira: 50 per request) and
each result is settled on its own (done, on the error list, or deferred). A crash in the middle of a
bulk call leaves them all pending, and reconciliation by marker adopts what Jira made. A status
follow-up that the new issue already has (its initial status) is recorded without a call. With
``parallel_sides`` the lanes of :mod:`bridge.sync.executor_lanes` run meanwhile: each follow-up starts as
soon as its own create's batch is recorded.

Follow-ups of a create (write-back, status, comments of the new record) address the issue through the
placeholder of :mod:`bridge.sync.pending`; the executor resolves it with the link
the create stored, and journals the follow-up under the key it was planned with, so a restart
recognises it. While the create has not succeeded the follow-up waits, pending.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

import structlog

from bridge.connectors.base import Connector
from bridge.core.actions import (
    Action,
    AdoptIssue,
    CloseLink,
    CreateIssue,
    LinkExisting,
    MarkLinked,
    ReportConflict,
    SetStatus,
    UpdateFields,
    WriteBackReference,
    to_json,
)
from bridge.core.effects import Effect, InLink, MarkDone, ResolveErrors
from bridge.core.state import LinkState
from bridge.errors import (
    AuthError,
    ConnectorError,
    MergedError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    StoreError,
)
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Link, Ref, Side
from bridge.store import DONE, FAILED, PENDING, JournalEntry, MappingLock, Store
from bridge.sync.effects import ActionResult, effects_for
from bridge.sync.executor_known import KnownLinks, OpenErrors
from bridge.sync.executor_lanes import run_concurrently
from bridge.sync.executor_parts import (
    JOURNAL_CHUNK,
    action_refs,
    backoff,
    create_spec,
    error_kind,
    issue_result,
    item_ref,
    journal_chunks,
)
from bridge.sync.executor_writes import close_actions, reconcile_write, write
from bridge.sync.pending import pending_record_id, resolve_pending
from bridge.sync.recount import recount
from bridge.sync.refusals import refusal_slot

log = get_logger(__name__)



class Outcome(StrEnum):
    """What became of one action. The values are what ``bridge sync`` prints and logs count
    (``3 done, 1 pending``); each member is named after its value."""

    DONE = "done"  # written now (or adopted after a crash) and recorded
    SKIPPED = "skipped"  # already done before (idempotency key in the journal)
    PENDING = "pending"  # transient failure, waits for a later cycle
    BLOCKED = "blocked"  # a follow-up whose create has not succeeded yet
    FAILED = "failed"  # on the error list
    REPORTED = "reported"  # a conflict put on the error list without any write
    NOT_RUN = "not_run"  # the stop flag was raised before its turn (journaled pending: reconciled next time)


#: Actions that set a state on the target: when the same values are planned again after a done
#: action of the same key (the value went A → B → A → B), they are applied again. The planner plans
#: them only when the target differs from what was last synced, so a done key cannot mean "already there".
REPEATABLE = (UpdateFields, SetStatus, WriteBackReference)


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What became of one action."""

    action: Action
    status: Outcome
    message: str | None = None
    journal_id: int | None = None
    adopted: bool = False

    @property
    def holds_cursor(self) -> bool:
        """True when the change behind this action must be read again (not done, not on the error list)."""
        return self.status in (Outcome.PENDING, Outcome.NOT_RUN)


class Executor:
    """Applies actions of one mapping. One instance per cycle; see the module docstring."""

    def __init__(
        self,
        store: Store,
        connectors: Mapping[Side, Connector],
        mapping: MappingSpec,
        *,
        lock: MappingLock | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        backoff_base: float = 30.0,
        backoff_cap: float = 3600.0,
        jira_fields: Sequence[str] = (),
        parallel_sides: bool = False,
        workers_per_side: int = 1,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.mapping = mapping
        self.lock = lock
        self.stop = stop or threading.Event()
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jira_fields = tuple(jira_fields)
        #: apply the two sides' actions at once (see :meth:`_run_sides_at_once`)
        self.parallel_sides = parallel_sides
        self.workers_per_side = max(1, workers_per_side)
        self._gate = threading.Lock()
        #: called with ``(mapping, done, total)`` after each action of :meth:`execute` (``bridge.progress``)
        self.progress: Callable[[str, int, int], None] | None = None
        self._done = 0
        self._total = 0
        #: status of each issue this executor created, by record id (see :meth:`_created_already`)
        self._created_status: dict[str, str | None] = {}
        #: items found gone during this run (never written again) and merged records' survivors
        self._gone: set[str] = set()
        self._moved: dict[str, Ref] = {}
        self.work_dir: str | None = None  # where copied files wait (the state directory; None: the system's)
        #: links, versions and statuses known without a read (the planner's states, what this run wrote)
        self._known = KnownLinks()
        #: actions journaled per transaction before their writes (:meth:`execute`)
        self.journal_chunk = JOURNAL_CHUNK
        self._open_errors = OpenErrors(lambda: self.store.open_action_errors(self.mapping.name))

    # ------------------------------------------------------------------------------ entry points

    def reconcile(self) -> list[ActionOutcome]:
        """Settle every pending action of the mapping that is due (crash leftovers, transient failures)."""
        outcomes: list[ActionOutcome] = []
        self._open_errors.reset()
        for entry in self.store.pending_entries(self.mapping.name, due_before=self.clock()):
            if self.stop.is_set():
                outcomes.append(ActionOutcome(entry.action, Outcome.NOT_RUN, journal_id=entry.id))
                continue
            outcomes.append(self._run(entry.action, entry, reconciling=True))
        return outcomes

    def execute(self, actions: Iterable[Action], *, states: Iterable[LinkState] = ()) -> list[ActionOutcome]:
        """Apply planned actions in order.

        The plan is journaled pending in chunks (:attr:`journal_chunk` actions, one transaction each), a
        chunk before any of its writes: a backlog's first write does not wait for tens of thousands of
        inserts. A create and its follow-ups (write-back, status, comments of the new record, which the
        planner plans only once), like every action of one link, are in the same chunk
        (:func:`~bridge.sync.executor_parts.journal_chunks`): if the process dies after a write, every
        action that depends on it is in the journal and is reconciled next time, not forgotten. An
        action of a later chunk is not journaled yet: its change is read and planned again. A new key
        costs one statement (:meth:`~bridge.store.Store.journal_start`). When the stop flag is raised
        the remaining actions are left (``not_run``): pending in the journal when their chunk was
        journaled, else planned again.

        ``states``: the link states the plan was made from; an action takes what it needs of its link
        from them instead of reading the link again (:mod:`bridge.sync.executor_known`).
        """
        planned = list(actions)
        self._known.seed(states)
        self._open_errors.reset()
        self._done, self._total = 0, len(planned)
        outcomes: dict[int, ActionOutcome] = {}
        for chunk in journal_chunks(planned, self.journal_chunk):
            if self.stop.is_set():
                outcomes.update({i: ActionOutcome(planned[i], Outcome.NOT_RUN) for i in chunk})
                continue
            self._run_queued(self._journal(planned, chunk, outcomes), outcomes)
        return [outcomes[i] for i in range(len(planned))]

    def _journal(
        self, planned: Sequence[Action], chunk: Sequence[int], outcomes: dict[int, ActionOutcome]
    ) -> list[tuple[int, Action, JournalEntry]]:
        """Journal the actions at ``chunk`` pending, in one transaction; those journaled already are settled
        by their row (done: skipped, unless it sets a state again; failed; pending: reconcile owns it)."""
        queued: list[tuple[int, Action, JournalEntry]] = []
        with self.store.transaction():
            journaled = [(i, planned[i]) for i in chunk if not isinstance(planned[i], ReportConflict)]
            started = self.store.journal_start([(a, isinstance(a, REPEATABLE)) for _, a in journaled])
            for (index, action), (entry, new) in zip(journaled, started, strict=True):
                if new:
                    queued.append((index, action, entry))
                else:
                    status = {DONE: Outcome.SKIPPED, FAILED: Outcome.FAILED, PENDING: Outcome.PENDING}[entry.state]
                    outcomes[index] = ActionOutcome(action, status, entry.last_error, entry.id)
            for index in chunk:
                action = planned[index]
                if isinstance(action, ReportConflict):
                    outcomes[index] = self._report(action)
        return queued

    def _run_queued(
        self, queued: Sequence[tuple[int, Action, JournalEntry]], outcomes: dict[int, ActionOutcome]
    ) -> None:
        # Creates go first, in bulk: a follow-up (write-back, status, comment of the new record) waits for
        # its own create only, so running every create before the rest keeps each link's order.
        # Adoptions (store-only) before the creates: a record's follow-ups find the adopted link.
        self._run_in_order([q for q in queued if isinstance(q[1], AdoptIssue)], outcomes)
        creates = [q for q in queued if isinstance(q[1], CreateIssue)]
        rest = [q for q in queued if not isinstance(q[1], CreateIssue | AdoptIssue)]
        size = max(1, getattr(self._connector(Side.JIRA), "create_batch_size", 1))
        batches = [creates[start : start + size] for start in range(0, len(creates), size)]
        if self.parallel_sides:  # both sides at once, each batch's follow-ups as soon as it is recorded
            run_concurrently(self, batches, rest, outcomes)
            return
        for batch in batches:
            outcomes.update(self._run_creates(batch))
        self._run_in_order(rest, outcomes)

    def _run_in_order(
        self,
        queued: Sequence[tuple[int, Action, JournalEntry]],
        outcomes: dict[int, ActionOutcome],
        halt: threading.Event | None = None,
    ) -> None:
        for index, action, entry in queued:
            if self.stop.is_set() or (halt is not None and halt.is_set()):
                outcomes[index] = ActionOutcome(action, Outcome.NOT_RUN, journal_id=entry.id)
            else:
                outcomes[index] = self._run(action, entry, reconciling=False)

    def _run_creates(self, batch: Sequence[tuple[int, Action, JournalEntry]]) -> dict[int, ActionOutcome]:
        """Several CreateIssue actions (journaled pending already) in one ``create_many`` call.

        Each element is settled on its own: done with its link, or on the error list / deferred with its
        own reason, exactly as :meth:`_run` settles a single create. A crash during the call leaves all of
        them pending, and :meth:`reconcile` adopts whatever Jira created, by marker.
        """
        if self.stop.is_set():
            return {i: ActionOutcome(action, Outcome.NOT_RUN, journal_id=entry.id) for i, action, entry in batch}
        if len(batch) == 1:
            index, action, entry = batch[0]
            return {index: self._run(action, entry, reconciling=False)}
        if self.lock is not None:
            with self._gate:
                self.lock.check()
        specs = [create_spec(action) for _, action, _ in batch if isinstance(action, CreateIssue)]
        results = self._connector(Side.JIRA).create_many(specs)
        with self._gate:  # the lanes of run_concurrently may be using the store meanwhile
            return self._settle_creates(batch, results)

    def _settle_creates(
        self, batch: Sequence[tuple[int, Action, JournalEntry]], results: Sequence[Item | ConnectorError]
    ) -> dict[int, ActionOutcome]:
        outcomes: dict[int, ActionOutcome] = {}
        refused: AuthError | None = None
        for (index, action, entry), result in zip(batch, results, strict=True):
            if isinstance(result, AuthError):
                self.store.journal_retry_later(entry.id, str(result), self.clock())
                refused = result
                continue
            if isinstance(result, ConnectorError):
                with structlog.contextvars.bound_contextvars(**action_refs(action)):
                    outcomes[index] = self._settle_failure(action, entry, result)
                continue
            assert isinstance(action, CreateIssue)
            self._created_status[action.record.id] = result.status
            self._apply(action, entry, effects_for(action, issue_result(result, adopted=False)))
            log.info("action applied", action=action.kind, key=action.key, journal_id=entry.id,
                     description=action.describe(), bulk=len(batch), record=action.record.key,
                     issue=result.ref.key)
            outcomes[index] = ActionOutcome(action, Outcome.DONE, None, entry.id)
        if refused is not None:
            log.error("side refused our credentials; stopping the cycle", error=str(refused))
            raise refused
        self._advance(len(batch))
        return outcomes

    def apply(self, action: Action) -> ActionOutcome:
        """Apply one action (see :meth:`execute`)."""
        return self.execute([action])[0]

    def _report(self, action: ReportConflict) -> ActionOutcome:
        existing = self.store.journal_entry(action.key)
        if existing is not None:
            return ActionOutcome(action, Outcome.FAILED, existing.last_error, existing.id)
        error = self.store.journal_report(action, action.describe(), kind="conflict", item_ref=action.issue.key)
        self._open_errors.added(error.journal_id, f"journal:{action.key}")
        log.warning("conflict reported", action=action.kind, link=action.link_id, error_id=error.id)
        return ActionOutcome(action, Outcome.REPORTED, action.describe(), error.journal_id)

    # ------------------------------------------------------------------------------ one action

    def _resolve(self, action: Action) -> Action | None:
        """The action with its placeholder issue replaced by the real one; ``None`` while there is none."""
        record_id = pending_record_id(action)
        if record_id is not None:
            link = self._known.made_for(record_id) or self.store.link_for_record(self.mapping.name, record_id)
            if link is None:
                return None
            action = replace(resolve_pending(action, link.issue), link_id=link.id)
        if isinstance(action, MarkLinked):
            # The count is what the store says now, this record's link included: known only at execution.
            found = self.store.link_for_issue(self.mapping.name, action.issue.id)
            if found is None:
                return None
            return replace(action, link_id=found.id, count=len(found.records))
        return action

    @contextmanager
    def _remote(self) -> Iterator[None]:
        """Let the other side's thread use the store while this thread waits for a vendor."""
        self._gate.release()
        try:
            yield
        finally:
            self._gate.acquire()

    def _run(self, planned: Action, entry: JournalEntry, *, reconciling: bool) -> ActionOutcome:
        with self._gate, structlog.contextvars.bound_contextvars(**self._refs(planned)):
            outcome = self._run_gated(planned, entry, reconciling=reconciling)
            self._advance(1)
            return outcome

    def _advance(self, count: int) -> None:
        """Tell :attr:`progress` that ``count`` more actions of the plan are settled."""
        self._done += count
        if self.progress is not None and self._total:
            self.progress(self.mapping.name, min(self._done, self._total), self._total)

    def _refs(self, action: Action) -> dict[str, str]:
        """:func:`action_refs`, completed from the link: a write to the issue names its record(s) too."""
        found = action_refs(action)
        if action.link_id is not None and ("record" not in found or "issue" not in found):
            link = self._known.link(action.link_id)
            if link is None:
                try:
                    link = self.store.link_by_id(action.link_id)
                except StoreError:
                    link = None
            if link is not None:
                found.setdefault("record", ",".join(r.key for r in link.records))
                found.setdefault("issue", link.issue.key)
        return found

    def _run_gated(self, planned: Action, entry: JournalEntry, *, reconciling: bool) -> ActionOutcome:
        if isinstance(planned, ReportConflict):  # only reachable when retried from the error list
            error = self.store.journal_report(planned, planned.describe(), kind="conflict", item_ref=planned.issue.key)
            self._open_errors.added(error.journal_id, f"journal:{planned.key}")
            return ActionOutcome(planned, Outcome.REPORTED, planned.describe(), error.journal_id)
        action = self._resolve(planned)
        if action is None:
            return ActionOutcome(planned, Outcome.BLOCKED, "waiting for the issue to be created", entry.id)
        if self.lock is not None:
            self.lock.check()
        if not isinstance(action, CloseLink):
            redirected = self._redirect(action)
            if redirected is None:
                return self._skip_gone(action, entry, "its item is gone; the link is closed")
            if redirected is not action:
                return self._run_again(redirected)
        bound = log.bind(action=action.kind, key=action.key, link=action.link_id, journal_id=entry.id)
        try:
            with self._remote():
                result = reconcile_write(self.connectors, self.mapping, action) if reconciling else None
            adopted = result is not None
            if result is None:
                result = self._created_already(planned, action)
            if result is None:
                self._note_status(action)
                with self._remote():
                    result = write(self.connectors, self.mapping, action, jira_fields=self.jira_fields,
                                   work_dir=self.work_dir)
        except AuthError as exc:
            self.store.journal_retry_later(entry.id, str(exc), self.clock())
            bound.error("side refused our credentials; stopping the cycle", error=str(exc))
            raise
        except NotFoundError as exc:
            gone = self._gone_item(action, exc)
            if gone is None:
                return self._settle_failure(action, entry, exc)
            return self._item_gone(action, entry, gone[0], gone[1], exc)
        except ConnectorError as exc:
            return self._settle_failure(action, entry, exc)
        if isinstance(action, CreateIssue) and result.issue_status is not None:
            self._created_status[action.record.id] = result.issue_status
        self._apply(action, entry, effects_for(action, result))
        self._record_echo(action)
        bound.info("action applied" if not adopted else "action reconciled", description=action.describe())
        return ActionOutcome(action, Outcome.DONE, None, entry.id, adopted=adopted)

    def _apply(self, action: Action, entry: JournalEntry, effects: Sequence[Effect]) -> None:
        """Mark ``entry`` done with ``effects`` (one transaction), without reading the link back: what the
        executor needs of it is kept in :attr:`_known`."""
        effects = self._open_errors.needed(entry.id, effects)
        applied = self.store.apply_effects(entry.id, effects)
        self._known.applied(effects, applied.link_id if applied.link_id is not None else action.link_id,
                            applied.made)

    # ------------------------------------------------------------------------------ gone items

    def _redirect(self, action: Action) -> Action | None:
        """``action`` as it may still be applied after this run found items gone: ``None`` when it writes
        to a gone item, retargeted when it writes to a record merged into the one its link follows now."""
        target = action.refs[0] if action.refs and action.side is not None else None
        if target is None:
            return action
        if target.id in self._moved and hasattr(action, "target"):
            return replace(action, target=self._moved[target.id])  # type: ignore[call-arg]
        if target.id in self._gone or target.id in self._moved:
            return None
        return action

    def _run_again(self, action: Action) -> ActionOutcome:
        """Journal and apply ``action`` (a retargeted one) now, unless its key is journaled already."""
        [(entry, new)] = self.store.journal_start([(action, isinstance(action, REPEATABLE))])
        if not new:
            status = {DONE: Outcome.SKIPPED, FAILED: Outcome.FAILED, PENDING: Outcome.PENDING}[entry.state]
            return ActionOutcome(action, status, entry.last_error, entry.id)
        return self._run_gated(action, entry, reconciling=False)

    def _skip_gone(self, action: Action, entry: JournalEntry, why: str) -> ActionOutcome:
        """The action is not applied, ever: its item is gone. Its journal row is settled as done without
        a remote write, so it is neither retried nor on the error list."""
        self._apply(action, entry, (InLink(action.mapping, action.link_id, action.refs),
                                    MarkDone(to_json(action), None), ResolveErrors()))
        log.info("action not applied: its item is gone", action=action.kind, key=action.key, why=why)
        return ActionOutcome(action, Outcome.SKIPPED, why, entry.id)

    def _link_of(self, ref: Ref, link_id: int | None) -> Link | None:
        if link_id is not None:
            found = self.store.find_link(str(link_id), self.mapping.name)
            if found is not None and found.id == link_id:
                return found
        if ref.side is Side.JIRA:
            return self.store.link_for_issue(self.mapping.name, ref.id)
        return self.store.link_for_record(self.mapping.name, ref.id)

    def _gone_item(self, action: Action, exc: NotFoundError) -> tuple[Ref, MergedError | None] | None:
        """The item of a link that ``exc`` shows to be gone (deleted, or merged: the error), else ``None``.

        Only the item an action writes to counts (a create's or link's 404 is about something else).
        A plain 404 is confirmed by reading the item: a 404 of some sub-resource must not close a link.
        """
        if isinstance(action, CreateIssue | LinkExisting | CloseLink) or not action.refs or action.side is None:
            return None
        target = action.refs[0]
        if isinstance(exc, MergedError):
            return target, exc
        try:
            with self._remote():
                self._connector(target.side).get(target, [])
        except MergedError as merged:
            return target, merged
        except NotFoundError:
            return target, None
        except ConnectorError:
            return None
        return None

    def _item_gone(
        self, action: Action, entry: JournalEntry, gone: Ref, merged: MergedError | None, exc: NotFoundError
    ) -> ActionOutcome:
        """``gone`` no longer exists: close (or move) its link with a note, and never write to it again."""
        link = self._link_of(gone, action.link_id)
        if link is None:
            return self._settle_failure(action, entry, exc)
        closes = close_actions(self.store, self.connectors, self.mapping, link, gone, merged)
        if not closes:
            return self._settle_failure(action, entry, exc)
        for close in closes:
            outcome = self._run_again(close)
            log.warning("item gone; link closed" if close.move_to is None else "record merged; link moved",
                        item=gone.key, link=link.id, reason=close.reason, outcome=outcome.status)
        survivor = closes[0].move_to
        if (shown := recount(self.mapping, link)) is not None and gone.side is Side.ITSM and survivor is None:
            self._run_again(shown)  # one record left a shared link: the issue's linked count drops
        if survivor is not None:
            self._moved[gone.id] = survivor
            self._skip_gone(action, entry, f"{gone.key} was merged into {survivor.key}")
            retargeted = self._redirect(action)
            if retargeted is not None and retargeted is not action:
                return self._run_again(retargeted)
            return ActionOutcome(action, Outcome.SKIPPED, closes[0].reason, entry.id)
        self._gone.add(gone.id)
        return self._skip_gone(action, entry, closes[0].reason)

    def follow_duplicate(self, record: Ref, survivor_id: str) -> list[ActionOutcome]:
        """``links.follow_duplicate_of``: the linked ``record`` is marked a duplicate of ``survivor_id``;
        handle it like an RT merge into that record (move the link to it, or close it with a note and a
        "Duplicate" issue link when it has its own issue)."""
        with self._gate:
            link = self.store.link_for_record(self.mapping.name, record.id)
            if link is None or not link.is_open:
                return []
            key = survivor_id
            try:
                with self._remote():
                    survivor = Ref(record.side, record.kind, survivor_id, survivor_id)
                    key = self._connector(Side.ITSM).get(survivor, []).ref.key
            except NotFoundError:
                pass
            merged = MergedError(f"{record.key} is a duplicate of {key}", survivor_id=survivor_id, survivor_key=key)
            closes = close_actions(self.store, self.connectors, self.mapping, link, record, merged,
                                   verb="is a duplicate of")
            outcomes = [self._run_again(close) for close in closes]
            if closes and closes[0].move_to is not None:
                self._moved[record.id] = closes[0].move_to
            else:
                self._gone.add(record.id)
            return outcomes

    def _settle_failure(self, action: Action, entry: JournalEntry, exc: ConnectorError) -> ActionOutcome:
        """A failed write: on the error list when retrying won't help, else pending with a backoff."""
        bound = log.bind(action=action.kind, key=action.key, link=action.link_id, journal_id=entry.id)
        if isinstance(exc, PermanentError | NotFoundError):
            message = f"{action.describe()}: {exc}"
            slot = refusal_slot(action)
            error = self.store.journal_fail(entry.id, message, kind=error_kind(exc), item_ref=item_ref(action),
                                            slot=slot)
            self._open_errors.added(entry.id, f"journal:{slot or entry.key}")
            bound.warning("action failed; on the error list", error=str(exc), error_id=error.id)
            return ActionOutcome(action, Outcome.FAILED, message, entry.id)
        # TransientError and anything not known to be final
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        delay = backoff(entry.attempts, base=self.backoff_base, cap=self.backoff_cap, retry_after=retry_after)
        self.store.journal_retry_later(entry.id, str(exc), self.clock() + delay)
        bound.warning("action deferred after a transient failure", error=str(exc), retry_in=delay.total_seconds())
        return ActionOutcome(action, Outcome.PENDING, str(exc), entry.id)

    def _created_already(self, planned: Action, action: Action) -> ActionResult | None:
        """A status follow-up of a create this executor just made, when the new issue already has that status.

        The planner moves every new issue to the status its record maps to; when that is the workflow's
        initial status, the create's own answer proves it, and reading the issue again would be a call
        for nothing.
        """
        record_id = pending_record_id(planned)
        if not isinstance(action, SetStatus) or record_id is None:
            return None
        created = self._created_status.get(record_id)
        if created is not None and created.lower() == action.status.lower():
            return ActionResult(link_id=action.link_id)
        return None

    def _record_echo(self, action: Action) -> None:
        """After a write to a linked record: when the connector proves the write was the only change since
        the version the store holds, that new version counts as seen (the next cycle skips the echo)."""
        target = action.refs[0] if action.refs else None
        if target is None or target.side is not Side.ITSM or action.link_id is None:
            return
        version = self._known.version(action.link_id, target.id)
        if version is None:
            marks = self.store.synced_marks(action.link_id, Side.ITSM, target.id)
            version = marks[1] if marks is not None else ""
        if not version:
            return
        echo = self._connector(Side.ITSM).written_version(target, version)
        if echo is not None:
            self.store.mark_seen(action.link_id, Side.ITSM, target.id, echo[0], echo[1])
            self._known.seen(action.link_id, target.id, echo[0])

    def _note_status(self, action: Action) -> None:
        """Tell the connector the status bridge last synced before it moves an item (Jira then POSTs the
        known path at once instead of reading the issue first)."""
        if isinstance(action, SetStatus) and action.link_id is not None and action.target.side is Side.JIRA:
            known, status = self._known.status(action.link_id, action.target.id)
            if not known:
                marks = self.store.synced_marks(action.link_id, Side.JIRA, action.target.id)
                status = marks[0] if marks is not None else None
            if status:
                jira = self._connector(Side.JIRA)
                jira.note_status(action.target, status, self.mapping.target.issue_type)

    def _connector(self, side: Side) -> Connector:
        return self.connectors[side]



__all__ = ["ActionOutcome", "Executor", "Outcome", "backoff"]
