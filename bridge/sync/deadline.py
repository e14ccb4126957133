"""The time bound of one cycle (``engine.cycle_seconds``): a cycle ends on time even when its actions are slow.

The action budget (:mod:`bridge.sync.budget`) sizes a cycle by count, but a count is not a duration: a
vendor answering slowly or with 429s can stretch 200 actions to minutes, and a change made meanwhile then
waits for all of them. The time bound cuts the cycle instead, through the executor's own stop flag: the
executor checks it between actions (never inside one), so an action either ran and was recorded, or it
was not started and stays **pending** in the journal (``not_run``). Its items hold their side's cursor
(:func:`bridge.sync.watermarks.held_items`), the next cycle reconciles the pending actions first and reads
the changes again: nothing is lost, and the journal is consistent at every cut.

The engine's stop flag (SIGTERM) still stops the cycle at once; the deadline is this cycle's alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from bridge.sync.executor import ActionOutcome, Outcome

#: the share of the bound the executor gets at the least, however long reconciling, reading and planning
#: took: when reading a large backlog's search alone outlasts the bound, cutting the writes to nothing would
#: only leave them pending for the next cycle's reconciliation, after another such read (a backlog would
#: barely drain); the newest units still run first
MIN_EXECUTION_SHARE = 0.5


class CycleStop(threading.Event):
    """A stop flag raised by the operator's flag (the engine's) or by the cycle's deadline.

    ``is_set`` is what the executor polls between actions; :meth:`set` still works (a stop of this cycle
    alone). ``clock`` is monotonic seconds, injectable so tests move time without sleeping.
    """

    def __init__(self, operator: threading.Event, seconds: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._operator = operator
        self._clock = clock
        self._seconds = seconds or 0.0
        self._deadline = clock() + seconds if seconds else None

    @property
    def expired(self) -> bool:
        """True when the cycle's time is up (not when the operator stopped it)."""
        return self._deadline is not None and self._clock() >= self._deadline

    @property
    def operator_stopped(self) -> bool:
        return super().is_set() or self._operator.is_set()

    def is_set(self) -> bool:
        return super().is_set() or self._operator.is_set() or self.expired

    def grant(self) -> None:
        """Leave the executor at least :data:`MIN_EXECUTION_SHARE` of the bound from now (called as the
        cycle starts writing)."""
        if self._deadline is not None:
            self._deadline = max(self._deadline, self._clock() + self._seconds * MIN_EXECUTION_SHARE)


def not_run_by_deadline(stop: threading.Event, outcomes: Iterable[ActionOutcome]) -> int:
    """How many actions the deadline left pending (0 when the operator stopped the cycle): the cycle then
    counts their items as left for later, so the daemon starts the next cycle at once, as after the budget."""
    if not isinstance(stop, CycleStop) or not stop.expired or stop.operator_stopped:
        return 0
    return sum(1 for outcome in outcomes if outcome.status is Outcome.NOT_RUN)
