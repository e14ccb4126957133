"""How long a text each ServiceNow field keeps: ``sys_dictionary.max_length``, read once and remembered.

Each ServiceNow string field declares a ``max_length`` that the instance does not always keep to: a
column of up to 255 characters is a ``varchar`` of that size, a longer one stores more than it declares,
and forms and lists go by the declaration (docs/connectors/servicenow.md, "Field lengths"). So a Jira
description of 10,000 characters written to a 4,000-character ``description`` either loses its tail
without a word or overfills the field. Bridge cuts such a text itself, at a line or word boundary and with
the mapping's truncation notice, like it does for Jira; for that the planner needs each field's length
before it plans (:func:`bridge.sync.itsm_limits.itsm_limits_for`).

One Table API read per table (``sys_dictionary`` rows of the table and of ``task``, which incident, problem
and change_request extend) answers for every field of it. The answer is kept in this process for
:data:`LENGTHS_TTL`, and offered as vendor facts (``facts_key``, :meth:`vendor_facts`, :meth:`prime`) so a
one-shot run keeps it in the state store's cache between runs instead of reading it each time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bridge.connectors.servicenow_values import _raw

#: how long a table's lengths are used before the dictionary is read again (an admin widening a column
#: shows within this)
LENGTHS_TTL_SECONDS = 3600.0

#: the parent table whose dictionary rows the task tables inherit (a field of ``task`` has no row under
#: ``incident``)
PARENT_TABLE = "task"

#: internal types whose value is text kept in a column of ``max_length`` characters. Journal fields
#: (``journal_input``) are not here: a comment or work note is its own ``sys_journal_field`` row.
TEXT_TYPES = frozenset({
    "string", "translated_text", "translated_field", "html", "translated_html", "url", "email", "wiki_text",
    "multi_two_lines", "string_full_utf8",
})


def lengths_of(rows: Iterable[Mapping[str, Any]], table: str) -> dict[str, int]:
    """Field → ``max_length`` for the text fields among ``rows`` (the table's own row wins over ``task``'s)."""
    found: dict[str, int] = {}
    own: set[str] = set()
    for row in rows:
        element, kind, length = _raw(row.get("element")), _raw(row.get("internal_type")), _raw(row.get("max_length"))
        if not element or kind not in TEXT_TYPES or not length.isdigit() or int(length) <= 0:
            continue
        mine = _raw(row.get("name")) == table
        if element in own and not mine:
            continue
        found[element] = int(length)
        if mine:
            own.add(element)
    return found


class ServiceNowDictionary:
    """Field lengths from ``sys_dictionary`` (mixed into the ServiceNow connector, which provides
    ``_pages``, ``base_url`` and ``api_user``)."""

    base_url: str
    api_user: str | None

    def _pages(self, table: str, query: str, fields: str) -> Iterator[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    @property
    def _lengths(self) -> dict[str, tuple[float, dict[str, int]]]:
        """Per table: when it was read (``time.monotonic``) and its text fields' lengths."""
        cache: dict[str, tuple[float, dict[str, int]]] | None = self.__dict__.get("_dictionary_lengths")
        if cache is None:
            cache = self.__dict__["_dictionary_lengths"] = {}
        return cache

    @property
    def facts_key(self) -> str:
        """What :meth:`vendor_facts` describe: this instance as this account (a digest, no secret)."""
        digest = hashlib.sha256(f"{self.base_url}\0{self.api_user or ''}".encode()).hexdigest()
        return f"servicenow:{digest[:24]}"

    def field_lengths(self, table: str, fields: Iterable[str]) -> dict[str, int]:
        """``max_length`` of each of ``fields`` of ``table`` that holds text (others are left out).

        Reads the table's dictionary at most once per :data:`LENGTHS_TTL_SECONDS`; raises
        :class:`~bridge.errors.ConnectorError` when it cannot (no read on ``sys_dictionary``).
        """
        wanted = [f for f in fields if f]
        if not wanted:
            return {}
        cached = self._lengths.get(table)
        if cached is None or time.monotonic() - cached[0] > LENGTHS_TTL_SECONDS:
            query = f"nameIN{table},{PARENT_TABLE}^elementISNOTEMPTY" if table != PARENT_TABLE else \
                f"name={table}^elementISNOTEMPTY"
            rows = self._pages("sys_dictionary", query, "name,element,internal_type,max_length")
            cached = (time.monotonic(), lengths_of(rows, table))
            self._lengths[table] = cached
        return {f: cached[1][f] for f in wanted if f in cached[1]}

    def vendor_facts(self) -> dict[str, Any]:
        """The lengths this process read, for a one-shot run to keep until the next one (:meth:`prime`)."""
        return {"field_lengths": {table: dict(lengths) for table, (_, lengths) in sorted(self._lengths.items())}} \
            if self._lengths else {}

    def prime(self, facts: Mapping[str, Any]) -> None:
        """Take the lengths an earlier run read (the store's cache expires them) instead of reading again."""
        tables = facts.get("field_lengths")
        if not isinstance(tables, dict):
            return
        now = time.monotonic()
        for table, lengths in tables.items():
            if isinstance(table, str) and isinstance(lengths, dict) and table not in self._lengths:
                self._lengths[table] = (now, {str(k): int(v) for k, v in lengths.items() if isinstance(v, int)})


__all__ = ["LENGTHS_TTL_SECONDS", "TEXT_TYPES", "ServiceNowDictionary", "lengths_of"]
