"""``bridge run``: the daemon. It only triggers :func:`bridge.sync.cycle.run_cycle` on a schedule.

APScheduler 3.x runs one interval job (``max_instances=1``: a slow cycle is never overlapped by the
next; ``coalesce=True``: runs missed while busy collapse into one; ``misfire_grace_time`` about one
interval, because APScheduler's default of 1 s silently skips a cycle that starts a little late). The
first cycle starts at once.

Reloading: SIGHUP (``systemctl reload bridge``) re-reads the settings and the mappings and validates them
as ``bridge check`` does; a valid set of mappings is swapped in between two passes (locks of removed
mappings released, new ones tried), an invalid one is refused with its problems logged and the daemon
goes on with the previous one. Settings other than the mappings (URLs, credentials, schedule) need a
restart.

Stopping: SIGTERM or SIGINT raise the engine's stop flag and the HTTP layer's
(:data:`bridge.connectors.http.stopping`): every wait (retry backoff, ``Retry-After``, the request
budget, the takeover grace, the scheduler's) wakes at once, a retry woken so gives up with its last
error (the action stays pending), the executor finishes the action in hand, commits it and stops
between actions; the scheduler is shut down after the running job returns and
:meth:`Daemon.run_forever` returns 0 — within seconds, well inside systemd's ``TimeoutStopSec=``.
Nothing is lost: unfinished actions were either never journaled
(they are planned again) or are pending in the journal (reconciled first next time), and cursors never
move past an unsettled change.

Rate limits: a ``Retry-After`` longer than the HTTP layer's backoff cap ends the cycle for that side
(:class:`~bridge.connectors.http.RateLimitWindowError`, "rate-limited until 17:42Z"); the daemon logs
it and runs no cycle of the mapping before the window ends, so a vendor's long pause is never met with
a retry loop.

Several replicas: each mapping is synced by the process holding its lock. A replica that cannot take
a lock stays on standby for that mapping and tries again every interval, so it takes over within one
interval when the leader dies. Leadership is checked, not assumed: the leader probes every lock it holds
at the start of every cycle and from a job of its own every interval (also while a long cycle runs or
nothing is written); a lost lock is logged ("lost the lock of the mapping"), counted
(``bridge_leadership_lost_total``) and ends the mapping's cycle at its next action, and the replica stands
back one interval so that a healthy standby takes over. Behind that, the store's fencing token
(:mod:`bridge.store.locks`) refuses the action of a leader that has not noticed yet.

Takeover grace: a replica that takes a lock (at start, or from standby) waits ``takeover_grace`` before
the mapping's first cycle, so that a previous holder's last request lands and a previous holder that lost
a database lock without noticing yet has ended its cycle. Every standby mapping's lock is tried at the
start of a pass, so the graces of several mappings run side by side. The wait is skipped only when it
protects nothing: a ``flock`` (one host) ends with its process, so no stale holder can still be cycling,
and with no pending action in the journal no request of the previous holder can be in flight.

Operations (docs/operations.md): with ``metrics_bind`` the daemon serves ``/metrics`` and ``/healthz``
(:mod:`bridge.health`) from a thread of its own, fed by every cycle. Under systemd (``Type=notify``) it
says ``READY=1`` once the store is open and migrated, each mapping's lock was tried (leader or standby)
and the scheduler runs; ``STATUS=`` after each pass; ``WATCHDOG=1`` from a scheduler job at half of
``WatchdogSec=``; ``STOPPING=1`` when asked to stop. Outside systemd those calls do nothing.

A standby replica is healthy: ``/healthz`` does not judge the mappings another replica leads, and a
standby's attempts are not cycles in its metrics (``bridge_leader`` is 0 for them).

structlog context is bound inside the job, because APScheduler runs jobs in worker threads where the
main thread's context variables are not visible.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from bridge import systemd
from bridge.commands._vendor_cache import keep_vendor_facts, prime_vendor_facts
from bridge.connectors import http
from bridge.connectors.http import RateLimitWindowError, until_text
from bridge.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    LockHeldError,
    MappingError,
    SafetyRailError,
    StoreError,
)
from bridge.health import HealthState, MetricsServer, StatusPageHandler, serve
from bridge.hints.config import HintsSettings
from bridge.hints.queue import HintQueue
from bridge.hints.server import HintCounts, HintServer
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.metrics import Metrics
from bridge.model import Ref
from bridge.store import LeadershipLostError
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine
from bridge.sync.hinted import run_hinted

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
        metrics_bind: str | None = None,
        health: HealthState | None = None,
        environ: Mapping[str, str] | None = None,
        takeover_grace_seconds: float | None = None,
        reload: Callable[[], list[MappingSpec]] | None = None,
        status_page: StatusPageHandler | None = None,
    ) -> None:
        self.engine = engine
        #: re-reads and validates the configuration on SIGHUP; raises ConfigError/MappingError to refuse
        self.reload_mappings = reload
        self._reload_requested = threading.Event()
        self._pass = threading.Lock()
        self.interval = float(interval_seconds)
        self.misfire_grace = int(misfire_grace_seconds or max(1, round(self.interval)))
        self.mapping_names = mappings
        self.on_cycle = on_cycle
        self.runs = 0
        self.last: dict[str, CycleReport | BaseException] = {}
        self.standby: set[str] = set()
        #: mappings whose lock this replica lost (its database connection died): it sits the next pass
        #: out, so that a healthy standby takes the mapping over rather than the replica that just failed
        self.standing_back: set[str] = set()
        #: mappings a vendor closed with a long ``Retry-After``: no cycle of them before that moment
        self.rate_limited_until: dict[str, datetime] = {}
        #: mappings whose rate limit is on the error list (resolved by the next cycle that runs)
        self.listed_rate_limits: set[str] = set()
        #: seconds a replica waits after taking a lock before the mapping's first cycle (module docstring)
        self.takeover_grace = min(self.interval, 5.0) if takeover_grace_seconds is None else takeover_grace_seconds
        #: monotonic time before which a newly taken mapping does not cycle (its takeover grace)
        self.ready_at: dict[str, float] = {}
        #: mappings whose lost lock was already logged and counted (by the probe or a cycle)
        self._lost_noted: set[str] = set()
        #: mappings in a cycle right now: the probe leaves the report of their lost lock to the cycle
        self._cycling: set[str] = set()
        self._lost_guard = threading.Lock()
        self.metrics_bind = metrics_bind
        self.status_page = status_page
        if metrics_bind is not None and engine.metrics is None:
            engine.metrics = Metrics(interval_seconds=self.interval)
        self.health = health or HealthState(self.interval, self._names())
        #: the running /metrics + /healthz server (``None`` unless ``metrics_bind`` and running)
        self.server: MetricsServer | None = None
        #: where sd_notify looks for $NOTIFY_SOCKET and $WATCHDOG_USEC (tests pass their own)
        self.environ = environ
        self._stopping = threading.Event()
        self._stop_notified = False
        self._scheduler = BackgroundScheduler(timezone=UTC)
        #: ``hints.*`` (:meth:`enable_hints`) and the listener while running
        self.hints_settings: HintsSettings | None = None
        self.hint_server: HintServer | None = None
        #: the vendor facts kept in the store (primed before the first pass, kept after each one): a
        #: restart neither re-reads nor re-learns them (bridge.commands._vendor_cache)
        self._vendor_facts: dict[str, Any] | None = None

    def _names(self) -> list[str]:
        return list(self.mapping_names or [m.name for m in self.engine.enabled_mappings()])

    # ------------------------------------------------------------------------------ the job

    def run_all(self) -> dict[str, CycleReport | BaseException]:
        """One pass over the mappings (the scheduled job). Never raises: each mapping's failure is
        logged and the next interval tries again. A mapping whose cycle stopped at its budget runs again
        at once (:meth:`_drain`)."""
        with self._pass:
            results = self._run_all()
        return self._drain(results)

    def _run_all(self, names: list[str] | None = None) -> dict[str, CycleReport | BaseException]:
        results: dict[str, CycleReport | BaseException] = {}
        if self._vendor_facts is None:
            self._vendor_facts = prime_vendor_facts(self.engine)
        refused = self._take_over_all()
        for name in names if names is not None else self._names():
            if self.engine.stop.is_set():
                break
            with structlog.contextvars.bound_contextvars(mapping=name, job="sync"):
                results[name] = refused[name] if name in refused else self._one(name)
            self._report(name, results[name])
            if self.on_cycle is not None:
                self.on_cycle(name, results[name])
        self.last.update(results)
        self.runs += 1
        keep_vendor_facts(self.engine, self._vendor_facts)
        systemd.notify_status(self.status_line(), self.environ)
        return results

    def _drain(self, results: dict[str, CycleReport | BaseException]) -> dict[str, CycleReport | BaseException]:
        """Cycles that left changes for later (``engine.cycle_budget``) run again without waiting for the
        interval, one bounded pass at a time: the pass lock is released between them, so webhook hints
        and a reload get their turn, and each pass starts with the newest changes."""
        backlog = [n for n, r in results.items() if isinstance(r, CycleReport) and r.deferred]
        while backlog and not self.engine.stop.is_set():
            with self._pass:
                again = self._run_all([n for n in backlog if n in self._names()])
            results.update(again)
            backlog = [n for n, r in again.items() if isinstance(r, CycleReport) and r.deferred]
        return results

    # ------------------------------------------------------------------------------ webhook hints

    def enable_hints(self, settings: HintsSettings) -> None:
        """Serve ``hints.bind`` while running (:mod:`bridge.hints`); off when ``settings.bind`` is unset."""
        self.hints_settings = settings if settings.bind is not None else None

    def run_hinted(self, name: str, refs: list[Ref]) -> CycleReport | BaseException | None:
        """A mini-cycle of hinted items, between two passes (never beside a cycle). ``None`` when the
        mapping is not ours to sync right now (standby, rate-limited, stopping); never raises."""
        if self.engine.stop.is_set() or name in self.standby or name in self.rate_limited_until:
            return None
        with self._pass:
            if name not in self._names():
                return None
            with structlog.contextvars.bound_contextvars(mapping=name, job="hint"):
                try:
                    return run_hinted(self.engine, name, refs)
                except LockHeldError as exc:
                    return exc
                except ConnectorError as exc:
                    log.warning("hinted items could not be read; the next poll reads them", error=str(exc))
                    return exc
                except Exception as exc:
                    log.exception("unexpected error in a hinted mini-cycle; the next poll reads the change")
                    return exc

    def _hinted_job(self, name: str, refs: list[Ref]) -> None:
        self.run_hinted(name, refs)

    def _start_hints(self) -> None:
        settings = self.hints_settings
        if settings is None:
            return
        queue = HintQueue(self._hinted_job, debounce=settings.debounce_seconds, max_items=settings.max_items)
        counts = HintCounts()
        if self.engine.metrics is not None:
            self.engine.metrics.registry.register(counts)
        try:
            self.hint_server = HintServer(settings, queue, self.engine.enabled_mappings, counts)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for webhook hints on {settings.bind}: {exc.strerror or exc}",
                ["hints.bind: choose a free address and port, or stop what listens there"],
            ) from None
        queue.start()
        self.hint_server.start()

    def _stop_hints(self) -> None:
        server = self.hint_server
        if server is not None:
            server.stop()
            server.queue.stop()
            if self.engine.metrics is not None:
                self.engine.metrics.registry.unregister(server.counts)
            self.hint_server = None

    def _report(self, name: str, result: CycleReport | BaseException) -> None:
        """Feed /healthz: a standby's attempt is no cycle; anything else is one, finished or not."""
        if isinstance(result, LockHeldError):
            self.health.set_standby(name, True)
            return
        self.health.set_standby(name, name in self.standby)
        self.health.cycle_finished(name, ok=isinstance(result, CycleReport))

    def status_line(self) -> str:
        """What ``systemctl status`` shows: leadership and the outcome of the last pass."""
        names = self._names()
        leading = [n for n in names if n not in self.standby]
        parts = [f"leader of {len(leading)} of {len(names)} mapping(s)"]
        if self.standby:
            parts.append(f"standby for {', '.join(sorted(self.standby))}")
        cycles = [r for n, r in self.last.items() if n in leading]
        if cycles:
            ok = [r for r in cycles if isinstance(r, CycleReport)]
            failed = len(cycles) - len(ok)
            actions = sum(len(r.outcomes) + len(r.reconciled) for r in ok)
            errors = sum(r.errors for r in ok)
            when = datetime.now(UTC).strftime("%H:%M:%SZ")
            parts.append(
                f"last cycle {when}: {len(ok)} ok, {failed} failed, {actions} action(s), {errors} new error(s)"
            )
        return "; ".join(parts)

    def _take_over_all(self) -> dict[str, BaseException]:
        """Try the lock of every standby mapping at the start of a pass, so their graces overlap.

        Returns the refusals (another replica leads, or the store failed): those mappings run no cycle.
        """
        refused: dict[str, BaseException] = {}
        for name in self._names():
            if name not in self.standby or name in self.standing_back or self.engine.stop.is_set():
                continue
            until = self.rate_limited_until.get(name)
            if until is not None and datetime.now(UTC) < until:
                continue
            with structlog.contextvars.bound_contextvars(mapping=name, job="sync"):
                try:
                    self._acquired(name)
                except (LockHeldError, StoreError) as exc:
                    refused[name] = exc
                    continue
                log.info("took over the mapping: now syncing it")
        return refused

    def _acquired(self, name: str) -> None:
        """Take the mapping's lock and start its takeover grace (see the module docstring).

        The lock frees the instant the leader dies, but a request the leader sent just before may still
        be processed by the vendor (a server finishes what it received). Reconciling at once could miss
        that write and repeat it; a short wait lets it land, so the marker search finds it. A database
        lock can also be lost by a replica that is still mid-cycle: the wait lets it notice and stop.
        """
        lock = self.engine.lead(name)
        grace = self.takeover_grace
        try:
            if not lock.lost_while_running and not self.engine.store.journal_counts(name).get("pending", 0):
                grace = 0.0
        except StoreError:
            self.engine.store.release_lock(name)
            raise
        self.ready_at[name] = time.monotonic() + grace
        self.standby.discard(name)
        with self._lost_guard:
            self._lost_noted.discard(name)
        if self.engine.metrics is not None:
            self.engine.metrics.leader(name, True)
        if grace:
            log.info("lock taken: the mapping's first cycle waits a grace period", grace_seconds=grace)

    def _wait_grace(self, name: str) -> None:
        """Wait out what is left of the mapping's takeover grace (already running since the lock was taken)."""
        ready = self.ready_at.pop(name, None)
        if ready is not None:
            self._stopping.wait(max(0.0, ready - time.monotonic()))

    def _lost(self, name: str, exc: LeadershipLostError) -> None:
        """Log and count a lost lock once, whoever noticed it first (the probe or a cycle)."""
        with self._lost_guard:
            if name in self._lost_noted:
                return
            self._lost_noted.add(name)
        log.error("lost the lock of the mapping: its cycle stops and this replica stands back",
                  mapping=name, error=str(exc))
        if self.engine.metrics is not None:
            self.engine.metrics.leadership_lost(name)

    def probe_locks(self) -> list[str]:
        """The scheduler's probe (every interval, beside the cycles): check every lock this replica holds.

        A lost lock stays lost. An idle mapping's is logged and counted at once; a running cycle of the
        mapping stops at its next action (the executor checks the lock) or is found out when it ends,
        and reports it then, so the log says "lost the lock" when the replica has stopped writing.
        Returns the mappings found lost.
        """
        lost = []
        for name in self._names():
            lock = self.engine.store.held_lock(name)
            if lock is None or name in self.standby:
                continue
            try:
                lock.check()
            except LeadershipLostError as exc:
                lost.append(name)
                if name not in self._cycling:  # a running cycle reports it when it stops (its next action)
                    self._lost(name, exc)
        return lost

    def _one(self, name: str) -> CycleReport | BaseException:
        until = self.rate_limited_until.get(name)
        if until is not None:
            if datetime.now(UTC) < until:
                return RateLimitWindowError(f"rate-limited until {until_text(until)}: cycle skipped", until=until)
            del self.rate_limited_until[name]
        if name in self.standing_back:
            self.standing_back.discard(name)
            return LockHeldError(f"lost the lock of mapping {name!r}: standing back one interval for a standby")
        held = self.engine.store.held_lock(name)
        if held is not None and name not in self.standby:
            try:
                held.check()  # leadership is checked at the start of every cycle, never assumed
            except LeadershipLostError as exc:
                self._stand_back(name, exc)
                return exc
        self._wait_grace(name)
        log.info("cycle started")
        self._cycling.add(name)
        try:
            result = self._cycle(name)
        finally:
            self._cycling.discard(name)
        log.info("cycle ended", ok=isinstance(result, CycleReport))
        held = self.engine.store.held_lock(name)
        if isinstance(result, CycleReport) and held is not None:
            try:
                held.check()  # a cycle with nothing to write never asked: was the lock held to its end?
            except LeadershipLostError as exc:
                self._stand_back(name, exc)
        return result

    def _stand_back(self, name: str, exc: LeadershipLostError) -> None:
        """Lost the lock: release it, go on standby and sit the next pass out (see ``standing_back``)."""
        self._lost(name, exc)
        self.engine.store.release_lock(name)
        self.standby.add(name)
        self.standing_back.add(name)
        self.ready_at.pop(name, None)
        if self.engine.metrics is not None:
            self.engine.metrics.leader(name, False)

    def _cycle(self, name: str) -> CycleReport | BaseException:
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
        except LeadershipLostError as exc:
            self._stand_back(name, exc)
            return exc
        except StoreError as exc:
            log.error("state store failed; releasing the mapping's lock and standing back", error=str(exc))
            self.engine.store.release_lock(name)
            self.standby.add(name)
            self.standing_back.add(name)
            if self.engine.metrics is not None:
                self.engine.metrics.leader(name, False)
            return exc
        except RateLimitWindowError as exc:
            self.rate_limited_until[name] = exc.until
            log.error("a side is rate-limited: no cycle of this mapping before its window ends",
                      side=exc.side, until=exc.until.isoformat(), error=str(exc))
            self._error_list(name, exc)
            return exc
        except ConnectorError as exc:
            log.warning("a side could not be read; the next interval retries", error=str(exc))
            return exc
        except Exception as exc:
            log.exception("unexpected error in a cycle, please report it")
            return exc
        if name in self.standby:  # it took the lock inside the cycle (no takeover grace was asked for)
            log.info("took over the mapping: now syncing it")
            self.standby.discard(name)
        if name in self.listed_rate_limits:
            self._error_list(name, None)
        return report

    def _error_list(self, name: str, limited: RateLimitWindowError | None) -> None:
        """A long rate limit is on the error list ("rate-limited until 17:42Z") until a cycle runs again."""
        fingerprint = f"rate-limit:{name}"
        try:
            if limited is not None:
                self.engine.store.report_problem(name, fingerprint, "rate_limited", str(limited))
                self.listed_rate_limits.add(name)
            else:
                self.engine.store.resolve_problems(name, [fingerprint])
                self.listed_rate_limits.discard(name)
        except StoreError as exc:
            log.warning("could not update the error list", error=str(exc))

    # ------------------------------------------------------------------------------ lifecycle

    def decide_leadership(self) -> None:
        """Try every mapping's lock once: leader or standby, known before systemd hears READY=1.

        A :class:`StoreError` (the database unreachable) propagates: the daemon has not started.
        """
        for name in self._names():
            if self.engine.store.held_lock(name) is not None and name not in self.standby:
                continue  # a reload keeps what it leads, without a new grace
            try:
                with structlog.contextvars.bound_contextvars(mapping=name):
                    self._acquired(name)  # a restarted replica waits the grace too
            except LockHeldError:
                self.standby.add(name)
                log.info("standby: another bridge process syncs this mapping", mapping=name)
            self.health.set_standby(name, name in self.standby)
            if self.engine.metrics is not None:
                self.engine.metrics.leader(name, name not in self.standby)

    def start(self) -> None:
        self.decide_leadership()
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
        self._scheduler.add_job(
            self.probe_locks, "interval", seconds=self.interval, id="bridge-lock-probe", max_instances=1,
            coalesce=True,
        )
        watchdog = systemd.watchdog_interval(self.environ)
        if watchdog is not None:
            # A job of the scheduler itself: if the scheduler dies, the pings stop and systemd restarts us.
            self._scheduler.add_job(
                self._watchdog, "interval", seconds=watchdog, id="bridge-watchdog", max_instances=1, coalesce=True
            )
        self._scheduler.start()
        log.info(
            "daemon started",
            interval_seconds=self.interval,
            mappings=self.mapping_names or "all enabled",
            standby=sorted(self.standby),
            watchdog_seconds=watchdog,
        )

    def schedule(self, func: Callable[[], None], trigger: Any, job_id: str) -> None:
        """Run ``func`` on an APScheduler ``trigger`` beside the cycles (the trends digest's cron job)."""
        self._scheduler.add_job(func, trigger, id=job_id, max_instances=1, coalesce=True, misfire_grace_time=3600)

    def _watchdog(self) -> None:
        systemd.notify_watchdog(self.environ)

    def serve_metrics(self) -> MetricsServer | None:
        """Start ``/metrics`` + ``/healthz`` on ``metrics_bind`` (``None`` when unset)."""
        if self.metrics_bind is None:
            return None
        assert self.engine.metrics is not None  # set in __init__ when metrics_bind is
        try:
            self.server = serve(self.metrics_bind, self.engine.metrics, self.health, self.status_page)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {self.metrics_bind}: {exc.strerror or exc}",
                ["metrics.bind: choose a free local address and port, or stop what listens there"],
            ) from None
        return self.server

    def reload(self) -> bool:
        """Re-read the mappings and swap them in between two passes; an invalid configuration is refused
        (its problems logged) and the daemon keeps running the previous one. Returns whether it swapped."""
        if self.reload_mappings is None:
            log.warning("reload requested but this daemon has no configuration to re-read")
            return False
        systemd.notify_status("reloading the configuration", self.environ)
        try:
            mappings = self.reload_mappings()
        except (ConfigError, MappingError) as exc:
            log.error("reload refused: the new configuration is invalid; still running the previous one",
                      error=str(exc), problems=[str(p) for p in exc.problems])
            systemd.notify_status("reload refused (invalid configuration); " + self.status_line(), self.environ)
            return False
        with self._pass:  # never in the middle of a pass
            before = set(self._names())
            self.engine.replace_mappings(mappings)
            after = set(self._names())
            for name in sorted(before - after):
                self.engine.store.release_lock(name)
                self.standby.discard(name)
                self.last.pop(name, None)
            self.health.set_mappings(after)
            self.decide_leadership()
        log.info("configuration reloaded", added=sorted(after - before), removed=sorted(before - after),
                 mappings=sorted(after))
        systemd.notify_status(self.status_line(), self.environ)
        return True

    def request_reload(self, *_: Any) -> None:
        """Ask for a reload at the next second of the main loop. Safe from a signal handler."""
        self._reload_requested.set()

    def request_stop(self, *_: Any) -> None:
        """Ask for a clean stop: finish the current action, commit, exit. Safe from a signal handler."""
        self.engine.stop.set()
        http.request_stop()
        self._stopping.set()
        self._notify_stopping()

    def _notify_stopping(self) -> None:
        if not self._stop_notified:
            self._stop_notified = True
            systemd.notify_stopping("stopping: finishing the current action", self.environ)

    def run_forever(self, *, install_signals: bool = True) -> int:
        """Start, wait for SIGTERM/SIGINT (or :meth:`request_stop`), stop cleanly; returns exit code 0."""
        previous: dict[int, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_reload_signal)
        if not self._stopping.is_set():
            http.reset_stop()  # a stop of an earlier run in this process (tests, the demo) is over
        try:
            self.serve_metrics()
            self._start_hints()
            self.start()
            systemd.notify_ready(self.status_line(), self.environ)
            while not self._stopping.wait(timeout=1.0):
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self.reload()
        finally:
            log.info("stopping: finishing the current action")
            self._notify_stopping()
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)
            if self.server is not None:
                self.server.stop()
                self.server = None
            self._stop_hints()
            for number, handler in previous.items():
                signal.signal(number, handler)
            http.reset_stop()  # nothing of this run waits any more; a later run in this process starts fresh
        log.info("daemon stopped", cycles=self.runs)
        return 0

    def _on_reload_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal received: reloading the configuration", signal=signal.Signals(signum).name)
        self.request_reload()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal received", signal=signal.Signals(signum).name)
        self.request_stop()
