"""What both in-memory fakes share: clock, locking, call counting, fault injection, stored items.

See :mod:`bridge.connectors.memory` for what the fakes reproduce and their scripting API.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.connectors.base import Connector
from bridge.errors import NotFoundError
from bridge.model import Comment, FieldValue, Item, Ref, Side, Visibility

Clock = Callable[[], datetime]

INTEGRATION_USER = "svc.bridge"
MARKER_PROPERTY = "bridge.marker"


class SimulatedCrash(Exception):
    """Raised by :meth:`MemoryConnector.crash_after_next_write`: the write happened, the caller died."""


class ManualClock:
    """A clock tests move by hand. Starts at ``start`` (UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, *, minutes: float = 0) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, minutes=minutes)
            return self._now

    def set(self, value: datetime) -> None:
        with self._lock:
            self._now = value


def floor_to_minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def floor_to_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def floor_to_milli(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class _Entry:
    """One stored comment / journal entry."""

    id: str
    author: str
    text: str  # ITSM: body with the marker line; Jira: body only
    created: datetime
    channel: str
    visibility: Visibility | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class _Stored:
    """One stored record or issue (mutable, guarded by the connector's lock)."""

    ref: Ref
    fields: dict[str, FieldValue]
    status: str
    updated: datetime
    edits: int = 0
    updated_by: str | None = None
    marker: str | None = None
    comments: list[_Entry] = field(default_factory=list)
    remote_links: dict[str, dict[str, Any]] = field(default_factory=dict)


class MemoryConnector(Connector):
    """What both fakes share: locking, clock, counting, fault injection, lookups."""

    side: Side
    name = "memory"
    display_name = "Memory"

    def __init__(self, *, clock: Clock | None = None, page_size: int = 50, base_url: str = "") -> None:
        super().__init__()
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self.base_url = base_url.rstrip("/")
        self.after_write: Callable[[str, Ref], None] | None = None
        self._lock = threading.RLock()
        self._items: dict[str, _Stored] = {}
        self._faults: dict[str, deque[BaseException]] = {}
        self._crash: list[str | None] = []
        self._sequence = 0
        self.closed = False

    # ------------------------------------------------------------------------------ fault injection

    def fail_next(self, operation: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of port method ``operation`` raise ``error`` before changing anything."""
        if not callable(getattr(self, operation, None)):
            raise ValueError(f"{type(self).__name__} has no operation {operation!r}")
        with self._lock:
            self._faults.setdefault(operation, deque()).extend([error] * times)

    def crash_after_next_write(self, operation: str | None = None) -> None:
        """The next write (of ``operation``, or any) happens, then raises :class:`SimulatedCrash`."""
        with self._lock:
            self._crash.append(operation)

    def _fault(self, operation: str, endpoint: str) -> None:
        with self._lock:
            queue = self._faults.get(operation)
            error = queue.popleft() if queue else None
        if error is not None:
            self.calls.count(endpoint, getattr(error, "status", None))
            raise error

    def _written(self, operation: str, ref: Ref) -> None:
        with self._lock:
            armed = next((i for i, op in enumerate(self._crash) if op in (None, operation)), None)
            if armed is not None:
                self._crash.pop(armed)
        if self.after_write is not None:
            self.after_write(operation, ref)
        if armed is not None:
            raise SimulatedCrash(f"simulated crash after {operation} on {ref.key}")

    # ------------------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        raise NotImplementedError

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _find(self, ref: Ref | str, endpoint: str) -> _Stored:
        """The stored item for a Ref, id or key; NotFoundError (counted 404) otherwise. Lock held."""
        wanted = ref.id if isinstance(ref, Ref) else ref
        item = self._items.get(wanted)
        if item is None:
            item = next((i for i in self._items.values() if i.ref.key == wanted), None)
        if item is None:
            if not endpoint.startswith("SCRIPT"):
                self.calls.count(endpoint, 404)
            raise NotFoundError(self._not_found_text(), side=self.side.value, method=endpoint.split()[0],
                                endpoint=endpoint.split()[1], status=404, vendor_message=self._not_found_text())
        return item

    def _not_found_text(self) -> str:
        raise NotImplementedError

    def _touch(self, item: _Stored, author: str) -> None:
        item.updated = self._now()
        item.edits += 1
        item.updated_by = author

    def _item(self, item: _Stored, fields: Sequence[str] | None) -> Item:
        raise NotImplementedError

    def _page(self, items: list[_Stored], endpoint: str, fields: Sequence[str]) -> Iterator[Item]:
        """Yield ``items`` page by page, counting one call per page (at least one, even when empty)."""
        self.calls.note_server_time(self.clock())  # what a real response's ``Date`` header tells
        if not items:
            self.calls.count(endpoint, 200)
            return
        for start in range(0, len(items), self.page_size):
            self.calls.count(endpoint, 200)
            with self._lock:
                page = [self._item(i, fields) for i in items[start:start + self.page_size]]
            yield from page

    def _comment(self, item: _Stored, entry: _Entry) -> Comment:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of every stored item (fields, status, comments, remote links) for comparisons."""
        with self._lock:
            return copy.deepcopy(
                {
                    i.ref.key: {
                        "id": i.ref.id,
                        "fields": dict(i.fields),
                        "status": i.status,
                        "updated": i.updated,
                        "marker": i.marker,
                        "comments": [(c.id, c.author, c.text, c.channel, dict(c.properties)) for c in i.comments],
                        "remote_links": i.remote_links,
                    }
                    for i in self._items.values()
                }
            )

    def comments(self, ref: Ref | str) -> list[Comment]:
        """Every comment of an item, oldest first (scripting; not counted)."""
        with self._lock:
            item = self._find(ref, "SCRIPT comments")
            return [self._comment(item, e) for e in item.comments]

    def _comments_of(self, item: _Stored, since: datetime | None) -> list[Comment]:
        return [self._comment(item, e) for e in item.comments if since is None or e.created >= since]

    def close(self) -> None:
        self.closed = True
