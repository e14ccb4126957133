"""Message text of RT tickets as a person reads it: comment and reply bodies, and each ticket's first message.

RT keeps text in the attachments (MIME parts) of transactions, not in the transactions themselves; which
part is the message and which are attached files is decided by :mod:`bridge.connectors.rt_mime` ("Comment
text" in ``docs/connectors/rt.md``). Everything here is read in bulk: one attachments search per 100
transactions, one TransactionSQL search per 50 tickets for first messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from bridge.connectors.rt.client import IDS_PER_QUERY, MAX_PER_PAGE, RTClient, chunks
from bridge.connectors.rt_mime import Part, part_from_rest, texts_by_transaction
from bridge.connectors.rt_parse import ticket_id
from bridge.connectors.rt_query import transaction_query
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Marker, Record

#: Fields of the attachments search that reads message text: enough to walk each transaction's MIME tree.
#: (``Parent`` is not among them: ``fields=Parent`` makes RT 5.0.3 answer 500, and id order is enough.)
ATTACHMENT_FIELDS = "TransactionId,ContentType,Filename,Headers,Content"
#: First messages kept in memory (a Create transaction never changes, so each is read once per process).
FIRST_MESSAGE_CACHE = 10_000


class RTContent(RTClient):
    """Transaction texts and first messages, for the reading half of the connector."""

    _first_messages: dict[str, str]  # ticket id -> its Create transaction's text

    def _transaction_texts(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """Each transaction's text as a person reads it in RT (one search per 100 transactions, paged).

        The search returns every MIME part of the transactions in id (= document) order with its headers,
        which is all :mod:`bridge.connectors.rt_mime` needs to tell the message body from attached files.
        File contents come along in the same answer (REST2 cannot leave them out per part) and are dropped.
        """
        parts: list[Part] = []
        for chunk in chunks(list(dict.fromkeys(transaction_ids)), MAX_PER_PAGE):
            query = json.dumps([{"field": "TransactionId", "operator": "IN", "value": [int(i) for i in chunk]}])
            params = {"query": query, "fields": ATTACHMENT_FIELDS, "orderby": "id", "order": "ASC"}
            for data, _ in self._pages("attachments", params):
                parts.extend(part_from_rest(item) for item in data["items"] if isinstance(item, dict))
        return texts_by_transaction(p for p in parts if p.transaction_id)

    def _with_first_messages(self, records: Sequence[Record], mapping: MappingSpec | None) -> list[Record]:
        """``records`` with :attr:`~bridge.model.Record.first_message` filled when a template reads it.

        The first message is the ``Create`` transaction's text: one TransactionSQL search and one
        attachments search for all tickets of a page that need it, cached (it never changes). When every
        template reading it is ``sync: create``, tickets already linked to an issue are skipped.
        """
        need = first_message_need(mapping)
        if need is None or not records:
            return list(records)
        wanted = {r.ref.id for r in records if need == "always" or not r.back_reference}
        cache = self._first_message_cache()
        missing = [ticket_id(i) for i in wanted if ticket_id(i) not in cache]
        if missing:
            self._read_first_messages(sorted(missing, key=int))
        return [
            replace(r, first_message=cache.get(ticket_id(r.ref.id), "")) if r.ref.id in wanted else r
            for r in records
        ]

    def _first_message_cache(self) -> dict[str, str]:
        if not hasattr(self, "_first_messages"):
            self._first_messages = {}
        return self._first_messages

    def _read_first_messages(self, ticket_ids: Sequence[str]) -> None:
        creates: dict[str, str] = {}  # transaction id -> ticket id
        for chunk in chunks(list(dict.fromkeys(ticket_ids)), IDS_PER_QUERY):
            query = transaction_query(chunk, ("Create",), None, self.timezone)
            params = {"query": query, "fields": "Type,ObjectId", "orderby": "id", "order": "ASC"}
            for data, _ in self._pages("transactions", params):
                for txn in data["items"]:
                    if txn.get("Type") == "Create":
                        creates[ticket_id(txn.get("id"))] = ticket_id(txn.get("ObjectId"))
        texts = self._transaction_texts(list(creates)) if creates else {}
        cache = self._first_message_cache()
        if len(cache) + len(ticket_ids) > FIRST_MESSAGE_CACHE:
            cache.clear()
        for rt_id in ticket_ids:
            cache[rt_id] = ""
        for txn_id, rt_id in creates.items():
            cache[rt_id] = Marker.strip(texts.get(txn_id, "")).strip("\n")


def first_message_need(mapping: MappingSpec | None) -> str | None:
    """Whether the mapping's templates read ``record.first_message``: ``"always"``, ``"create"`` or ``None``.

    ``"create"`` when every template that reads it is ``sync: create`` (only unlinked tickets need it).
    """
    if mapping is None:
        return None
    syncs = {rule.sync for rule in mapping.fields.values() if rule.template and "first_message" in rule.template}
    if not syncs:
        return None
    return "create" if syncs == {"create"} else "always"
