"""From the store's error list and mapping status to notification events (pure, with a memory).

:class:`Watch` remembers what it already announced, so each error entry is announced once (again only if
it is resolved and comes back), a stale mapping once until it recovers, and its recovery once. It is seeded
with the entries already open when the daemon starts (:meth:`Watch.seed`): a restart does not re-send
yesterday's list. The price: an entry that joined while no daemon ran (a one-shot ``bridge sync``) is not
announced; ``bridge errors`` and the status page still show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.store.entries import ErrorEntry, MappingStatus

ERROR = "error"
STALE = "stale"
RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person should know. ``key`` de-duplicates; ``action`` is the command to run, if any."""

    kind: str
    mapping: str
    key: str
    title: str
    detail: str
    action: str | None
    at: datetime


def error_event(entry: ErrorEntry) -> Event:
    where = f" on {entry.item_ref}" if entry.item_ref else ""
    return Event(
        kind=ERROR,
        mapping=entry.mapping,
        key=f"error:{entry.id}",
        title=f"{entry.mapping}: error #{entry.id} ({entry.kind}){where}",
        detail=entry.message,
        action=f"bridge retry {entry.id}",
        at=entry.last_seen,
    )


@dataclass
class Watch:
    """What was announced: open error ids, and the mappings announced as stale."""

    errors: set[int] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)

    def seed(self, open_errors: Iterable[ErrorEntry]) -> None:
        self.errors.update(e.id for e in open_errors if not e.resolved)

    def check(
        self,
        open_errors: Iterable[ErrorEntry],
        statuses: Mapping[str, MappingStatus],
        limits: Mapping[str, float],
        now: datetime,
        started: datetime,
    ) -> list[Event]:
        """The events since the last check. ``limits``: staleness limit in seconds per mapping watched;
        a mapping that never succeeded is measured from ``started`` (the daemon's start)."""
        events: list[Event] = []
        current = {e.id: e for e in open_errors if not e.resolved}
        for entry_id in sorted(current.keys() - self.errors):
            events.append(error_event(current[entry_id]))
        self.errors = set(current)

        for mapping, limit in sorted(limits.items()):
            status = statuses.get(mapping)
            last = status.last_success if status is not None else None
            age = (now - (last or started)).total_seconds()
            if age > limit and mapping not in self.stale:
                self.stale.add(mapping)
                since = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "since the daemon started"
                events.append(
                    Event(
                        kind=STALE,
                        mapping=mapping,
                        key=f"stale:{mapping}",
                        title=f"{mapping}: not synced for {_duration(age)}",
                        detail=f"no successful cycle {since} (limit {_duration(limit)})",
                        action="bridge doctor",
                        at=now,
                    )
                )
            elif age <= limit and mapping in self.stale:
                self.stale.discard(mapping)
                events.append(
                    Event(
                        kind=RECOVERED,
                        mapping=mapping,
                        key=f"recovered:{mapping}",
                        title=f"{mapping}: syncing again",
                        detail=f"last successful cycle {last:%Y-%m-%d %H:%M:%S} UTC" if last else "",
                        action=None,
                        at=now,
                    )
                )
        return events


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 7200:
        return f"{seconds // 3600} h"
    if seconds >= 120:
        return f"{seconds // 60} min"
    return f"{seconds} s"
