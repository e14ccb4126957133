"""In-memory connectors that behave like the vendors where it matters, with a scripting API for tests.

:class:`MemoryItsm` (ServiceNow-like, side ITSM) and :class:`MemoryJira` (Jira Cloud-like, side JIRA)
implement the full :class:`~bridge.connectors.base.Connector` port without any I/O. They are what the
engine's tests, the property/state-machine tests and the contract suite run against, so they reproduce
the vendor behaviours that break naive sync code:

* **Precision of "updated".** ITSM timestamps have second precision (``sys_updated_on``); Jira's
  change query compares at MINUTE precision (JQL ``updated >= "yyyy/MM/dd HH:mm"``), so
  ``search_changed(since=X)`` on Jira returns every issue with ``updated >= floor_to_minute(X)`` — items
  older than the cursor come back, and a connector or cycle must de-duplicate by ``(id, version)``.
* **Pagination.** Each page of ``search_changed`` is one counted call (``page_size``, default 50), so tests
  can prove a search is ONE paginated query. Order is oldest first, then by id.
* **Workflows and data policies.** Jira statuses follow a workflow graph (below); ``set_status`` walks
  the shortest path, one ``GET …/transitions`` + ``POST …/transitions`` per step; the transition into
  a ``done`` status needs ``resolution`` (else :class:`~bridge.errors.WorkflowError`, Jira's 400 "Field
  Resolution is required."); fields are sent on the final step only, and a ``resolution`` on a step
  whose target is not done is refused like Jira's "not on the appropriate screen". Leaving a done status
  clears the resolution. ITSM: resolving/closing an incident (state 6/7) or closing a change (3) without
  ``close_code`` and ``close_notes`` is refused with :class:`~bridge.errors.PermanentError` (ServiceNow's
  403 "Data Policy Exception"); incident On Hold (3) needs ``hold_reason``. Setting the status an item
  already has is a no-op (no write).
* **Values.** ITSM values are strings, like ServiceNow's JSON (``None`` → ``""``, ``True`` → ``"true"``,
  a list → comma-joined). Jira values are kept normalised as given.
* **Markers.** ITSM keeps the marker as the last line of the journal entry text (``[bridge:jira:123]``),
  as the ServiceNow adapter must; Jira keeps it in a comment property (``bridge.marker``), invisible in
  the body. Both give it back parsed in :attr:`Comment.marker` with a body free of it.
* **Journal writes bump the parent.** Adding an ITSM comment advances the record's ``updated`` and
  ``sys_mod_count``; a Jira comment advances the issue's ``updated``.

Every operation is counted in :attr:`calls` under the vendor's endpoint template (e.g.
``"POST /rest/api/3/issue"``, ``"PATCH /api/now/table/{table}/{sys_id}"``).

Time is injectable: pass ``clock=`` (any ``Callable[[], datetime]``); :class:`ManualClock` is a clock
tests move by hand (``clock.advance(seconds=90)``).

Scripting API (acting as a person; not part of the port)
=======================================================
ITSM: ``create_record(record_type, fields, state=…, key=…, author=…) -> Ref``, ``edit(ref, **fields)``,
``set_state(ref, state, **fields)``, ``comment(ref, body, channel="work_notes", author="Jane Doe")``,
``records()``, ``record(ref)``, ``comments(ref)``. Jira: ``create_issue(project, issue_type, summary,
fields=…, labels=…, status=…) -> Ref``, ``edit(key, **fields)``, ``transition_to(key, status,
resolution=…)`` (a person may jump to any status, like an admin editing the workflow), ``comment(key,
body, author=…, visibility=…)``, ``issues()``, ``issue(key)``, ``comments(key)``, ``remote_links(key)``.
``ref`` arguments accept a :class:`Ref`, an id or a key. ``snapshot()`` returns a deep copy of the whole
state so tests can compare before/after.

Fault injection (for the engine's crash and retry tests)
========================================================
* ``fail_next(operation, error, times=1)``: the next ``times`` calls of the port method named
  ``operation`` (``"create"``, ``"update_fields"``, ``"set_status"``, ``"add_comment"``,
  ``"write_back_reference"``, ``"search_changed"``, ``"get"``, ``"comments_since"``, ``"find_by_marker"``,
  ``"find_comment_by_marker"``) raise ``error`` BEFORE anything changes (a refused or lost request).
* ``after_write``: an optional ``Callable[[str, Ref], None]`` called after every successful remote write
  with the operation name and the item written, before the method returns. If it raises, the write has
  happened but the caller never learns it — a process dying between the remote write and the journal
  commit. ``crash_after_next_write(operation=None)`` arms a one-shot :class:`SimulatedCrash` for the next
  write (of that operation, or of any).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.connectors.base import CheckResult, Connector, CreateSpec
from bridge.errors import NotFoundError, PermanentError, WorkflowError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Comment, FieldValue, Issue, Item, Marker, Record, Ref, Side, Visibility, normalise

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


# ========================================================================================= ITSM


INCIDENT_CLOSED_STATES = frozenset({"6", "7"})
CHANGE_CLOSED_STATES = frozenset({"3"})
KEY_PREFIXES = {"incident": "INC", "change_request": "CHG", "problem": "PRB", "sc_req_item": "RITM"}


def _sn_string(value: Any) -> str:
    """ServiceNow JSON holds strings only."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return str(value)


class MemoryItsm(MemoryConnector):
    """A ServiceNow-like ITSM side (tables ``incident``, ``change_request``, …) held in memory."""

    side = Side.ITSM
    name = "memory-itsm"
    display_name = "ServiceNow"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        page_size: int = 50,
        base_url: str = "https://itsm.example",
        record_types: Sequence[str] = ("incident", "change_request"),
        back_reference_field: str = "correlation_id",
    ) -> None:
        super().__init__(clock=clock, page_size=page_size, base_url=base_url)
        self.record_types = tuple(record_types)
        self.back_reference_field = back_reference_field
        self._numbers: dict[str, int] = {}

    def _now(self) -> datetime:
        return floor_to_second(self.clock())

    def _not_found_text(self) -> str:
        return "No Record found"

    def _item(self, item: _Stored, fields: Sequence[str] | None) -> Item:
        names = list(item.fields) if fields is None else list(fields)
        return Record(
            item.ref,
            {name: item.fields.get(name, "") for name in names},
            status=item.status,
            updated=item.updated,
            version=str(item.edits),
            updated_by=item.updated_by,
            back_reference=_sn_string(item.fields.get(self.back_reference_field)) or None,
        )

    def _comment(self, item: _Stored, entry: _Entry) -> Comment:
        return Comment(
            entry.id,
            item.ref,
            entry.author,
            Marker.strip(entry.text),
            entry.created,
            entry.channel,
            internal=entry.channel != "comments",
            marker=Marker.find(entry.text),
        )

    def _check_policy(self, kind: str, state: str, values: Mapping[str, str]) -> None:
        """ServiceNow's data policies on state writes: 403 Data Policy Exception."""
        missing: list[str] = []
        if (kind == "incident" and state in INCIDENT_CLOSED_STATES) or (
            kind == "change_request" and state in CHANGE_CLOSED_STATES
        ):
            missing = [f for f in ("close_code", "close_notes") if not values.get(f)]
        elif kind == "incident" and state == "3" and not values.get("hold_reason"):
            missing = ["hold_reason"]
        if missing:
            text = f"Data Policy Exception: The following fields are mandatory: {', '.join(missing)}"
            raise PermanentError("ITSM refused the state change", side="itsm", method="PATCH",
                                 endpoint=f"/api/now/table/{kind}/{{sys_id}}", status=403, vendor_message=text)

    # ------------------------------------------------------------------------------ scripting

    def create_record(
        self,
        record_type: str = "incident",
        fields: Mapping[str, Any] | None = None,
        *,
        state: str = "1",
        key: str | None = None,
        author: str = "jane.doe",
    ) -> Ref:
        """Create a record as a person (opened in ``state``; data policies apply)."""
        values = {k: _sn_string(v) for k, v in (fields or {}).items()}
        self._check_policy(record_type, str(state), values)
        with self._lock:
            n = self._numbers.get(record_type, 10000) + 1
            self._numbers[record_type] = n
            sys_id = f"{self._next():032x}"
            number = key or f"{KEY_PREFIXES.get(record_type, record_type[:3].upper())}{n:07d}"
            ref = Ref(Side.ITSM, record_type, sys_id, number, f"{self.base_url}/{record_type}.do?sys_id={sys_id}")
            values.setdefault("number", number)
            values["state"] = str(state)
            self._items[sys_id] = _Stored(ref, values, str(state), self._now(), 0, author)
            return ref

    def edit(self, ref: Ref | str, *, author: str = "jane.doe", **fields: Any) -> None:
        """Change fields as a person (``state`` goes through :meth:`set_state`)."""
        with self._lock:
            item = self._find(ref, "SCRIPT edit")
            if "state" in fields:
                state = _sn_string(fields.pop("state"))
                merged = {**item.fields, **{k: _sn_string(v) for k, v in fields.items()}}
                self._check_policy(item.ref.kind, state, merged)
                item.status = state
                item.fields["state"] = state
            item.fields.update({k: _sn_string(v) for k, v in fields.items()})
            self._touch(item, author)

    def set_state(self, ref: Ref | str, state: str, *, author: str = "jane.doe", **fields: Any) -> None:
        """Move a record to ``state`` as a person, with the fields the state needs."""
        self.edit(ref, author=author, state=state, **fields)

    def comment(self, ref: Ref | str, body: str, channel: str = "work_notes", author: str = "Jane Doe") -> Comment:
        """Add a journal entry as a person."""
        if channel not in ("work_notes", "comments"):
            raise ValueError("ServiceNow journals are work_notes and comments")
        with self._lock:
            item = self._find(ref, "SCRIPT comment")
            entry = _Entry(f"{self._next():032x}", author, body, self._now(), channel)
            item.comments.append(entry)
            self._touch(item, author)
            return self._comment(item, entry)

    def records(self) -> list[Record]:
        with self._lock:
            return [self._item(i, None) for i in self._items.values()]  # type: ignore[misc]

    def record(self, ref: Ref | str) -> Record:
        with self._lock:
            return self._item(self._find(ref, "SCRIPT record"), None)  # type: ignore[return-value]

    # ------------------------------------------------------------------------------ port: reading

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        table = mapping.route.record_type
        endpoint = f"GET /api/now/table/{table}"
        self._fault("search_changed", endpoint)
        bound = floor_to_second(since) if since is not None else None
        with self._lock:
            selected = sorted(
                (
                    i for i in self._items.values()
                    if i.ref.kind == table
                    and (bound is None or i.updated >= bound)
                    and matches(mapping.route.where, i.fields)
                ),
                key=lambda i: (i.updated, i.ref.id),
            )
        return self._page(selected, endpoint, fields)

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        endpoint = f"GET /api/now/table/{ref.kind}/{{sys_id}}"
        self._fault("get", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            return self._item(item, fields)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        endpoint = "GET /api/now/table/sys_journal_field"
        self._fault("comments_since", endpoint)
        bound = floor_to_second(since) if since is not None else None
        result: dict[str, list[Comment]] = {}
        with self._lock:
            for start in range(0, len(refs), 100):  # element_idIN… in batches, like the adapter
                self.calls.count(endpoint, 200)
                for ref in refs[start:start + 100]:
                    item = self._items.get(ref.id)
                    result[ref.id] = self._comments_of(item, bound) if item is not None else []
        return result

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        table = mapping.route.record_type
        endpoint = f"GET /api/now/table/{table}"
        self._fault("find_by_marker", endpoint)
        field_name = mapping.links.itsm_key_field or self.back_reference_field
        with self._lock:
            self.calls.count(endpoint, 200)
            found = [i for i in self._items.values() if i.ref.kind == table and i.fields.get(field_name) == marker]
            return self._item(found[0], None) if found else None

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        endpoint = "GET /api/now/table/sys_journal_field"
        self._fault("find_comment_by_marker", endpoint)
        with self._lock:
            item = self._items.get(ref.id)
            self.calls.count(endpoint, 200)
            if item is None:
                return None
            return next((c for c in self._comments_of(item, None) if c.marker == marker), None)

    # ------------------------------------------------------------------------------ port: writing

    def create(self, spec: CreateSpec) -> Item:
        raise PermanentError("bridge never creates ITSM records; records are escalated into Jira", side="itsm")

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = f"PATCH /api/now/table/{ref.kind}/{{sys_id}}"
        self._fault("update_fields", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            strings = {k: _sn_string(v) for k, v in values.items()}
            if "state" in strings:
                try:
                    self._check_policy(item.ref.kind, strings["state"], {**item.fields, **strings})
                except PermanentError:
                    self.calls.count(endpoint, 403)
                    raise
                item.status = strings["state"]
            self.calls.count(endpoint, 200)
            if any(item.fields.get(k) != v for k, v in strings.items()):
                item.fields.update(strings)
                self._touch(item, INTEGRATION_USER)
        self._written("update_fields", ref)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        endpoint = f"PATCH /api/now/table/{ref.kind}/{{sys_id}}"
        self._fault("set_status", endpoint)
        state = _sn_string(status)
        with self._lock:
            item = self._find(ref, endpoint)
            strings = {k: _sn_string(v) for k, v in fields.items()}
            if item.status == state and all(item.fields.get(k) == v for k, v in strings.items()):
                return
            try:
                self._check_policy(item.ref.kind, state, {**item.fields, **strings})
            except PermanentError:
                self.calls.count(endpoint, 403)
                raise
            self.calls.count(endpoint, 200)
            item.fields.update(strings)
            item.fields["state"] = state
            item.status = state
            self._touch(item, INTEGRATION_USER)
        self._written("set_status", ref)

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        endpoint = f"PATCH /api/now/table/{ref.kind}/{{sys_id}}"
        self._fault("add_comment", endpoint)
        if channel not in ("work_notes", "comments"):
            raise PermanentError(f"ServiceNow has no journal {channel!r} (use work_notes or comments)",
                                 side="itsm", method="PATCH", endpoint=endpoint.split()[1], status=400)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            entry = _Entry(f"{self._next():032x}", INTEGRATION_USER, f"{body}\n{marker.render()}", self._now(), channel)
            item.comments.append(entry)
            self._touch(item, INTEGRATION_USER)
            comment = self._comment(item, entry)
        self._written("add_comment", ref)
        return comment

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = f"PATCH /api/now/table/{ref.kind}/{{sys_id}}"
        self._fault("write_back_reference", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            strings = {k: _sn_string(v) for k, v in values.items()}
            if any(item.fields.get(k) != v for k, v in strings.items()):
                item.fields.update(strings)
                self._touch(item, INTEGRATION_USER)
        self._written("write_back_reference", ref)

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results = [CheckResult(True, f"{self.display_name} (in memory) reachable as {INTEGRATION_USER}")]
        for mapping in mappings:
            table = mapping.route.record_type
            ok = table in self.record_types
            results.append(CheckResult(ok, f"mapping {mapping.name}: table {table}",
                                       None if ok else f"known tables: {', '.join(self.record_types)}"))
        return results


# ========================================================================================= Jira


DEFAULT_WORKFLOW: dict[str, tuple[str, ...]] = {
    "To Do": ("In Progress",),
    "In Progress": ("In Review", "To Do"),
    "In Review": ("Done", "In Progress"),
    "Done": ("In Progress",),
}
DEFAULT_CATEGORIES: dict[str, str] = {
    "To Do": "new",
    "In Progress": "indeterminate",
    "In Review": "indeterminate",
    "Done": "done",
}
MAX_COMMENT_LENGTH = 32767


class MemoryJira(MemoryConnector):
    """A Jira Cloud-like side held in memory (projects, issue types, one workflow, comments, remote links)."""

    side = Side.JIRA
    name = "memory-jira"
    display_name = "Jira"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        page_size: int = 50,
        base_url: str = "https://jira.example",
        projects: Mapping[str, Sequence[str]] | None = None,
        workflow: Mapping[str, Sequence[str]] | None = None,
        categories: Mapping[str, str] | None = None,
        initial_status: str = "To Do",
    ) -> None:
        super().__init__(clock=clock, page_size=page_size, base_url=base_url)
        self.projects = {k: tuple(v) for k, v in (projects or {"OPS": ("Bug", "Story", "Task")}).items()}
        self.workflow = {k: tuple(v) for k, v in (workflow or DEFAULT_WORKFLOW).items()}
        self.categories = dict(categories or DEFAULT_CATEGORIES)
        self.initial_status = initial_status
        self._counters: dict[str, int] = {}
        self._ids = 10000

    def _now(self) -> datetime:
        return floor_to_milli(self.clock())

    def _not_found_text(self) -> str:
        return "Issue does not exist or you do not have permission to see it."

    def _item(self, item: _Stored, fields: Sequence[str] | None) -> Item:
        names = list(item.fields) if fields is None else list(fields)
        return Issue(
            item.ref,
            {name: item.fields.get(name) for name in names},
            status=item.status,
            status_category=self.categories.get(item.status),
            updated=item.updated,
            version=f"{item.updated.isoformat()}/{item.edits}",
            updated_by=item.updated_by,
            back_reference=item.marker,
        )

    def _comment(self, item: _Stored, entry: _Entry) -> Comment:
        marker_text = entry.properties.get(MARKER_PROPERTY)
        return Comment(
            entry.id,
            item.ref,
            entry.author,
            entry.text,
            entry.created,
            entry.channel,
            internal=entry.visibility is not None,
            visibility=entry.visibility,
            marker=Marker.find(marker_text) if marker_text else None,
        )

    def _new_issue(self, project: str, issue_type: str, fields: Mapping[str, FieldValue], labels: Sequence[str],
                   author: str, marker: str | None = None) -> _Stored:
        if project not in self.projects:
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="project: valid project is required")
        if issue_type not in self.projects[project]:
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="issuetype: The issue type selected is invalid.")
        if not fields.get("summary"):
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="summary: You must specify a summary of the issue.")
        n = self._counters.get(project, 0) + 1
        self._counters[project] = n
        self._ids += 1
        key = f"{project}-{n}"
        ref = Ref(Side.JIRA, "issue", str(self._ids), key, f"{self.base_url}/browse/{key}")
        values = {k: normalise(v) for k, v in fields.items()}
        values["labels"] = normalise(sorted(set(labels)))
        values.setdefault("resolution", None)
        values["project"] = project
        values["issuetype"] = issue_type
        item = _Stored(ref, values, self.initial_status, self._now(), 0, author, marker)
        self._items[ref.id] = item
        return item

    # ------------------------------------------------------------------------------ scripting

    def create_issue(
        self,
        project: str = "OPS",
        issue_type: str = "Bug",
        summary: str = "Something is broken",
        *,
        fields: Mapping[str, Any] | None = None,
        labels: Sequence[str] = (),
        status: str | None = None,
        author: str = "dev.one",
    ) -> Ref:
        """Create an issue as a person (optionally straight in ``status``)."""
        with self._lock:
            item = self._new_issue(project, issue_type, {"summary": summary, **(fields or {})}, labels, author)
        if status is not None:
            self.transition_to(item.ref, status, author=author)
        return item.ref

    def edit(self, key: Ref | str, *, author: str = "dev.one", **fields: Any) -> None:
        """Change fields as a person (``labels`` replaces the label set)."""
        with self._lock:
            item = self._find(key, "SCRIPT edit")
            item.fields.update({k: normalise(v) for k, v in fields.items()})
            self._touch(item, author)

    def transition_to(self, key: Ref | str, status: str, *, resolution: str | None = None,
                      author: str = "dev.one") -> None:
        """Put the issue in ``status`` as a person, ignoring the workflow graph (resolution follows the category)."""
        if status not in self.categories:
            raise ValueError(f"unknown status {status!r}; known: {', '.join(self.categories)}")
        with self._lock:
            item = self._find(key, "SCRIPT transition")
            item.status = status
            done = self.categories[status] == "done"
            item.fields["resolution"] = (resolution or "Done") if done else None
            self._touch(item, author)

    def comment(self, key: Ref | str, body: str, *, author: str = "Dev One",
                visibility: Visibility | None = None) -> Comment:
        """Add a comment as a person."""
        with self._lock:
            item = self._find(key, "SCRIPT comment")
            entry = _Entry(str(self._next() + 20000), author, body, self._now(), "comment", visibility)
            item.comments.append(entry)
            self._touch(item, author)
            return self._comment(item, entry)

    def issues(self) -> list[Issue]:
        with self._lock:
            return [self._item(i, None) for i in self._items.values()]  # type: ignore[misc]

    def issue(self, key: Ref | str) -> Issue:
        with self._lock:
            return self._item(self._find(key, "SCRIPT issue"), None)  # type: ignore[return-value]

    def remote_links(self, key: Ref | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._find(key, "SCRIPT remote links").remote_links.values()))

    # ------------------------------------------------------------------------------ port: reading

    def _managed(self, mapping: MappingSpec) -> list[_Stored]:
        return [
            i for i in self._items.values()
            if i.fields.get("project") == mapping.target.project
            and mapping.links.jira_label in (i.fields.get("labels") or ())
        ]

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        endpoint = "POST /rest/api/3/search/jql"
        self._fault("search_changed", endpoint)
        bound = floor_to_minute(since) if since is not None else None  # JQL has minute precision
        with self._lock:
            selected = sorted(
                (i for i in self._managed(mapping) if bound is None or i.updated >= bound),
                key=lambda i: (i.updated, int(i.ref.id)),
            )
        return self._page(selected, endpoint, fields)

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}"
        self._fault("get", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            return self._item(item, fields)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("comments_since", endpoint)
        result: dict[str, list[Comment]] = {}
        with self._lock:
            for ref in refs:  # Jira has no batch read of comments: one call per changed issue
                item = self._items.get(ref.id)
                self.calls.count(endpoint, 200 if item is not None else 404)
                result[ref.id] = self._comments_of(item, since) if item is not None else []
        return result

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        endpoint = "POST /rest/api/3/search/jql"
        self._fault("find_by_marker", endpoint)
        with self._lock:
            self.calls.count(endpoint, 200)
            found = [
                i for i in self._items.values()
                if i.fields.get("project") == mapping.target.project
                and (
                    i.fields.get(mapping.links.jira_marker_field) == marker
                    if mapping.links.jira_marker_field
                    else marker in (i.fields.get("labels") or ())
                )
            ]
            return self._item(found[0], None) if found else None

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("find_comment_by_marker", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            return next((c for c in self._comments_of(item, None) if c.marker == marker), None)

    # ------------------------------------------------------------------------------ port: writing

    def create(self, spec: CreateSpec) -> Item:
        endpoint = "POST /rest/api/3/issue"
        self._fault("create", endpoint)
        fields = dict(spec.fields)
        labels = list(spec.labels)
        if spec.marker_field:
            fields[spec.marker_field] = spec.marker
        else:
            labels.append(spec.marker)
        if spec.components:
            fields["components"] = tuple(spec.components)
        with self._lock:
            try:
                item = self._new_issue(spec.project, spec.issue_type, fields, labels, INTEGRATION_USER, spec.marker)
            except PermanentError:
                self.calls.count(endpoint, 400)
                raise
            self.calls.count(endpoint, 201)
            created = self._item(item, list(spec.fields))
        self._written("create", created.ref)
        return created

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = "PUT /rest/api/3/issue/{issueIdOrKey}"
        self._fault("update_fields", endpoint)
        refused = sorted(set(values) & {"status", "resolution", "project", "issuetype"})
        with self._lock:
            item = self._find(ref, endpoint)
            if refused:
                self.calls.count(endpoint, 400)
                raise PermanentError("Jira refused the edit", side="jira", method="PUT", endpoint=endpoint.split()[1],
                                     status=400, vendor_message=f"{refused[0]}: Field '{refused[0]}' cannot be set. "
                                     "It is not on the appropriate screen, or unknown.")
            self.calls.count(endpoint, 204)
            item.fields.update({k: normalise(v) for k, v in values.items()})
            self._touch(item, INTEGRATION_USER)
        self._written("update_fields", ref)

    def edit_labels(
        self,
        ref: Ref,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        values: Mapping[str, FieldValue] | None = None,
    ) -> None:
        endpoint = "PUT /rest/api/3/issue/{issueIdOrKey}"
        self._fault("edit_labels", endpoint)
        values = dict(values or {})
        if "labels" in values:
            raise PermanentError("edit_labels sets labels through add/remove only, not as a field value", side="jira")
        refused = sorted(set(values) & {"status", "resolution", "project", "issuetype"})
        with self._lock:
            item = self._find(ref, endpoint)
            if refused:
                self.calls.count(endpoint, 400)
                raise PermanentError("Jira refused the edit", side="jira", method="PUT", endpoint=endpoint.split()[1],
                                     status=400, vendor_message=f"{refused[0]}: Field '{refused[0]}' cannot be set. "
                                     "It is not on the appropriate screen, or unknown.")
            self.calls.count(endpoint, 204)
            labels = [str(label) for label in item.fields.get("labels") or ()]
            labels += [label for label in dict.fromkeys(add) if label not in labels]
            labels = [label for label in labels if label in add or label not in remove]
            changed = {k: normalise(v) for k, v in values.items()}
            if tuple(sorted(labels)) != tuple(sorted(str(x) for x in item.fields.get("labels") or ())):
                changed["labels"] = normalise(sorted(labels))
            if changed:
                item.fields.update(changed)
                self._touch(item, INTEGRATION_USER)
        self._written("edit_labels", ref)

    def path(self, start: str, goal: str) -> list[str] | None:
        """The fewest transitions from ``start`` to ``goal`` (breadth first), or ``None``."""
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            status = queue.popleft()
            if status == goal:
                steps: list[str] = []
                node: str | None = status
                while node is not None and node != start:
                    steps.append(node)
                    node = previous[node]
                return list(reversed(steps))
            for nxt in self.workflow.get(status, ()):
                if nxt not in previous:
                    previous[nxt] = status
                    queue.append(nxt)
        return None

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        transitions = "GET /rest/api/3/issue/{issueIdOrKey}/transitions"
        post = "POST /rest/api/3/issue/{issueIdOrKey}/transitions"
        self._fault("set_status", post)
        with self._lock:
            item = self._find(ref, transitions)
            self.calls.count(transitions, 200)
            if item.status == status:
                return
            steps = self.path(item.status, status)
            if steps is None:
                raise WorkflowError(
                    f"no workflow path from {item.status!r} to {status!r}", side="jira", method="POST",
                    endpoint=post.split()[1], status=400,
                    vendor_message=f"no transition leads from {item.status} to {status}",
                )
            final_done = self.categories.get(status) == "done"
            if final_done and not fields.get("resolution"):
                self.calls.count(post, 400)
                raise WorkflowError("Jira refused the transition", side="jira", method="POST",
                                    endpoint=post.split()[1], status=400,
                                    vendor_message="Field Resolution is required.")
            if "resolution" in fields and not final_done:
                self.calls.count(post, 400)
                raise WorkflowError("Jira refused the transition", side="jira", method="POST",
                                    endpoint=post.split()[1], status=400,
                                    vendor_message="resolution: Field 'resolution' cannot be set. It is not on the "
                                    "appropriate screen, or unknown.")
            for index, step in enumerate(steps):
                if index:
                    self.calls.count(transitions, 200)
                self.calls.count(post, 204)
                leaving_done = self.categories.get(item.status) == "done"
                item.status = step
                if leaving_done:
                    item.fields["resolution"] = None
                if index == len(steps) - 1:
                    item.fields.update({k: normalise(v) for k, v in fields.items()})
                self._touch(item, INTEGRATION_USER)
        self._written("set_status", ref)

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        endpoint = "POST /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("add_comment", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            if channel != "comment" or len(body) > MAX_COMMENT_LENGTH:
                self.calls.count(endpoint, 400)
                reason = "comment bodies are limited to 32767 characters" if channel == "comment" else (
                    f"Jira comments have no channel {channel!r}")
                raise PermanentError("Jira refused the comment", side="jira", method="POST",
                                     endpoint=endpoint.split()[1], status=400, vendor_message=reason)
            self.calls.count(endpoint, 201)
            entry = _Entry(str(self._next() + 20000), INTEGRATION_USER, body, self._now(), "comment", visibility,
                           {MARKER_PROPERTY: marker.render()})
            item.comments.append(entry)
            self._touch(item, INTEGRATION_USER)
            comment = self._comment(item, entry)
        self._written("add_comment", ref)
        return comment

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = "POST /rest/api/3/issue/{issueIdOrKey}/remotelink"
        self._fault("write_back_reference", endpoint)
        global_id = f"bridge:{other.token}"
        with self._lock:
            item = self._find(ref, endpoint)
            status = 200 if global_id in item.remote_links else 201
            self.calls.count(endpoint, status)
            # an upsert by globalId replaces the whole object: omitted fields are nulled, like Jira
            item.remote_links[global_id] = {
                "globalId": global_id,
                "object": {
                    "url": other.url,
                    "title": str(values.get("title") or other.key),
                    "summary": values.get("summary"),
                    "status": {"resolved": bool(values.get("resolved"))},
                },
            }
        self._written("write_back_reference", ref)

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results = [CheckResult(True, f"{self.display_name} (in memory) reachable as {INTEGRATION_USER}")]
        for mapping in mappings:
            project, issue_type = mapping.target.project, mapping.target.issue_type
            if project not in self.projects:
                results.append(CheckResult(False, f"mapping {mapping.name}: project {project}",
                                           f"known projects: {', '.join(self.projects)}"))
                continue
            ok = issue_type in self.projects[project]
            results.append(CheckResult(ok, f"mapping {mapping.name}: issue type {issue_type} in {project}",
                                       None if ok else f"issue types: {', '.join(self.projects[project])}"))
            for target in mapping.status.to_jira.values():
                name = target if isinstance(target, str) else target.status
                ok = name in self.categories
                results.append(CheckResult(ok, f"mapping {mapping.name}: status {name}",
                                           None if ok else f"statuses: {', '.join(self.categories)}"))
        return results


__all__ = [
    "DEFAULT_WORKFLOW",
    "INTEGRATION_USER",
    "ManualClock",
    "MemoryConnector",
    "MemoryItsm",
    "MemoryJira",
    "SimulatedCrash",
    "floor_to_minute",
]
