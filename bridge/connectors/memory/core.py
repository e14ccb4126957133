"""What both in-memory fakes share: clock, locking, call counting, fault injection, stored items.

See :mod:`bridge.connectors.memory` for what the fakes reproduce and their scripting API.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.connectors.base import Connector
from bridge.connectors.memory.attachments import MemoryAttachments
from bridge.errors import MergedError, NotFoundError
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


class MemoryConnector(MemoryAttachments, Connector):
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
        #: deleted items, and merged ones (by id: the survivor's id), kept to answer like the vendor
        self._deleted: dict[str, _Stored] = {}
        self._merged: dict[str, _Stored] = {}
        #: writes attempted to a deleted or merged item, by item id (all refused, like the vendor or the
        #: real connector's guard does); tests assert bridge stops trying once it noticed
        self.gone_writes: Counter[str] = Counter()

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
        gone = self._deleted.get(wanted) or self._merged.get(wanted)
        if gone is not None and endpoint.split()[0] in ("PATCH", "PUT", "POST", "DELETE"):
            self.gone_writes[gone.ref.id] += 1
        if wanted in self._merged:
            survivor = self._survivor(wanted)
            self.calls.count(endpoint, 200)
            raise MergedError(f"{self._merged[wanted].ref.key} was merged into {survivor.ref.key}",
                              survivor_id=survivor.ref.id, survivor_key=survivor.ref.key, side=self.side.value,
                              method=endpoint.split()[0], endpoint=endpoint.split()[1], status=200)
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

    def _survivor(self, item_id: str) -> _Stored:
        """The live item a merged one ended in (a merge chain followed to its end)."""
        while item_id in self._merged:
            item_id = self._merged[item_id].fields.get("__merged_into") or ""  # type: ignore[assignment]
        return self._items[item_id]

    # ------------------------------------------------------------------------------ scripting: lifecycle

    def delete(self, ref: Ref | str) -> None:
        """Delete an item the way its vendor does: every later read or write of it answers 404."""
        with self._lock:
            item = self._find(ref, "SCRIPT delete")
            del self._items[item.ref.id]
            self._deleted[item.ref.id] = item

    def merge(self, ref: Ref | str, into: Ref | str) -> None:
        """Merge an item into another, the way Request Tracker does: its comments move to the survivor,
        and its id answers with the survivor (the real connector turns that into a MergedError)."""
        with self._lock:
            item = self._find(ref, "SCRIPT merge")
            survivor = self._find(into, "SCRIPT merge")
            del self._items[item.ref.id]
            item.fields["__merged_into"] = survivor.ref.id
            self._merged[item.ref.id] = item
            survivor.comments.extend(item.comments)
            survivor.comments.sort(key=lambda c: c.created)
            self._touch(survivor, "jane.doe")

    def is_gone(self, ref: Ref | str) -> bool:
        """True when the item was deleted or merged away (scripting; not counted)."""
        wanted = ref.id if isinstance(ref, Ref) else ref
        with self._lock:
            return any(i.ref.id == wanted or i.ref.key == wanted
                       for i in [*self._deleted.values(), *self._merged.values()])

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
