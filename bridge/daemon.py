"""``bridge run``: the daemon. It only triggers :func:`bridge.sync.cycle.run_cycle` on a schedule.

APScheduler 3.x runs one interval job (``max_instances=1``: a slow cycle is never overlapped by the
next; ``coalesce=True``: runs missed while busy collapse into one; ``misfire_grace_time`` about one
interval, because APScheduler's default of 1 s silently skips a cycle that starts a little late). The
first cycle starts at once.

Stopping: SIGTERM or SIGINT raise the engine's stop flag; the executor finishes the action in hand,
commits it and stops between actions; the scheduler is shut down after the running job returns and
:meth:`Daemon.run_forever` returns 0. Nothing is lost: unfinished actions were either never journaled
(they are planned again) or are pending in the journal (reconciled first next time), and cursors never
move past an unsettled change.

Several replicas: each mapping is synced by the process holding its lock. A replica that cannot take
a lock stays on standby for that mapping and tries again every interval, so it takes over within one
interval when the leader dies.

structlog context is bound inside the job, because APScheduler runs jobs in worker threads where the
main thread's context variables are not visible.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from bridge.errors import AuthError, ConnectorError, LockHeldError, SafetyRailError, StoreError
from bridge.logging import get_logger
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine

log = get_logger(__name__)


class Daemon:
    """Runs a cycle of every enabled mapping every ``interval_seconds``."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval_seconds: float,
        misfire_grace_seconds: float | None = None,
        mappings: list[str] | None = None,
        on_cycle: Callable[[str, CycleReport | BaseException], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = float(interval_seconds)
        self.misfire_grace = int(misfire_grace_seconds or max(1, round(self.interval)))
        self.mapping_names = mappings
        self.on_cycle = on_cycle
        self.runs = 0
        self.last: dict[str, CycleReport | BaseException] = {}
        self.standby: set[str] = set()
        self._stopping = threading.Event()
        self._scheduler = BackgroundScheduler(timezone=UTC)

    # ------------------------------------------------------------------------------ the job

    def run_all(self) -> dict[str, CycleReport | BaseException]:
        """One pass over the mappings (the scheduled job). Never raises: each mapping's failure is
        logged and the next interval tries again."""
        results: dict[str, CycleReport | BaseException] = {}
        names = self.mapping_names or [m.name for m in self.engine.enabled_mappings()]
        for name in names:
            if self.engine.stop.is_set():
                break
            with structlog.contextvars.bound_contextvars(mapping=name, job="sync"):
                results[name] = self._one(name)
            if self.on_cycle is not None:
                self.on_cycle(name, results[name])
        self.last.update(results)
        self.runs += 1
        return results

    def _one(self, name: str) -> CycleReport | BaseException:
        try:
            report = run_cycle(self.engine, name)
        except LockHeldError as exc:
            if name not in self.standby:
                log.info("standby: another bridge process syncs this mapping; retrying every interval")
            self.standby.add(name)
            return exc
        except AuthError as exc:
            log.error("a side refused our credentials; fix them, the next interval retries", error=str(exc))
            return exc
        except SafetyRailError as exc:
            log.error("safety rail: cycle stopped for this mapping", error=str(exc))
            return exc
        except StoreError as exc:
            log.error("state store failed; releasing the mapping's lock", error=str(exc))
            self.engine.store.release_lock(name)
            return exc
        except ConnectorError as exc:
            log.warning("a side could not be read; the next interval retries", error=str(exc))
            return exc
        except Exception as exc:
            log.exception("unexpected error in a cycle, please report it")
            return exc
        if name in self.standby:
            log.info("took over the mapping: now syncing it")
            self.standby.discard(name)
        return report

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._scheduler.add_job(
            self.run_all,
            "interval",
            seconds=self.interval,
            id="bridge-sync",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.misfire_grace,
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()
        log.info("daemon started", interval_seconds=self.interval, mappings=self.mapping_names or "all enabled")

    def request_stop(self, *_: Any) -> None:
        """Ask for a clean stop: finish the current action, commit, exit. Safe from a signal handler."""
        self.engine.stop.set()
        self._stopping.set()

    def run_forever(self, *, install_signals: bool = True) -> int:
        """Start, wait for SIGTERM/SIGINT (or :meth:`request_stop`), stop cleanly; returns exit code 0."""
        previous: dict[int, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            self.start()
            while not self._stopping.wait(timeout=1.0):
                pass
        finally:
            log.info("stopping: finishing the current action")
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        log.info("daemon stopped", cycles=self.runs)
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", signal=signal.Signals(signum).name)
        self.request_stop()
