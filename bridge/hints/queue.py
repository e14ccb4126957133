"""Coalescing: a flood of hints becomes at most one mini-cycle in flight per mapping.

Hints for a mapping gather in a set (a burst of twenty webhooks about one issue is one item) for
``debounce`` seconds after the first one; then one worker thread runs a mini-cycle of that set. Hints
arriving while it runs gather for the next one. One worker for all mappings: mini-cycles never overlap
each other, and the daemon serialises them with its passes (:meth:`bridge.daemon.Daemon.run_hinted`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from bridge.logging import get_logger
from bridge.model import Ref

log = get_logger(__name__)


class HintQueue:
    """``run(mapping, refs)`` is called from the worker thread; it must not raise (it is logged if it does)."""

    def __init__(
        self,
        run: Callable[[str, list[Ref]], None],
        *,
        debounce: float = 0.3,
        max_items: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self.debounce = debounce
        self.max_items = max_items
        self._clock = clock
        self._pending: dict[str, dict[Ref, None]] = {}
        self._since: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: mini-cycles run so far (tests and the metrics read it)
        self.runs = 0

    def add(self, mapping: str, refs: Iterable[Ref]) -> None:
        with self._cond:
            pending = self._pending.setdefault(mapping, {})
            pending.update(dict.fromkeys(refs))
            self._since.setdefault(mapping, self._clock())
            self._cond.notify_all()

    def pending(self) -> dict[str, list[Ref]]:
        with self._cond:
            return {name: list(refs) for name, refs in self._pending.items()}

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="bridge-hints", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def take_due(self) -> tuple[str, list[Ref]] | None:
        """The mapping whose first hint is oldest, when its debounce is over, with at most ``max_items``
        of its items (the rest stay queued); ``None`` when nothing is due yet."""
        with self._cond:
            if not self._since:
                return None
            mapping = min(self._since, key=self._since.__getitem__)
            if self._clock() - self._since[mapping] < self.debounce:
                return None
            refs = list(self._pending[mapping])
            taken, rest = refs[: self.max_items], refs[self.max_items :]
            if rest:
                self._pending[mapping] = dict.fromkeys(rest)
                self._since[mapping] = self._clock()
            else:
                del self._pending[mapping], self._since[mapping]
            return mapping, taken

    def _wait_time(self) -> float | None:
        if not self._since:
            return None
        return max(0.0, self.debounce - (self._clock() - min(self._since.values())))

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (wait := self._wait_time()) != 0.0:
                    self._cond.wait(wait)
                if self._stopping:
                    return
            due = self.take_due()
            if due is None:
                continue
            mapping, refs = due
            try:
                self._run(mapping, refs)
            except Exception:
                log.exception("hinted mini-cycle failed; the next poll reads the change", mapping=mapping)
            self.runs += 1
