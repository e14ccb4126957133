"""The ServiceNow side: incidents and change requests through the Table API.

What makes ServiceNow easy to get wrong, and how this adapter copes (docs/connectors/servicenow.md,
"Vendor facts bridge relies on"; the facts themselves are in :mod:`bridge.vendors.servicenow`):

* **Paging.** The change search pages by keyset: ordered by ``(sys_updated_on, sys_id)``, each page
  starts after the last row of the previous one, so a record updated while bridge pages is read again
  further on instead of pushing another row past the offset. ACLs filter rows after the query, so a
  page may be short or empty while more rows exist: a short page never ends the read, and an empty one
  is stepped over with ``sysparm_offset``. Other list reads page by offset until ``X-Total-Count``.
* **Linked records.** The change search also returns records carrying bridge's back-reference, in the
  same query (an ``^NQ`` group): a record that leaves the route keeps syncing (docs/mappings.md).
* **Queries.** A misspelt field in ``sysparm_query`` is silently ignored (more rows, not an error), and
  some conditions have no exact encoded form: the route is compiled conservatively
  (:mod:`bridge.connectors.servicenow_query`) and every record is re-checked with
  :func:`~bridge.mapping.transform.matches`.
* **Time.** ``sys_updated_on`` is UTC with second precision: ``since`` is floored to the second and
  compared with ``>=``, so a record updated in the same second as the cursor is seen again (the
  engine de-duplicates by ``sys_id`` + ``sys_mod_count``) rather than missed.
* **Journals.** ``comments``/``work_notes`` are write-only on the record; entries are read from
  ``sys_journal_field`` in ONE query for all changed records. A journal PATCH appends every time it is
  sent, so it is never retried once it may have reached the instance; bridge's marker on the last line
  lets the executor find it again after a timeout.
* **Refusals.** Data policies answer 403 (a :class:`~bridge.errors.PermanentError` carrying the
  instance's message); change models ignore a state write with a 200, which the adapter detects by
  comparing the state in the PATCH response.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from bridge.connectors.base import CreateSpec
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.connectors.servicenow_checks import ServiceNowChecks
from bridge.connectors.servicenow_dictionary import ServiceNowDictionary
from bridge.connectors.servicenow_journal import JOURNAL_FIELDS, JOURNAL_READ_FIELDS
from bridge.connectors.servicenow_query import INTEGER_FIELDS, EncodedQuery, compile_route, literal
from bridge.connectors.servicenow_values import (
    _raw,
    format_time,
    marker_comment_id,
    parse_time,
    sn_message,
    to_servicenow,
    trailing_marker,
)
from bridge.connectors.unreadable import readable
from bridge.errors import (
    ConfigError,
    NotFoundError,
    PermanentError,
)
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side, Visibility
from bridge.vendors import servicenow as facts

DATE_FORMAT = facts.DATE_FORMAT
TABLE_PATH = "/api/now/table/{table}"
#: fields every record read carries, whatever the mapping asks
SYSTEM_FIELDS = ("sys_id", "number", "state", "sys_updated_on", "sys_mod_count", "sys_updated_by")
_TABLE_NAME = re.compile(r"^[a-z0-9_]+$")
_FIELD_NAME = re.compile(r"^[a-z0-9_]+$")


class _BearerAuth(requests.auth.AuthBase):
    """OAuth 2.0 bearer token; its repr never shows the token."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(token=**********)"


class ServiceNowConnector(ServiceNowChecks, ServiceNowDictionary):
    """The ITSM side on ServiceNow's Table API (incidents, change requests; any task table)."""

    side = Side.ITSM
    name = "servicenow"
    display_name = "ServiceNow"

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: SecretStr | None = None,
        token: SecretStr | None = None,
        options: HttpOptions | None = None,
        api_user: str | None = None,
        page_size: int = 500,
        max_ids_per_query: int = 100,
        integer_fields: Iterable[str] = INTEGER_FIELDS,
        ca_bundle: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        batch_api: bool = True,
        dedicated_account: bool = False,
    ) -> None:
        """Connect with basic auth (``user`` + ``password``) or an OAuth bearer ``token``.

        ``api_user`` is the ``user_name`` bridge writes as (``sys_updated_by`` of its own writes, for
        echo detection); it defaults to ``user``. ``page_size`` is ``sysparm_limit`` (lower it when
        the instance cancels long transactions). ``max_ids_per_query`` bounds ``element_idIN…`` lists
        so URLs stay well below common 8 KB limits. ``batch_api=False`` never tries the Batch API
        (docs/connectors/servicenow.md, "Batch API"). ``dedicated_account`` (``itsm.dedicated_account``):
        ``api_user`` is bridge's alone, so a journal entry it wrote is bridge's own (:attr:`Comment.own`)
        even without a marker.
        """
        super().__init__()
        if token is not None and (user or password):
            raise ConfigError("ServiceNow: give either user+password (basic) or an OAuth token, not both")
        if token is None and not (user and password):
            raise ConfigError("ServiceNow: credentials missing: give user and password, or an OAuth token")
        if page_size < 1 or max_ids_per_query < 1:
            raise ConfigError("ServiceNow: page_size and max_ids_per_query must be positive")
        self.base_url = url.rstrip("/")
        options = replace(options, base_url=self.base_url) if options else HttpOptions(base_url=self.base_url)
        auth: requests.auth.AuthBase | tuple[str, str]
        if token is not None:
            auth = _BearerAuth(token)
        else:
            assert user is not None
            assert password is not None
            auth = requests.auth.HTTPBasicAuth(user, password.get_secret_value())
        self.api_user = api_user or user
        self.page_size = page_size
        self.max_ids_per_query = max_ids_per_query
        self.integer_fields = frozenset(integer_fields)
        self.batch_api = batch_api
        self.dedicated_account = dedicated_account
        self.http = HttpClient(
            "servicenow", options, auth=auth, vendor_message=sn_message, counter=self.calls, sleep=sleep,
        )
        if ca_bundle is not None and options.verify_tls:
            self.http.session.verify = str(ca_bundle)
        self._key_fields: dict[str, tuple[str, ...]] = {}
        self._people: dict[str, str] = {}
        #: per record, the ``sys_mod_count`` and ``sys_updated_on`` bridge's last PATCH answered (written_version)
        self._written: dict[str, tuple[str, datetime]] = {}

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> ServiceNowConnector:
        """Build from the configuration (the whole settings or its ``itsm:`` section)."""
        section = getattr(settings, "itsm", settings)
        options = HttpOptions(
            base_url=section.url,
            connect_timeout=section.timeout_seconds.connect,
            read_timeout=section.timeout_seconds.read,
            verify_tls=section.verify_tls,
            requests_per_second=section.requests_per_second,
        )
        kwargs.setdefault("batch_api", getattr(section, "batch_api", True))
        kwargs.setdefault("dedicated_account", bool(getattr(section, "dedicated_account", False)))
        return cls(section.url, user=section.username, password=section.password, token=section.token,
                   options=options, ca_bundle=section.ca_bundle, **kwargs)

    # =================================================================================== helpers

    def _path(self, table: str, sys_id: str | None = None) -> str:
        if not _TABLE_NAME.match(table):
            raise PermanentError(f"servicenow: {table!r} is not a table name", side=self.name)
        path = TABLE_PATH.format(table=table)
        return f"{path}/{sys_id}" if sys_id else path

    def _ref(self, table: str, row: Mapping[str, Any]) -> Ref:
        sys_id = _raw(row.get("sys_id"))
        return Ref(Side.ITSM, table, sys_id, _raw(row.get("number")) or sys_id,
                   f"{self.base_url}/{table}.do?sys_id={sys_id}")

    def _link_fields(self, mapping: MappingSpec) -> tuple[str, ...]:
        links = mapping.links
        fields = tuple(f for f in (links.itsm_key_field, links.link_existing) if f)
        self._key_fields[mapping.route.record_type] = fields
        return fields

    def _record(self, table: str, row: Mapping[str, Any], fields: Sequence[str], key_fields: Sequence[str]) -> Record:
        back = next((_raw(row.get(f)) for f in key_fields if _raw(row.get(f))), None)
        updated = _raw(row.get("sys_updated_on"))
        return Record(
            ref=self._ref(table, row),
            fields={f: _raw(row.get(f)) for f in fields},
            status=_raw(row.get("state")) or None,
            updated=parse_time(updated) if updated else datetime(1970, 1, 1, tzinfo=UTC),
            version=_raw(row.get("sys_mod_count")),
            updated_by=_raw(row.get("sys_updated_by")) or None,
            back_reference=back,
        )

    def _pages(self, table: str, query: str, fields: str) -> Iterator[dict[str, Any]]:
        """Every row of ``query``, page by page, until the offset reaches ``X-Total-Count``.

        A short or empty page does not mean the end: ACLs drop rows after paging [KB3047115]. Rows
        seen twice (a record updated while paging moves within the order) are yielded once.
        """
        offset = 0
        seen: set[str] = set()
        if "sys_id" not in fields.split(","):
            fields = f"sys_id,{fields}"  # the de-duplication key
        if "ORDERBY" not in query:
            query = "^".join(p for p in (query, "ORDERBYsys_id") if p)  # offset paging needs a unique order
        while True:
            response = self.http.request("GET", self._path(table), params={
                "sysparm_query": query,
                "sysparm_fields": fields,
                "sysparm_limit": self.page_size,
                "sysparm_offset": offset,
                "sysparm_display_value": "false",
                "sysparm_exclude_reference_link": "true",
            })
            rows = self._result(response)
            if not isinstance(rows, list):
                raise PermanentError("servicenow: a list query answered something else than a list",
                                     side=self.name, endpoint=self._path(table))
            for row in rows:
                sys_id = _raw(row.get("sys_id"))
                if sys_id and sys_id not in seen:
                    seen.add(sys_id)
                    yield row
            offset += self.page_size
            total = response.headers.get("X-Total-Count")
            if total is not None and total.strip().isdigit():
                if offset >= int(total):
                    return
            elif "Link" in response.headers:
                if 'rel="next"' not in response.headers["Link"]:
                    return  # no count (sysparm_no_count): the Link header says whether a next page exists
            elif not rows:
                return  # neither count nor Link header: an empty page is all there is to go by

    def _result(self, response: requests.Response) -> Any:
        try:
            return response.json()["result"]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("servicenow answered without a JSON result", side=self.name,
                                 endpoint=urlsplit(response.url or "").path,
                                 status=response.status_code) from None

    def _patch(self, ref: Ref, body: Mapping[str, str], fields: str, *, idempotent: bool = True) -> dict[str, Any]:
        response = self.http.request(
            "PATCH", self._path(ref.kind, ref.id), json=dict(body), idempotent=idempotent,
            params={"sysparm_fields": f"{fields},sys_updated_on", "sysparm_display_value": "false",
                    "sysparm_exclude_reference_link": "true"},
        )
        result = self._result(response)
        result = result if isinstance(result, dict) else {}
        count, stamp = _raw(result.get("sys_mod_count")), _raw(result.get("sys_updated_on"))
        try:
            when = parse_time(stamp) if count.isdigit() and stamp else None
        except ValueError:
            when = None
        if len(self._written) > 10_000:
            self._written.clear()  # only a write the executor did not ask about leaves an entry behind
        if when is not None:
            self._written[ref.id] = (count, when)
        else:
            self._written.pop(ref.id, None)
        return result

    def written_version(self, ref: Ref, before: str) -> tuple[str, datetime] | None:
        """``sys_mod_count`` counts every update of a record (journal entries too): when bridge's PATCH
        answered exactly one more than ``before``, nobody else wrote since (docs/connectors/servicenow.md,
        "Comments and work notes")."""
        written = self._written.pop(ref.id, None)
        if written is None or not before.isdigit() or int(written[0]) != int(before) + 1:
            return None
        return written

    # =================================================================================== reading

    def compile(self, mapping: MappingSpec) -> EncodedQuery:
        """The encoded query of ``mapping``'s route (broader than the route when not exact)."""
        return compile_route(mapping.route.where, self.integer_fields)

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        """The records that changed and either match the route or carry bridge's back-reference.

        The route decides what gets escalated, not what keeps syncing: an incident reassigned out of the
        route's group must still receive the developer's Done. So the query is the route's groups OR one
        more ``^NQ`` group, ``<back-reference field>ISNOTEMPTY``, each with the same updated-since bound
        (docs/mappings.md, "Links"). A record returned only for its back-reference is yielded whether or
        not the route matches; the cycle keeps it when it is linked and drops it otherwise.
        """
        table = mapping.route.record_type
        key_fields = self._link_fields(mapping)
        link_fields = [f for f in (mapping.links.itsm_key_field, mapping.links.itsm_url_field,
                                   mapping.links.link_existing) if f]
        where = mapping.route.where
        wanted = [*SYSTEM_FIELDS, *fields, *sorted(condition_fields(where)), *link_fields]
        fold = since is not None and self.batch_api
        if fold:
            wanted.append("sys_created_on")  # a record created within the window has no older journal entry
        back = mapping.links.itsm_key_field
        query = self.change_query(mapping)
        for row in self._keyset_pages(table, query, since, ",".join(dict.fromkeys(wanted)), fold=fold):
            values = {k: _raw(v) for k, v in row.items()}
            # the compiled query may be broader than the route, never narrower
            if matches(where, values) or (back is not None and values.get(back, "").strip()):
                yield readable(lambda: self._record(table, row, fields, key_fields),  # noqa: B023 - called at once
                               Side.ITSM, table, row.get("sys_id"), row.get("number"))

    def change_query(self, mapping: MappingSpec) -> EncodedQuery:
        """The route's encoded query OR'ed (``^NQ``) with "carries a back-reference"."""
        compiled = self.compile(mapping)
        back = mapping.links.itsm_key_field
        if back is None or not _FIELD_NAME.match(back) or () in compiled.groups:
            return compiled  # no back-reference to search by, or the route already selects everything
        linked = ((f"{back}ISNOTEMPTY",),)
        return EncodedQuery(groups=(*compiled.groups, linked), exact=False)

    def _keyset_pages(
        self, table: str, query: EncodedQuery, since: datetime | None, fields: str, *, fold: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every row of ``query`` updated at or after ``since``, by keyset: ordered by
        ``(sys_updated_on, sys_id)``, each page starting after the last row of the one before.

        Offset paging skips a row whenever a record read on an earlier page is updated while bridge
        pages (it moves to the end and every later row moves one place up). A keyset cannot: the moved
        record is simply read again further on. ACLs filter rows after the query [KB3047115], so a page
        may be empty while more rows exist: then, and only then, the offset moves on within the same
        keyset until ``X-Total-Count`` is reached. ``fold``: the first page goes in one Batch API call
        with the journal read of the same window (:mod:`bridge.connectors.servicenow_journal`).
        """
        if "sys_id" not in fields.split(","):
            fields = f"sys_id,{fields}"
        if "sys_updated_on" not in fields.split(","):
            fields = f"{fields},sys_updated_on"
        order = ("sys_updated_on", "sys_id")
        mark: tuple[str, str] | None = None
        offset = 0
        seen: set[tuple[str, str, str]] = set()
        while True:
            if mark is None:
                extra = [f"sys_updated_on>={format_time(since)}"] if since is not None else []
                text = query.render(extra, order_by=order)
            else:
                stamp, sys_id = mark
                after = EncodedQuery(
                    groups=tuple(g + b for g in query.groups
                                 for b in (((f"sys_updated_on>{stamp}",),),
                                           ((f"sys_updated_on={stamp}",), (f"sys_id>{sys_id}",)))),
                    exact=query.exact,
                )
                text = after.render(order_by=order)
            params = {
                "sysparm_query": text,
                "sysparm_fields": fields,
                "sysparm_limit": self.page_size,
                "sysparm_offset": offset,
                "sysparm_display_value": "false",
                "sysparm_exclude_reference_link": "true",
            }
            if fold and since is not None and mark is None and offset == 0:
                rows, headers = self._first_page_with_journal(table, params, since)
            else:
                rows, headers = self._list_page(table, params)
            for row in rows:
                if fold:
                    self._prefetch_note(row)
                # a record updated while bridge pages comes again, newer: yielded again (the cycle keeps the newest)
                version = (_raw(row.get("sys_id")), _raw(row.get("sys_mod_count")), _raw(row.get("sys_updated_on")))
                if version[0] and version not in seen:
                    seen.add(version)
                    yield row
            total_text = _header(headers, "X-Total-Count")
            total = int(total_text) if total_text is not None and total_text.strip().isdigit() else None
            link = _header(headers, "Link")
            if total is not None:
                more = offset + self.page_size < total
            elif link is not None:
                more = 'rel="next"' in link
            else:
                more = bool(rows)
            if not more:
                if fold:
                    self._prefetch_end()
                return
            last = rows[-1] if rows else None
            reached = (_raw(last.get("sys_updated_on")), _raw(last.get("sys_id"))) if last is not None else ("", "")
            if all(reached) and (mark is None or reached > mark):
                mark, offset = reached, 0
            else:
                # a page the ACLs emptied (or one that did not move the keyset on): step over it
                offset += self.page_size

    def _list_page(self, table: str, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], Mapping[str, str]]:
        """One page of a list read: its rows and the response headers (paging goes by them)."""
        response = self.http.request("GET", self._path(table), params=params)
        rows = self._result(response)
        if not isinstance(rows, list):
            raise PermanentError("servicenow: a list query answered something else than a list",
                                 side=self.name, endpoint=self._path(table))
        return rows, response.headers

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        key_fields = self._key_fields.get(ref.kind, (facts.BACK_REFERENCE_FIELD,))
        wanted = dict.fromkeys([*SYSTEM_FIELDS, *fields, *key_fields])
        response = self.http.request("GET", self._path(ref.kind, ref.id), params={
            "sysparm_fields": ",".join(wanted), "sysparm_display_value": "false",
            "sysparm_exclude_reference_link": "true",
        })
        row = self._result(response)
        if not isinstance(row, dict):
            raise NotFoundError(f"servicenow: {ref.key} not found", side=self.name)
        return self._record(ref.kind, row, fields, key_fields)

    def get_many(self, refs: Sequence[Ref], fields: Sequence[str]) -> list[Item]:
        """One ``sys_idIN…`` query per table and ``max_ids_per_query`` ids instead of one GET per record;
        a record not found (deleted, or hidden by an ACL) is left out, as :meth:`get` would raise for it."""
        found: dict[str, Item] = {}
        by_table: dict[str, list[str]] = {}
        for ref in refs:
            if _FIELD_NAME.match(ref.id) is None:  # not a sys_id a query can name: read on its own
                with contextlib.suppress(NotFoundError):
                    found[ref.id] = self.get(ref, fields)
            elif ref.id not in by_table.setdefault(ref.kind, []):
                by_table[ref.kind].append(ref.id)
        for table, ids in by_table.items():
            key_fields = self._key_fields.get(table, (facts.BACK_REFERENCE_FIELD,))
            wanted = ",".join(dict.fromkeys([*SYSTEM_FIELDS, *fields, *key_fields]))
            for start in range(0, len(ids), self.max_ids_per_query):
                chunk = ids[start:start + self.max_ids_per_query]
                for row in self._pages(table, f"sys_idIN{','.join(chunk)}", wanted):
                    if _raw(row.get("sys_id")) in chunk:
                        found[_raw(row.get("sys_id"))] = self._record(table, row, fields, key_fields)
        return [found[ref.id] for ref in dict((r.id, r) for r in refs).values() if ref.id in found]

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        table = mapping.route.record_type
        key_fields = self._link_fields(mapping)
        if not key_fields or literal(marker) != marker or not marker:
            return None
        key = key_fields[0]
        wanted = dict.fromkeys([*SYSTEM_FIELDS, *key_fields])
        for row in self._pages(table, f"{key}={marker}^ORDERBYsys_created_on^ORDERBYsys_id", ",".join(wanted)):
            if _raw(row.get(key)) == marker:  # ``=`` is case-insensitive on ServiceNow
                return self._record(table, row, (), key_fields)
        return None

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        rows = list(self._journal_with_marker(ref, marker, JOURNAL_FIELDS))
        names = self._display_names({_raw(r.get("sys_created_by")) for r in rows})
        for row in rows:
            found = trailing_marker(_raw(row.get("value")))
            if found == marker:
                return self._comment(ref, row, names)
        return None

    def _journal_with_marker(self, ref: Ref, marker: Marker, elements: Sequence[str]) -> Iterator[dict[str, Any]]:
        query = "^".join([f"element_id={ref.id}", f"elementIN{','.join(elements)}",
                          f"valueLIKE{marker.render()}", "ORDERBYsys_created_on", "ORDERBYsys_id"])
        return self._pages("sys_journal_field", query, JOURNAL_READ_FIELDS)

    # =================================================================================== writing

    def create(self, spec: CreateSpec) -> Item:
        raise PermanentError("servicenow: bridge never creates ITSM records (it escalates them into Jira)",
                             side=self.name)

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        if not values:
            return
        body = {k: to_servicenow(v) for k, v in values.items()}
        self._patch(ref, body, "sys_id,sys_mod_count", idempotent=not (set(body) & set(JOURNAL_FIELDS)))

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        body = {**{k: to_servicenow(v) for k, v in fields.items()}, "state": str(status)}
        result = self._patch(ref, body, "sys_id,state,sys_mod_count",
                             idempotent=not (set(body) & set(JOURNAL_FIELDS)))
        applied = _raw(result.get("state"))
        if applied != str(status):
            # the write answered 200 but the state did not move: a change model, approval or
            # business rule refused it (docs/connectors/servicenow.md, "Vendor facts") — retrying will not change that
            raise PermanentError(
                f"servicenow did not apply state {status} to {ref.key} (it stays in state {applied or '?'}); "
                "the record's state model or a business rule refused the move",
                side=self.name, method="PATCH", endpoint=self._path(ref.kind, "{id}"), status=200,
            )

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        if channel not in JOURNAL_FIELDS:
            raise PermanentError(f"servicenow: {channel!r} is not a journal field (use work_notes or comments)",
                                 side=self.name)
        # On the journal the caller reads (``comments``) no marker text, it would reach the caller's e-mail:
        # that row is found as bridge's newest with exactly this text, and its sys_id, which the engine stores
        # as the mirror's id, is how bridge knows it (docs/connectors/servicenow.md, "Comments and markers").
        customer = not facts.journal_is_internal(channel)
        text = body.rstrip() if customer else f"{body.rstrip()}\n\n{marker.render()}"
        # A journal PATCH appends an entry each time it is processed: never retried once it may have
        # reached the instance (idempotent=False); the executor reconciles with find_comment_by_marker.
        self._patch(ref, {channel: text}, "sys_id,sys_mod_count", idempotent=False)
        if customer:  # no marker to derive an id from: find the row, its sys_id is the mirror's id
            rows = self._pages("sys_journal_field", "^".join([f"element_id={ref.id}", f"element={channel}",
                               f"sys_created_by={self.api_user or ''}", "ORDERBYDESCsys_created_on"]),
                               JOURNAL_READ_FIELDS)
            for row in itertools.islice(rows, 20):
                if _raw(row.get("value")).strip() == text.strip():
                    return replace(self._comment(ref, row, {self.api_user or "": self.api_user or ""}), marker=marker)
        # The PATCH response cannot say which journal row it made (the field reads "" on the record).
        # No query for it: a journal entry bridge wrote is known by the marker on its last line, and its
        # id is derived from that marker (unique per mirrored comment and record) here, in comments_since
        # and in find_comment_by_marker alike — one call per comment
        # (docs/connectors/servicenow.md, "Comments and work notes").
        return Comment(id=marker_comment_id(ref, marker), parent=ref, author=self.api_user or "", body=body,
                       created=datetime.now(UTC).replace(microsecond=0), channel=channel,
                       internal=facts.journal_is_internal(channel), marker=marker)

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        self.update_fields(ref, values)

    def close(self) -> None:
        self.http.close()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header by name, whatever its case (a batch item's headers are a plain dict)."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value
