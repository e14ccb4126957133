"""The daemon's side of notifications: after each mapping's cycle, look at the store and notify.

Runs as the daemon's ``on_cycle`` callback (in the scheduler's thread, after the cycle committed), so it
costs two small store reads per cycle and no vendor call. A failure here is logged and never fails the
cycle. A scheduler that stops calling cycles altogether is caught by ``/healthz`` and systemd's watchdog,
not by this hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bridge.logging import get_logger
from bridge.notify.config import NotifySettings
from bridge.notify.detect import Watch
from bridge.notify.dispatch import Dispatcher, Message, Sender
from bridge.store import Store

log = get_logger(__name__)

DEFAULT_STALE_INTERVALS = 3  # the same rule as /healthz (bridge.health)


class NotifyHook:
    def __init__(
        self,
        settings: NotifySettings,
        store: Store,
        mappings: Sequence[str],
        *,
        interval_seconds: float,
        senders: Sequence[Sender],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.store = store
        self.now = now
        self.started = now()
        default = settings.stale_after_seconds or DEFAULT_STALE_INTERVALS * interval_seconds
        self.limits = {m: float(settings.mapping_stale_after_seconds.get(m, default)) for m in mappings}
        self.watch = Watch()
        self.watch.seed(store.errors())
        self.dispatcher = dispatcher or Dispatcher(
            senders,
            summary_after=settings.summary_after,
            max_messages=settings.max_messages,
            window_seconds=settings.window_seconds,
        )

    def check(self) -> list[Message]:
        events = self.watch.check(
            self.store.errors(), self.store.mapping_statuses(), self.limits, self.now(), self.started
        )
        return self.dispatcher.dispatch(events)

    def __call__(self, mapping: str, result: object) -> None:
        try:
            self.check()
        except Exception:  # notifications are best effort: the sync goes on
            log.exception("notification check failed", mapping=mapping)


def build_hook(
    settings: NotifySettings, store: Store, mappings: Sequence[str], *, interval_seconds: float
) -> NotifyHook | None:
    """The hook for ``bridge run`` (``None`` when no target is configured)."""
    if not settings.enabled:
        return None
    from bridge.notify.senders import build_senders

    return NotifyHook(
        settings, store, mappings, interval_seconds=interval_seconds, senders=build_senders(settings.targets)
    )
