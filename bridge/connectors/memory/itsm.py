"""The ServiceNow-like in-memory ITSM side (see :mod:`bridge.connectors.memory`).

Its tables, state rules, journals and value encoding come from :mod:`bridge.vendors.servicenow`, the
same facts the real connector, the sandbox and the mapping checks use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bridge.connectors.base import CheckResult, CreateSpec
from bridge.connectors.memory.core import (
    INTEGRATION_USER,
    Clock,
    MemoryConnector,
    _Entry,
    _Stored,
    floor_to_second,
)
from bridge.errors import PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side, Visibility
from bridge.vendors import servicenow as facts

INCIDENT_CLOSED_STATES = facts.closed_states("incident")
CHANGE_CLOSED_STATES = facts.closed_states("change_request")
KEY_PREFIXES = facts.NUMBER_PREFIXES

_sn_string = facts.encode
"""ServiceNow JSON holds strings only, encoded as the real connector sends them (``3.0`` → ``"3"``)."""


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
        back_reference_field: str = facts.BACK_REFERENCE_FIELD,
        dedicated_account: bool = False,
    ) -> None:
        super().__init__(clock=clock, page_size=page_size, base_url=base_url)
        #: ``itsm.dedicated_account``: entries by :data:`INTEGRATION_USER` are bridge's own (``Comment.own``)
        self.dedicated_account = dedicated_account
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
        marker = Marker.find(entry.text)
        return Comment(
            entry.id,
            item.ref,
            entry.author,
            Marker.strip(entry.text),
            entry.created,
            entry.channel,
            internal=facts.journal_is_internal(entry.channel),
            marker=marker,
            own=self.dedicated_account and marker is None and entry.author == INTEGRATION_USER,
        )

    def _check_policy(self, kind: str, state: str, values: Mapping[str, FieldValue]) -> None:
        """ServiceNow's data policies on state writes (:data:`bridge.vendors.servicenow.STATES`): 403."""
        missing = facts.missing_for_state(kind, state, values)
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
        values: dict[str, FieldValue] = {k: _sn_string(v) for k, v in (fields or {}).items()}
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

    def edit(self, ref: Ref | str, *, author: str = "jane.doe", stamped: datetime | None = None, **fields: Any) -> None:
        """Change fields as a person (``state`` goes through :meth:`set_state`).

        ``stamped``: the ``sys_updated_on`` the change carries when it is earlier than now: a ServiceNow
        transaction stamps the time it began and commits later, so a search run in between does not show a
        change stamped before the time of that search (what the overlap window is for).
        """
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
            if stamped is not None:
                item.updated = stamped

    def set_state(self, ref: Ref | str, state: str, *, author: str = "jane.doe", **fields: Any) -> None:
        """Move a record to ``state`` as a person, with the fields the state needs."""
        self.edit(ref, author=author, state=state, **fields)

    def comment(
        self, ref: Ref | str, body: str, channel: str = facts.DEFAULT_CHANNEL, author: str = "Jane Doe"
    ) -> Comment:
        """Add a journal entry as a person."""
        if not facts.is_journal(channel):
            raise ValueError(f"ServiceNow journals are {' and '.join(facts.JOURNAL_NAMES)}")
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
                    and (matches(mapping.route.where, i.fields) or self._linked(mapping, i))
                ),
                key=lambda i: (i.updated, i.ref.id),
            )
        return self._page(selected, endpoint, fields)

    @staticmethod
    def _linked(mapping: MappingSpec, item: _Stored) -> bool:
        """Whether the record carries the mapping's back-reference: linked records are returned whatever
        the route says, like the adapters' ``^NQ…ISNOTEMPTY`` group."""
        field = mapping.links.itsm_key_field
        return bool(field and _sn_string(item.fields.get(field)).strip())

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
        if not facts.is_journal(channel):
            raise PermanentError(f"ServiceNow has no journal {channel!r} (use {' or '.join(facts.JOURNAL_NAMES)})",
                                 side="itsm", method="PATCH", endpoint=endpoint.split()[1], status=400)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            text = f"{body}\n{marker.render()}" if facts.journal_is_internal(channel) else body  # the caller reads it
            entry = _Entry(f"{self._next():032x}", INTEGRATION_USER, text, self._now(), channel)
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
