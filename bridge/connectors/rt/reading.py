"""Reading RT: the change search (TicketSQL, ordered by ``LastUpdated``), single tickets, and comments
(transactions plus their attachments, in bulk for all changed tickets).

Why the version is ``LastUpdated`` plus a field digest, and why comment text comes from attachments: the
package docstring and "What bridge does about RT's traps" in ``docs/connectors/rt.md``; how the text is
told apart from attached files: :mod:`bridge.connectors.rt.content`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.connectors.rt.client import (
    BASE_FIELDS,
    COMMENT_TYPES,
    IDS_PER_QUERY,
    MAX_REPAIR_PASSES,
    VERSION_FIELDS,
    chunks,
)
from bridge.connectors.rt.content import RTContent
from bridge.connectors.rt_parse import (
    custom_field_values,
    normalise_value,
    object_name,
    parse_datetime,
    person_name,
    ticket_id,
)
from bridge.connectors.rt_query import custom_field_name, quote, ticket_query, transaction_query
from bridge.connectors.unreadable import PARSE_ERRORS, unreadable
from bridge.errors import NotFoundError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side


class RTReading(RTContent):
    """The read half of the port on RT: searches, tickets, comments, marker lookups."""

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        queue = mapping.route.record_type
        self._mappings[queue] = mapping
        wanted = _fields_to_read(mapping, fields)
        query = ticket_query(queue, mapping.route.where, since, self.timezone, mapping.links.itsm_key_field,
                             linked_projects(mapping))
        params = self._search_params(query, wanted)
        yielded: set[str] = set()
        for _attempt in range(1 + MAX_REPAIR_PASSES):
            on_pages: set[str] = set()
            shifted = False
            for data, _ in self._pages("tickets", params):
                selected: list[Record] = []
                for raw in data["items"]:
                    try:
                        record, all_fields = self._record(raw, queue, mapping, fields)
                    except PARSE_ERRORS as exc:  # one unreadable ticket must not stop the others
                        yield unreadable(exc, Side.ITSM, queue, raw.get("id"), f"RT#{raw.get('id')}")
                        continue
                    if record.ref.id in on_pages:
                        # Updated while we paged: it moved to the end and pushed every later ticket one
                        # place up, so the first ticket of some page went unread. Read the pages again.
                        shifted = True
                        continue
                    on_pages.add(record.ref.id)
                    if record.ref.id in yielded:
                        continue
                    # linked tickets keep syncing whatever their queue and the route say; the cycle
                    # drops the unlinked ones (a back-reference a person typed in)
                    routed = record.ref.kind == queue and matches(mapping.route.where, all_fields)
                    if not routed and not _linked(mapping, all_fields):
                        continue
                    yielded.add(record.ref.id)
                    selected.append(record)
                yield from self._with_first_messages(selected, mapping)  # one batch per page
            if not shifted:
                return

    def _search_params(self, query: str, wanted: Sequence[str]) -> dict[str, Any]:
        core = [f for f in wanted if custom_field_name(f) is None]
        names = list(dict.fromkeys([*BASE_FIELDS, *VERSION_FIELDS, *core]))
        return {
            "query": query,
            "fields": ",".join(n for n in names if n != "id"),
            "fields[Queue]": "Name",
            "orderby": ["LastUpdated", "id"],
            "order": ["ASC", "ASC"],
        }

    def _record(
        self, raw: Mapping[str, Any], queue: str, mapping: MappingSpec | None, fields: Sequence[str]
    ) -> tuple[Record, dict[str, FieldValue]]:
        rt_id = ticket_id(raw.get("id"))
        cfs = custom_field_values(raw)
        names = set(fields) | set(_fields_to_read(mapping, fields) if mapping else ())
        values: dict[str, FieldValue] = {}
        for name in names:
            cf = custom_field_name(name)
            if cf is not None:
                values[name] = cfs.get(cf)
            elif name == "id":
                values[name] = rt_id
            else:
                values[name] = normalise_value(raw.get(name))
        updated = parse_datetime(raw.get("LastUpdated")) or datetime.now(UTC)
        back_reference = None
        if mapping is not None:
            for link_field in (mapping.links.itsm_key_field, mapping.links.link_existing):
                if link_field and (value := _lookup(link_field, raw, cfs)):
                    back_reference = value
                    break
        record = Record(
            ref=self._ref(object_name(raw.get("Queue")) or queue, rt_id),
            fields={k: v for k, v in values.items() if k in set(fields)},
            status=None if raw.get("Status") is None else str(raw.get("Status")),
            updated=updated,
            version=_version(raw),
            updated_by=object_name(raw.get("LastUpdatedBy")),
            back_reference=back_reference,
        )
        return record, values

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        """One ticket, read through the search endpoint so it parses exactly like :meth:`search_changed`.

        The link fields of the last mapping seen for the ticket's queue are read too, so
        ``back_reference`` is filled as it is in searches.
        """
        rt_id = ticket_id(ref.id)
        mapping = self._mappings.get(ref.kind)
        params = self._search_params(f"id = {rt_id}", _fields_to_read(mapping, fields))
        for data, _ in self._pages("tickets", params):
            for raw in data["items"]:
                return self._with_first_messages([self._record(raw, ref.kind, mapping, fields)[0]], mapping)[0]
        raise NotFoundError("rt: ticket not found or not visible to the account", side="rt",
                            method="GET", endpoint="/REST/2.0/tickets", status=200)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        result: dict[str, list[Comment]] = {ref.id: [] for ref in refs}
        by_id = {ticket_id(ref.id): ref for ref in refs}
        transactions: list[dict[str, Any]] = []
        for chunk in chunks(list(by_id), IDS_PER_QUERY):
            query = transaction_query(chunk, COMMENT_TYPES, since, self.timezone)
            params = {"query": query, "fields": "Type,Created,Creator,ObjectId", "fields[Creator]": "Name,RealName",
                      "orderby": "id", "order": "ASC"}  # the author's real name for the attribution, no extra call
            if self.origin_field:  # the transaction custom fields, with their values, in the same answer
                params["fields"] += ",CustomFields"
            for data, _ in self._pages("transactions", params):
                transactions.extend(data["items"])
        if not transactions:
            return result
        texts = self._transaction_texts([ticket_id(t.get("id")) for t in transactions])
        for txn in sorted(transactions, key=lambda t: int(ticket_id(t.get("id")))):
            txn_id = ticket_id(txn.get("id"))
            ref = by_id.get(ticket_id(txn.get("ObjectId")))
            created = parse_datetime(txn.get("Created"))
            if ref is None or created is None or txn.get("Type") not in COMMENT_TYPES:
                continue
            if since is not None and created < since.replace(microsecond=0) - timedelta(seconds=1):
                continue
            text = texts.get(txn_id, "")
            channel = COMMENT_TYPES[str(txn["Type"])]
            marker = Marker.find(text) or self._carried_marker(txn.get("CustomFields"))
            result[ref.id].append(
                Comment(
                    id=txn_id,
                    parent=ref,
                    author=person_name(txn.get("Creator")) or "",
                    body=Marker.strip(text).strip("\n"),
                    created=created,
                    channel=channel,
                    internal=channel == "comment",
                    marker=marker,
                    own=marker is None and self._by_bridge(txn.get("Creator")),
                )
            )
        return result

    def _carried_marker(self, custom_fields: Any) -> Marker | None:
        """The marker in the transaction custom field ``itsm.transaction_custom_field`` (REST2 lists a
        transaction's custom fields as ``{"name": …, "values": […]}``), if bridge wrote one there."""
        if not self.origin_field or not isinstance(custom_fields, list):
            return None
        for cf in custom_fields:
            if isinstance(cf, dict) and cf.get("name") == self.origin_field:
                return Marker.find(" ".join(str(v) for v in cf.get("values") or []))
        return None

    def _by_bridge(self, creator: Any) -> bool:
        """Whether the transaction's ``Creator`` is bridge's dedicated account: the author as the carrier
        of a reply without a marker (docs/connectors/rt.md, "Comments and markers")."""
        if not self.dedicated_account:
            return False
        login = self._bridge_login()
        return bool(login) and object_name(creator) == login

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        self._mappings[mapping.route.record_type] = mapping
        key_field = mapping.links.itsm_key_field
        cf = custom_field_name(key_field) if key_field else None
        if cf is None:
            return None
        query = f"Queue = {quote(mapping.route.record_type)} AND CF.{{{cf}}} = {quote(marker)}"
        wanted = _fields_to_read(mapping, ())
        for data, _ in self._pages("tickets", self._search_params(query, wanted)):
            for raw in data["items"]:
                record = self._record(raw, mapping.route.record_type, mapping, ())[0]
                if record.back_reference == marker:
                    return record
        return None

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        for comment in self.comments_since([ref], None)[ref.id]:
            if comment.marker == marker:
                return comment
        return None


def _version(raw: Mapping[str, Any]) -> str:
    """``LastUpdated`` plus a digest of :data:`VERSION_FIELDS`: distinct for two changes in one second."""
    material: dict[str, object] = {
        name: normalise_value(raw.get(name)) for name in VERSION_FIELDS if name != "CustomFields"
    }
    material["CustomFields"] = tuple(sorted((k, repr(v)) for k, v in custom_field_values(raw).items()))
    digest = hashlib.sha256(repr(sorted(material.items())).encode()).hexdigest()[:12]
    return f"{raw.get('LastUpdated') or ''}#{digest}"


def _lookup(field: str, raw: Mapping[str, Any], cfs: Mapping[str, FieldValue]) -> str | None:
    cf = custom_field_name(field)
    value = cfs.get(cf) if cf is not None else normalise_value(raw.get(field))
    if isinstance(value, tuple):
        value = value[0] if value else None
    return None if value in (None, "") else str(value)


def _cf_link_fields(mapping: MappingSpec | None) -> list[str]:
    if mapping is None:
        return []
    return [f for f in (mapping.links.itsm_key_field, mapping.links.link_existing) if f]


def _fields_to_read(mapping: MappingSpec | None, fields: Sequence[str]) -> list[str]:
    """The mapping's fields plus what the route's local check and the link fields need."""
    extra: list[str] = []
    if mapping is not None:
        extra = sorted(condition_fields(mapping.route.where)) + _cf_link_fields(mapping)
    return list(dict.fromkeys([*fields, *extra]))


def linked_projects(mapping: MappingSpec) -> list[str]:
    """The Jira projects whose keys this mapping writes into the back-reference field."""
    return list(dict.fromkeys([mapping.target.project, *(mapping.links.link_existing_projects or [])]))


def _linked(mapping: MappingSpec, values: Mapping[str, FieldValue]) -> bool:
    """Whether the ticket carries the mapping's back-reference: a key of one of its projects.

    A key of another project was written by another mapping (or typed by a person): not this
    mapping's ticket once it left the queue.
    """
    field = mapping.links.itsm_key_field
    value = values.get(field) if field else None
    if not isinstance(value, str) or not value.strip():
        return False
    key = value.strip().upper()
    return any(key.startswith(f"{project}-") for project in linked_projects(mapping))
