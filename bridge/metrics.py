"""Prometheus metrics: what the engine reports, in one place, on a registry of its own.

The engine calls the :class:`Metrics` methods; operators read the result at ``/metrics`` (see
:mod:`bridge.health` for the server) or in a node_exporter textfile (:func:`write_textfile`, for
``bridge sync --once`` from a timer or cron). Every metric and its meaning is listed in
``docs/operations.md``.

Why an own :class:`~prometheus_client.CollectorRegistry` and not the global one: two engines in
one process (tests, a replica test harness) would otherwise share and corrupt each other's
counters, and the default registry's process and platform collectors are noise next to what an
operator of a sync daemon needs.

Label values are checked against closed sets (side, cycle and action outcomes): a typo in the
engine must fail loudly in tests rather than quietly create a new time series nobody alerts on.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import weakref
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge import __version__
from bridge.callcount import CallCounter

SIDES = frozenset({"itsm", "jira"})
#: Kinds of error-list entries (the store's ``kind``), each exported per mapping even when zero.
ERROR_KINDS = ("action_failed", "conflict", "plan_problem")
ACTION_OUTCOMES = frozenset({"done", "failed", "pending", "skipped"})
CYCLE_OUTCOMES = ("ok", "failed")
#: Status label of a vendor call that got no HTTP response (connection refused, timeout, TLS).
NO_RESPONSE = "error"
#: Answers that mean "slow down": 429 Too Many Requests, and 503, which ServiceNow's rate-limit rules and
#: Atlassian's overload protection both send (counted in ``bridge_rate_limited_total``).
BUSY_STATUSES = frozenset({429, 503})
#: Cycle durations: a quiet cycle takes about a second; a backlog after downtime takes minutes.
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class _ErrorEntry(Protocol):
    @property
    def mapping(self) -> str: ...
    @property
    def kind(self) -> str: ...


class _PendingEntry(Protocol):
    @property
    def created(self) -> datetime: ...


class StoreFigures(Protocol):
    """What :meth:`Metrics.record_store` reads from :class:`bridge.store.Store` (metrics sit below the store)."""

    def errors(self) -> Sequence[_ErrorEntry]: ...
    def pending_entries(self, mapping: str) -> Sequence[_PendingEntry]: ...


def _side(side: object) -> str:
    value = str(side)
    if value not in SIDES:
        raise ValueError(f"unknown side {value!r} (expected one of {sorted(SIDES)})")
    return value


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """The totals of a :class:`CallCounter` at one moment: the baseline for the next delta."""

    calls: Mapping[str, int] = field(default_factory=dict)
    statuses: Mapping[tuple[str, int], int] = field(default_factory=dict)
    retries: int = 0

    @classmethod
    def take(cls, counter: CallCounter) -> CallSnapshot:
        return cls(calls=counter.snapshot(), statuses=counter.statuses(), retries=counter.retries)


class _SinceLastSuccess(Collector):
    """``bridge_seconds_since_last_success``, computed when scraped so it grows between cycles.

    A mapping that has started a cycle but never succeeded reports the time since this process
    first saw it, so a mapping broken from the start still trips the staleness alert.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "bridge_seconds_since_last_success",
            "Seconds since the mapping's last successful cycle (since first seen, if none yet).",
            labels=["mapping"],
        )
        now = self._metrics.clock()
        for mapping, since in sorted(self._metrics.reference_times().items()):
            family.add_metric([mapping], max(0.0, now - since))
        yield family


class Metrics:
    """The metrics one engine reports. Thread-safe: cycles run in a worker thread while scrapes read.

    ``clock`` returns Unix seconds; tests inject one. ``interval_seconds`` (the schedule) is
    exported as ``bridge_schedule_interval_seconds`` so alert rules can express staleness in
    intervals without repeating the configuration.
    """

    def __init__(
        self,
        *,
        interval_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._first_seen: dict[str, float] = {}
        self._last_success: dict[str, float] = {}
        self._call_baselines: weakref.WeakKeyDictionary[CallCounter, CallSnapshot] = weakref.WeakKeyDictionary()
        r = self.registry

        self._info = Gauge("bridge_build_info", "Always 1; the running bridge version.", ["version"], registry=r)
        self._info.labels(__version__).set(1)
        self._interval = Gauge("bridge_schedule_interval_seconds", "Configured seconds between two cycles.", registry=r)
        if interval_seconds is not None:
            self.schedule_interval(interval_seconds)
        self._cycles = Counter(
            "bridge_cycles_total",
            "Finished cycles by mapping and outcome (ok|failed).",
            ["mapping", "outcome"],
            registry=r,
        )
        self._duration = Histogram(
            "bridge_cycle_duration_seconds",
            "Wall-clock duration of finished cycles.",
            ["mapping"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self._running = Gauge("bridge_cycle_running", "1 while a cycle of the mapping runs.", ["mapping"], registry=r)
        self._last_success_ts = Gauge(
            "bridge_last_success_timestamp_seconds",
            "Unix time the mapping's last successful cycle finished.",
            ["mapping"],
            registry=r,
        )
        self._last_cycle_ts = Gauge(
            "bridge_last_cycle_timestamp_seconds",
            "Unix time the mapping's last cycle (any outcome) finished.",
            ["mapping"],
            registry=r,
        )
        r.register(_SinceLastSuccess(self))
        self._actions = Counter(
            "bridge_actions_total",
            "Actions by mapping, kind and outcome (done|failed|pending|skipped).",
            ["mapping", "kind", "outcome"],
            registry=r,
        )
        self._calls = Counter(
            "bridge_vendor_calls_total",
            "HTTP requests to a side by endpoint template and status ('error': no response).",
            ["side", "endpoint", "status"],
            registry=r,
        )
        self._rate_limited = Counter(
            "bridge_rate_limited_total",
            "Responses telling bridge to slow down (429 and 503), every one, retried or not.",
            ["side"],
            registry=r,
        )
        self._retries = Counter(
            "bridge_retries_total", "Vendor calls retried after a transient error.", ["side"], registry=r
        )
        self._error_list = Gauge(
            "bridge_error_list_size",
            "Entries on the error list awaiting an operator, by mapping and kind "
            "(action_failed|conflict|plan_problem).",
            ["mapping", "kind"],
            registry=r,
        )
        self._error_series: set[tuple[str, str]] = set()
        self._oldest_pending = Gauge(
            "bridge_oldest_pending_action_age_seconds",
            "Age of the mapping's oldest action waiting in the journal for a retry (0: none waits).",
            ["mapping"],
            registry=r,
        )
        self._links = Gauge("bridge_links", "Stored links (issue <-> records) per mapping.", ["mapping"], registry=r)
        self._pending = Gauge(
            "bridge_pending_actions",
            "Actions planned but not yet applied (journal) per mapping.",
            ["mapping"],
            registry=r,
        )
        self._leader = Gauge(
            "bridge_leader",
            "1 if this replica holds the mapping's lock and syncs it, else 0.",
            ["mapping"],
            registry=r,
        )
        self._leadership_lost = Counter(
            "bridge_leadership_lost",
            "Times this replica lost the mapping's lock while leading it (its lock connection died, or "
            "another replica took the mapping over).",
            ["mapping"],
            registry=r,
        )

    # ----------------------------------------------------------------------------------- cycles
    def schedule_interval(self, seconds: float) -> None:
        """Record the configured cycle interval (exported for alert rules)."""
        if seconds <= 0:
            raise ValueError("interval must be positive")
        self._interval.set(seconds)

    def cycle_started(self, mapping: str) -> None:
        """A cycle of ``mapping`` begins: marks it running and starts its staleness clock."""
        with self._lock:
            self._first_seen.setdefault(mapping, self.clock())
        self._running.labels(mapping).set(1)
        self._ensure_series(mapping)

    def cycle_finished(self, mapping: str, duration_s: float, ok: bool) -> None:
        """A cycle of ``mapping`` ended; ``ok`` is False when it stopped early (a side or the store failed).

        A cycle whose individual records went to the error list still finished: ``ok=True``.
        """
        if duration_s < 0:
            raise ValueError("duration must not be negative")
        now = self.clock()
        with self._lock:
            self._first_seen.setdefault(mapping, now)
            if ok:
                self._last_success[mapping] = now
        self._running.labels(mapping).set(0)
        self._cycles.labels(mapping, "ok" if ok else "failed").inc()
        self._duration.labels(mapping).observe(duration_s)
        self._last_cycle_ts.labels(mapping).set(now)
        if ok:
            self._last_success_ts.labels(mapping).set(now)

    def restore_last_success(self, mapping: str, timestamp: float) -> None:
        """Seed the last success from the state store, for a one-shot run writing a textfile.

        Without it ``bridge sync --once`` would forget, in a failed run, when the mapping last
        succeeded; a later timestamp already recorded is kept.
        """
        with self._lock:
            if self._last_success.get(mapping, float("-inf")) >= timestamp:
                return
            self._last_success[mapping] = timestamp
            self._first_seen.setdefault(mapping, timestamp)
        self._last_success_ts.labels(mapping).set(timestamp)
        self._ensure_series(mapping)

    def reference_times(self) -> dict[str, float]:
        """Per mapping, the time staleness is measured from: last success, else first seen."""
        with self._lock:
            return {m: self._last_success.get(m, first) for m, first in self._first_seen.items()}

    def last_success(self, mapping: str) -> float | None:
        with self._lock:
            return self._last_success.get(mapping)

    def _ensure_series(self, mapping: str) -> None:
        # Both outcomes exist from the first cycle on, so rate()/increase() see the first failure.
        for outcome in CYCLE_OUTCOMES:
            self._cycles.labels(mapping, outcome)

    # ---------------------------------------------------------------------------------- actions
    def action(self, mapping: str, kind: str, outcome: str) -> None:
        """One action's outcome. ``kind`` is the action class name (``CreateIssue``, ``AddComment`` ...)."""
        if outcome not in ACTION_OUTCOMES:
            raise ValueError(f"unknown action outcome {outcome!r} (expected one of {sorted(ACTION_OUTCOMES)})")
        self._actions.labels(mapping, kind, outcome).inc()

    # ------------------------------------------------------------------------------ vendor calls
    def vendor_calls(self, side: str, endpoint: str, status: int | str | None, count: int = 1) -> None:
        """``count`` requests to ``endpoint`` (a template such as ``GET /rest/api/3/issue/{id}``).

        ``status`` is the HTTP status, or ``None`` when no response came (exported as ``error``).
        """
        if count < 0:
            raise ValueError("count must not be negative")
        if count:
            label = NO_RESPONSE if status is None else str(status)
            self._calls.labels(_side(side), endpoint, label).inc(count)

    def record_calls(self, side: str, counter: CallCounter, since: CallSnapshot | None = None) -> CallSnapshot:
        """Add the calls ``counter`` saw after ``since`` and return the new baseline.

        The same delta feeds ``bridge_rate_limited_total`` (every 429/503 response) and
        ``bridge_retries_total`` (every retry the shared HTTP layer noted in ``counter``).

        With ``since=None`` the baseline is the snapshot this method returned last time for this
        very counter (empty the first time), so the engine can simply call
        ``metrics.record_calls("jira", connector.calls)`` after each cycle and nothing is counted
        twice. Calls counted without a status (no response) are exported with status ``error``.
        Call it between cycles: the counter's totals and statuses are two reads, and a request
        finishing between them would be attributed to the next delta's ``error`` bucket.
        """
        side = _side(side)
        now = CallSnapshot.take(counter)
        with self._lock:
            base = since if since is not None else self._call_baselines.get(counter, CallSnapshot())
            self._call_baselines[counter] = now
        with_status: dict[str, int] = {}
        for (endpoint, status), total in now.statuses.items():
            delta = total - base.statuses.get((endpoint, status), 0)
            if delta > 0:
                self.vendor_calls(side, endpoint, status, delta)
                with_status[endpoint] = with_status.get(endpoint, 0) + delta
                if status in BUSY_STATUSES:
                    self.rate_limited(side, delta)
        if now.retries > base.retries:
            self.retried(side, now.retries - base.retries)
        for endpoint, total in now.calls.items():
            no_response = total - base.calls.get(endpoint, 0) - with_status.get(endpoint, 0)
            if no_response > 0:
                self.vendor_calls(side, endpoint, None, no_response)
        return now

    def rate_limited(self, side: str, count: int = 1) -> None:
        """A side told bridge to slow down (429, or 503 with ``Retry-After``)."""
        self._rate_limited.labels(_side(side)).inc(count)

    def retried(self, side: str, count: int = 1) -> None:
        """A vendor call is being retried after a transient error."""
        self._retries.labels(_side(side)).inc(count)

    # ----------------------------------------------------------------------------------- gauges
    def error_list(self, counts: Mapping[tuple[str, str], int], mappings: Iterable[str] = ()) -> None:
        """Open entries on the error list now, by ``(mapping, kind)``.

        Every kind of every mapping in ``mappings`` gets a series (0 when empty) so an alert sees the
        first entry arrive, and a series seen before that has no entry now drops to 0 rather than
        keeping its last value.
        """
        wanted = {(mapping, kind) for mapping in mappings for kind in ERROR_KINDS}
        with self._lock:
            series = self._error_series | wanted | set(counts)
            self._error_series = series
        for mapping, kind in sorted(series):
            self._error_list.labels(mapping, kind).set(counts.get((mapping, kind), 0))

    def oldest_pending(self, mapping: str, age_seconds: float) -> None:
        """Seconds the mapping's oldest pending action has waited (0 when none waits)."""
        self._oldest_pending.labels(mapping).set(max(0.0, age_seconds))

    def record_store(self, store: StoreFigures, mappings: Iterable[str]) -> None:
        """The figures only the state store knows: the error list and the oldest pending action."""
        names = list(mappings)
        counts = Tally((entry.mapping, entry.kind) for entry in store.errors())
        self.error_list(counts, names)
        now = self.clock()
        for mapping in names:
            created = [entry.created.timestamp() for entry in store.pending_entries(mapping)]
            self.oldest_pending(mapping, now - min(created) if created else 0.0)

    def links(self, mapping: str, n: int) -> None:
        self._links.labels(mapping).set(n)

    def pending_actions(self, mapping: str, n: int) -> None:
        self._pending.labels(mapping).set(n)

    def leader(self, mapping: str, is_leader: bool) -> None:
        """Whether this replica holds the mapping's lock (alert when no replica does)."""
        self._leader.labels(mapping).set(1 if is_leader else 0)
        self._leadership_lost.labels(mapping)  # exported from 0, so increase() sees the first loss

    def leadership_lost(self, mapping: str) -> None:
        """This replica lost the mapping's lock while leading it (it stops and goes on standby)."""
        self._leadership_lost.labels(mapping).inc()
        self._leader.labels(mapping).set(0)

    # ------------------------------------------------------------------------------------ output
    def exposition(self) -> bytes:
        """The Prometheus text format of every metric, as served at ``/metrics``."""
        return generate_latest(self.registry)


def write_textfile(path: str | os.PathLike[str], metrics: Metrics) -> Path:
    """Write the metrics for node_exporter's textfile collector, atomically.

    Written to a temporary file in the same directory, fsynced, then renamed over ``path``, so
    the collector never reads half a file. Unlike ``prometheus_client.write_to_textfile`` the
    file is made world-readable (0644): the services run with ``UMask=0077`` and node_exporter
    runs as another user. The name must end in ``.prom``, or the collector ignores it.
    """
    target = Path(path)
    if target.suffix != ".prom":
        raise ValueError(f"{target}: node_exporter only reads files ending in .prom")
    data = metrics.exposition()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
