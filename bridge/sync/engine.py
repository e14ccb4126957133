"""The engine: the long-lived parts one bridge process syncs with (store, both connectors, mappings).

Built by :func:`bridge.bootstrap.build_engine` (or directly by tests, with the memory connectors), used
by :func:`bridge.sync.cycle.run_cycle` for one-shot runs and by :mod:`bridge.daemon` alike. It owns the
**stop flag** (raised by SIGTERM/SIGINT: the executor finishes the current action and stops between
actions) and the per-mapping locks held through the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bridge.connectors.base import Connector
from bridge.errors import ConfigError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.metrics import Metrics
from bridge.model import Side
from bridge.store import MappingLock, Store
from bridge.sync.carryover import Backlog


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Tuning knobs of the cycle and the executor.

    ``overlap`` is how far before the cursor each change query starts (vendors' clocks, replication
    lag and second-granular timestamps make exact high-water marks lose changes). ``backoff_base`` and
    ``backoff_cap`` (seconds) space the retries of an action that failed transiently.
    """

    overlap: timedelta = timedelta(minutes=2)
    #: how long each side's search index may lag behind its writes (Jira's search index is eventually
    #: consistent; ServiceNow and RT query the database). After a cycle that found nothing new, a side's
    #: cursor moves to the vendor's time of that search minus this, so a burst long past no longer falls
    #: into every idle cycle's overlap window (docs/operations.md, "Cursors and the overlap window").
    index_lag_itsm: timedelta = timedelta(seconds=2)
    index_lag_jira: timedelta = timedelta(seconds=5)
    #: where a known mapping's side without a cursor starts reading, before the clock (setting
    #: ``schedule.backfill_window_days``; :func:`bridge.sync.watermarks.windows`)
    backfill_window: timedelta = timedelta(days=7)
    #: done journal rows of links that no longer sync are deleted after this (``state.journal_retention_days``;
    #: ``None``: never), at most once a day (:mod:`bridge.store.repositories.housekeeping`)
    journal_retention: timedelta | None = timedelta(days=90)
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    #: apply the ITSM side's and the Jira side's actions of a cycle at the same time (two threads, each
    #: side in plan order): a backlog is then bound by the busier side's rate limit, not by both added up
    parallel_sides: bool = False
    #: with ``parallel_sides``: concurrent lanes per side (each link stays in one lane, so in order); more
    #: than one only helps when a vendor's latency, not its rate limit, bounds a side
    workers_per_side: int = 1
    #: about how many actions one cycle of a mapping applies (``engine.cycle_budget``; ``None``: all of
    #: them); the rest waits for the next cycles (:mod:`bridge.sync.budget`)
    cycle_budget: int | None = None
    #: about how long one cycle of a mapping may take, seconds (``engine.cycle_seconds``; ``None``: no
    #: bound): past it the executor stops between actions and leaves the rest pending (:mod:`bridge.sync.deadline`)
    cycle_seconds: float | None = None
    #: where copied files wait between download and upload: the state directory (``None``: the system's)
    work_dir: str | None = None


class Engine:
    """See the module docstring. ``clock`` is injectable so tests control backoff deadlines;
    ``metrics`` (optional) receives every cycle's figures (:mod:`bridge.metrics`)."""

    def __init__(
        self,
        store: Store,
        itsm: Connector,
        jira: Connector,
        mappings: Iterable[MappingSpec],
        *,
        options: EngineOptions | None = None,
        clock: Callable[[], datetime] = _utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.itsm = itsm
        self.jira = jira
        self.options = options or EngineOptions()
        self.clock = clock
        self.stop = threading.Event()
        #: told ``(mapping, done, total)`` as a cycle's actions are applied (:class:`bridge.progress.Progress`)
        self.progress: Callable[[str, int, int], None] | None = None
        #: per mapping, the backlog carried between cycles in this process (:mod:`bridge.sync.carryover`):
        #: an optimisation only, never the truth (the stored cursors are)
        self.backlogs: dict[str, Backlog] = {}
        self._mappings: dict[str, MappingSpec] = {}
        for spec in mappings:
            if spec.name in self._mappings:
                raise ConfigError(
                    f"two mappings are named {spec.name!r}", [f"mapping name {spec.name!r} is not unique"]
                )
            self._mappings[spec.name] = spec

    @property
    def connectors(self) -> Mapping[Side, Connector]:
        return {Side.ITSM: self.itsm, Side.JIRA: self.jira}

    @property
    def mappings(self) -> list[MappingSpec]:
        return list(self._mappings.values())

    def replace_mappings(self, mappings: Iterable[MappingSpec]) -> None:
        """Swap in a reloaded, already validated set of mappings (``bridge run`` on SIGHUP, between passes)."""
        specs = list(mappings)
        spec_by_name = {spec.name: spec for spec in specs}
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ConfigError("two mappings share a name", [f"mapping names: {', '.join(sorted(names))}"])
        # a carried backlog was read with the old route: the next cycles search from the held cursors again
        self.backlogs = {name: backlog for name, backlog in self.backlogs.items()
                         if name in self._mappings and self._mappings[name] == spec_by_name.get(name)}
        self._mappings = spec_by_name

    def enabled_mappings(self) -> list[MappingSpec]:
        return [m for m in self._mappings.values() if m.enabled]

    def mapping(self, name: str) -> MappingSpec:
        """The mapping called ``name``; :class:`ConfigError` naming the known ones otherwise."""
        try:
            return self._mappings[name]
        except KeyError:
            known = ", ".join(sorted(self._mappings)) or "none"
            raise ConfigError(f"no mapping named {name!r}", [f"known mappings: {known}"]) from None

    def backlog(self, mapping: str) -> Backlog:
        """The carried backlog of ``mapping`` in this process (made empty on first use)."""
        return self.backlogs.setdefault(mapping, Backlog())

    def lead(self, mapping: str) -> MappingLock:
        """Hold the lock of ``mapping`` (kept until :meth:`close`); :class:`LockHeldError` when another has it."""
        return self.store.acquire_lock(mapping)

    def close(self) -> None:
        """Release the locks, the database and the connectors' sessions."""
        try:
            self.store.close()
        finally:
            for connector in (self.itsm, self.jira):
                connector.close()
