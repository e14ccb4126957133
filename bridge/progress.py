"""Progress of long runs (a first cycle, ``sync --since``, an adoption): "n of N actions, ETA".

A backlog of a few hundred records takes minutes, and a silent minute looks like a hang. On a terminal
the line is redrawn in place on stderr; otherwise (a unit's journal, cron mail) a structured ``progress``
log line is written every :data:`LOG_EVERY_SECONDS`, which journald and log shippers keep apart from
the command's own output. Short runs print nothing: below :data:`MIN_ACTIONS` progress is noise.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from bridge.logging import get_logger

log = get_logger(__name__)

#: Fewer planned actions than this are done before anyone would wonder.
MIN_ACTIONS = 20
#: How often a non-terminal run logs its progress.
LOG_EVERY_SECONDS = 10.0
#: How often a terminal line is redrawn at most.
DRAW_EVERY_SECONDS = 0.2


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Called with ``(mapping, done, total)`` after each applied action (from any worker thread)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = terminal if terminal is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}
        self._shown: dict[str, float] = {}

    def line(self, mapping: str, done: int, total: int) -> str:
        """``incident-to-bug: 120 of 250 actions, ETA 0:52``."""
        started = self._started.get(mapping, self.clock())
        elapsed = self.clock() - started
        if done >= total:
            return f"{mapping}: {total} of {total} actions in {_duration(elapsed)}"
        eta = elapsed / done * (total - done) if done else None
        return f"{mapping}: {done} of {total} actions" + (f", ETA {_duration(eta)}" if eta is not None else "")

    def __call__(self, mapping: str, done: int, total: int) -> None:
        if total < MIN_ACTIONS:
            return
        now = self.clock()
        with self._lock:
            self._started.setdefault(mapping, now)
            last = self._shown.get(mapping)
            every = DRAW_EVERY_SECONDS if self.terminal else LOG_EVERY_SECONDS
            if done < total and last is not None and now - last < every:
                return
            if done < total and last is None and not self.terminal:
                self._shown[mapping] = now  # the first log line after LOG_EVERY_SECONDS, not at once
                return
            self._shown[mapping] = now
            text = self.line(mapping, done, total)
            if done >= total:
                self._started.pop(mapping, None)
                self._shown.pop(mapping, None)
        if self.terminal:
            self.stream.write("\r\033[K" + text + ("\n" if done >= total else ""))
            self.stream.flush()
        else:
            elapsed = now - self._started.get(mapping, now)
            eta = elapsed / done * (total - done) if done and done < total else 0.0
            log.info("progress", mapping=mapping, done=done, total=total, eta_seconds=round(eta, 1), text=text)
