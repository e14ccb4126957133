"""Both sides at once, creates pipelined with their follow-ups: the executor's concurrent schedule.

With ``engine.parallel_sides`` the plan's actions run in lanes: ``workers_per_side`` lanes per side, one
thread each, an action in the lane of its side and its link (a create's follow-ups go with their record),
so every link's actions on one side keep the plan's order. An action writes one side and was planned from
one snapshot, so the order between the two sides does not matter.

The creates run in bulk in the calling thread *while* the lanes run: a follow-up of a create (the
ITSM back-reference, the Jira remote link, the first status or comment of the new issue) waits only for
its own create's batch to be recorded, not for every create of the plan. A backlog of new records then
keeps both sides busy from the first bulk create on, instead of leaving the ITSM side idle while Jira
creates thousands of issues (docs/operations.md, "Performance").

Store calls are serialised by the executor's gate; only vendor calls overlap (each connector's token
bucket still caps its side's rate). When a lane or the create thread fails (a crash, an AuthError) the
others stop between actions, as after a signal, and the first failure is raised to the caller.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bridge.core.actions import Action, CreateIssue
from bridge.model import Side
from bridge.store import JournalEntry
from bridge.sync.executor_parts import affinity
from bridge.sync.pending import pending_record_id

if TYPE_CHECKING:
    from bridge.sync.executor import ActionOutcome, Executor

Queued = tuple[int, Action, JournalEntry]

#: how often a follow-up waiting for its create looks at the stop flags (seconds)
_POLL = 0.05


def run_concurrently(
    executor: Executor,
    create_batches: Sequence[Sequence[Queued]],
    rest: Sequence[Queued],
    outcomes: dict[int, ActionOutcome],
) -> None:
    """Apply ``create_batches`` (in order, in this thread) and ``rest`` (in lanes) at the same time."""
    from bridge.sync.executor import ActionOutcome, Outcome

    lanes: dict[tuple[bool, int], list[Queued]] = {}
    for item in rest:
        number = zlib.crc32(affinity(item[1]).encode()) % max(1, executor.workers_per_side)
        lanes.setdefault((item[1].side is Side.ITSM, number), []).append(item)
    if not create_batches and len(lanes) <= 1:
        executor._run_in_order(rest, outcomes)
        return
    ready = {
        action.record.id: threading.Event()
        for batch in create_batches for _, action, _ in batch if isinstance(action, CreateIssue)
    }
    failure: list[BaseException] = []
    halt = threading.Event()  # this plan's lanes only: the engine's stop flag is the operator's

    def stopped() -> bool:
        return executor.stop.is_set() or halt.is_set()

    def lane(items: list[Queued]) -> None:
        try:
            for index, action, entry in items:
                record_id = pending_record_id(action)
                created = ready.get(record_id) if record_id is not None else None
                while created is not None and not created.wait(_POLL) and not stopped():
                    pass
                if stopped():
                    outcomes[index] = ActionOutcome(action, Outcome.NOT_RUN, journal_id=entry.id)
                else:
                    outcomes[index] = executor._run(action, entry, reconciling=False)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
            halt.set()

    threads = [
        threading.Thread(target=lane, args=(items,), name=f"bridge-executor-{'itsm' if itsm else 'jira'}-{n}",
                         daemon=True)
        for (itsm, n), items in sorted(lanes.items())
    ]
    for thread in threads:
        thread.start()
    try:
        for batch in create_batches:
            if halt.is_set():
                outcomes.update({i: ActionOutcome(a, Outcome.NOT_RUN, journal_id=e.id) for i, a, e in batch})
            else:
                outcomes.update(executor._run_creates(batch))
            for _, action, _ in batch:
                if isinstance(action, CreateIssue):
                    ready[action.record.id].set()
    except BaseException as exc:
        failure.append(exc)
        halt.set()
    finally:
        for event in ready.values():
            event.set()
        for thread in threads:
            thread.join()
    if failure:
        raise failure[0]
