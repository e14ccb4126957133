"""Journal entries (work notes, comments) of ServiceNow records, and the change search's folded journal read.

``comments``/``work_notes`` are write-only on the record; their entries are rows of ``sys_journal_field``
(``element_id`` = the record's sys_id, ``name`` = its table). :meth:`ServiceNowJournal.comments_since`
reads them for all the changed records of a cycle in one query (``element_idIN…``).

**The fold** (docs/connectors/servicenow.md, "Batch API"). A cycle's change search and its journal read
would be two calls, so at one change per cycle the journal read doubles the cost of a change. When the
instance has the Batch API, the search's first page goes in ONE batch call with a journal read of the same
window, by time rather than by record: ``name=<table>^elementINcomments,work_notes^sys_created_on>=<since
floored>``. The rows of the records the search returned are kept; :meth:`comments_since` answers from them
when they cover what it is asked, and reads as before otherwise. Covering means, all of:

* the journal page was complete (the whole window in one page): a full page may miss entries, so it is
  never used — the read by record follows, as without the fold (never a lost comment);
* every ref asked is a record of that table the search returned;
* ``since`` is at or after the window's start — or ``since`` is ``None`` (a new record's whole history)
  and the record was created within the window (a journal entry is never older than its record);
* the connector has made no other request since the search ended: the rows are a snapshot of that moment,
  so any other request (a hinted read, a write, a later search) retires them; each record's rows are also
  handed out once.

Without the Batch API (400/404 on the batch path, or ``itsm.batch_api: false``) the search and the journal
read are two calls as before; the refusal is remembered by the connector for the life of the process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from bridge.connectors.servicenow_attachments import ServiceNowAttachments
from bridge.connectors.servicenow_batch import BatchReply, BatchRequest, BatchUnavailable, send_batch
from bridge.connectors.servicenow_query import literal
from bridge.connectors.servicenow_values import _raw, format_time, marker_comment_id, parse_time, trailing_marker
from bridge.errors import NotFoundError, PermanentError
from bridge.model import Comment, Marker, Ref
from bridge.vendors import servicenow as facts

log = structlog.get_logger(__name__)

JOURNAL_FIELDS = tuple(sorted(facts.JOURNAL_NAMES))
JOURNAL_READ_FIELDS = "sys_id,element,element_id,name,value,sys_created_on,sys_created_by"
_PAGE_PARAMS = {"sysparm_display_value": "false", "sysparm_exclude_reference_link": "true"}


@dataclass
class _Prefetch:
    """The journal rows a folded change search brought (see the module docstring)."""

    table: str
    #: the window's start as an encoded-query literal (floored to the second)
    since: str
    rows: list[dict[str, Any]]
    #: record id -> its ``sys_created_on`` literal, for each record the search returned
    created: dict[str, str] = field(default_factory=dict)
    by_record: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: the connector's call count when the search ended; ``None`` while it is being paged
    calls_at: int | None = None


def _complete(reply: BatchReply, rows: list[Any], page_size: int) -> bool:
    """Whether the journal page holds the whole window (ACL-hidden rows aside, which no read sees)."""
    total = reply.header("X-Total-Count")
    if total is not None and total.strip().isdigit():
        return int(total) <= page_size
    return len(rows) < page_size and 'rel="next"' not in (reply.header("Link") or "")


class ServiceNowJournal(ServiceNowAttachments):
    """Reading journal entries; mixed into :class:`~bridge.connectors.servicenow.ServiceNowConnector`."""

    page_size: int
    max_ids_per_query: int
    api_user: str | None
    _people: dict[str, str]
    #: ``itsm.dedicated_account``: a journal entry written by ``api_user`` is bridge's own (:attr:`Comment.own`)
    dedicated_account: bool = False
    #: whether to try the Batch API (set off by configuration, or by the instance refusing it)
    batch_api: bool = True
    _prefetch: _Prefetch | None = None

    # provided by the connector
    def _path(self, table: str, sys_id: str | None = None) -> str:
        raise NotImplementedError

    def _pages(self, table: str, query: str, fields: str) -> Any:
        raise NotImplementedError

    def _list_page(self, table: str, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], Mapping[str, str]]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------ the fold

    def _first_page_with_journal(
        self, table: str, params: Mapping[str, Any], since: datetime
    ) -> tuple[list[dict[str, Any]], Mapping[str, str]]:
        """The change search's first page, and — in the same batch call — the journal of its window."""
        self._prefetch = None
        if not self.batch_api:
            return self._list_page(table, params)
        stamp = format_time(since)
        journal = BatchRequest("journal", self._path("sys_journal_field"), {
            "sysparm_query": "^".join([f"name={table}", f"elementIN{','.join(JOURNAL_FIELDS)}",
                                       f"sys_created_on>={stamp}", "ORDERBYsys_created_on", "ORDERBYsys_id"]),
            "sysparm_fields": JOURNAL_READ_FIELDS, "sysparm_limit": self.page_size, **_PAGE_PARAMS,
        })
        search = BatchRequest("search", self._path(table), params)
        try:
            replies = send_batch(self.http, [search, journal])
        except BatchUnavailable as exc:
            self.batch_api = False
            log.info("servicenow: no Batch API, the change search and the journal read go as two calls",
                     reason=str(exc))
            return self._list_page(table, params)
        found = replies["journal"]
        rows = found.result() if found is not None and found.ok else None
        if found is not None and isinstance(rows, list) and _complete(found, rows, self.page_size):
            self._prefetch = _Prefetch(table, stamp, [r for r in rows if isinstance(r, dict)])
        answer = replies["search"]
        page = answer.result() if answer is not None and answer.ok else None
        if answer is None or not isinstance(page, list):
            # unserviced, or refused (ACL, rate limit …): sent on its own, which retries or raises as usual
            return self._list_page(table, params)
        return page, answer.headers

    def _prefetch_note(self, row: Mapping[str, Any]) -> None:
        """A record the folded search returned."""
        if self._prefetch is not None and self._prefetch.calls_at is None:
            self._prefetch.created[_raw(row.get("sys_id"))] = _raw(row.get("sys_created_on"))

    def _prefetch_end(self) -> None:
        """The folded search is read to its end: keep the journal rows of its records."""
        prefetch = self._prefetch
        if prefetch is None or prefetch.calls_at is not None:
            return
        for row in prefetch.rows:
            record = _raw(row.get("element_id"))
            if record in prefetch.created and _raw(row.get("element")) in JOURNAL_FIELDS:
                prefetch.by_record.setdefault(record, []).append(row)
        prefetch.rows = []
        prefetch.calls_at = self.calls.total

    def _prefetched(self, refs: Sequence[Ref], since: datetime | None) -> list[dict[str, Any]] | None:
        """The journal rows of ``refs`` since ``since`` from the fold, or ``None`` when it does not cover them."""
        prefetch = self._prefetch
        if prefetch is None or prefetch.calls_at is None or prefetch.calls_at != self.calls.total:
            self._prefetch = None
            return None
        floor = format_time(since) if since is not None else None
        for ref in refs:
            created = prefetch.created.get(ref.id)
            if ref.kind != prefetch.table or created is None:
                return None
            if floor is None and not (created and created >= prefetch.since):
                return None
            if floor is not None and floor < prefetch.since:
                return None
        rows: list[dict[str, Any]] = []
        for ref in refs:
            prefetch.created.pop(ref.id, None)  # handed out once
            rows.extend(r for r in prefetch.by_record.pop(ref.id, [])
                        if floor is None or _raw(r.get("sys_created_on")) >= floor)
        return rows

    # ------------------------------------------------------------------------------------ reading

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        out: dict[str, list[Comment]] = {ref.id: [] for ref in refs}
        by_id = {ref.id: ref for ref in refs}
        start, prefetch = self.calls.total, self._prefetch
        rows = self._prefetched(list(by_id.values()), since) if refs else []
        if rows is None:
            rows = self._journal_rows(list(by_id), since)
        names = self._display_names({_raw(r.get("sys_created_by")) for r in rows})
        if prefetch is not None and prefetch is self._prefetch and prefetch.calls_at == start:
            prefetch.calls_at = self.calls.total  # this read's own requests leave the fold's snapshot valid
        for row in rows:
            ref = by_id.get(_raw(row.get("element_id")))
            if ref is not None:
                out[ref.id].append(self._comment(ref, row, names))
        for comments in out.values():
            comments.sort(key=lambda c: (c.created, c.id))
        return out

    def _journal_rows(self, ids: Sequence[str], since: datetime | None) -> list[dict[str, Any]]:
        """The journal of records by id, ``max_ids_per_query`` at a time (the read without the fold)."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), self.max_ids_per_query):
            chunk = ids[start:start + self.max_ids_per_query]
            terms = [f"element_idIN{','.join(chunk)}", f"elementIN{','.join(JOURNAL_FIELDS)}"]
            if since is not None:
                terms.append(f"sys_created_on>={format_time(since)}")
            query = "^".join([*terms, "ORDERBYsys_created_on", "ORDERBYsys_id"])
            rows.extend(self._pages("sys_journal_field", query, JOURNAL_READ_FIELDS))
        return rows

    #: how many authors' names :meth:`vendor_facts` hands on (the people who write journal entries)
    people_facts_limit = 5_000

    def vendor_facts(self) -> dict[str, Any]:
        """Also the journal authors' display names read from ``sys_user``, so a restart or the next
        one-shot run does not look up the same authors again (the other facts come from the mixins
        after this one in the connector's bases)."""
        inherited = getattr(super(), "vendor_facts", None)
        facts: dict[str, Any] = dict(inherited()) if callable(inherited) else {}
        people = dict(list(self._people.items())[-self.people_facts_limit:])
        if people:
            facts["people"] = dict(sorted(people.items()))
        return facts

    def prime(self, facts: Mapping[str, Any]) -> None:
        inherited = getattr(super(), "prime", None)
        if callable(inherited):
            inherited(facts)
        people = facts.get("people")
        if isinstance(people, Mapping):
            for user, name in people.items():
                if isinstance(user, str) and isinstance(name, str):
                    self._people.setdefault(user, name)

    def _display_names(self, user_names: set[str]) -> dict[str, str]:
        """People's names for journal authors (``sys_created_by`` is a user_name), cached per process.

        One ``sys_user`` query for the authors not seen before; when ``sys_user`` is not readable the
        user_name stands in, which only makes attributions plainer.
        """
        missing = sorted(u for u in user_names if u and u not in self._people and literal(u) == u and "," not in u)
        if missing:
            try:
                rows = list(self._pages("sys_user", f"user_nameIN{','.join(missing)}", "user_name,name"))
            except (PermanentError, NotFoundError):
                rows = []
            for row in rows:
                self._people[_raw(row.get("user_name"))] = _raw(row.get("name")) or _raw(row.get("user_name"))
            for user in missing:
                self._people.setdefault(user, user)
        return {u: self._people.get(u, u) for u in user_names}

    def _comment(self, ref: Ref, row: Mapping[str, Any], names: Mapping[str, str]) -> Comment:
        text = _raw(row.get("value"))
        marker = trailing_marker(text)
        element = _raw(row.get("element"))
        author = _raw(row.get("sys_created_by"))
        return Comment(
            id=marker_comment_id(ref, marker) if marker is not None else _raw(row.get("sys_id")),
            parent=ref,
            author=names.get(author, author),
            body=Marker.strip(text) if marker else text,
            created=parse_time(_raw(row.get("sys_created_on"))),
            channel=element,
            internal=facts.journal_is_internal(element),
            marker=marker,
            # the author as the carrier (``sys_created_by`` is the user_name): see "Comments and markers"
            own=self.dedicated_account and marker is None and bool(author) and author == self.api_user,
        )
