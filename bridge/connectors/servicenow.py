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

import difflib
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

from bridge.connectors.base import CheckResult, CreateSpec
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.connectors.own_account import servicenow_check
from bridge.connectors.servicenow_attachments import ServiceNowAttachments
from bridge.connectors.servicenow_dictionary import ServiceNowDictionary
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
    AuthError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    PermanentError,
)
from bridge.mapping.schema import ItsmStateTarget
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side, Visibility
from bridge.vendors import servicenow as facts

DATE_FORMAT = facts.DATE_FORMAT
TABLE_PATH = "/api/now/table/{table}"
JOURNAL_FIELDS = tuple(sorted(facts.JOURNAL_NAMES))
#: fields every record read carries, whatever the mapping asks
SYSTEM_FIELDS = ("sys_id", "number", "state", "sys_updated_on", "sys_mod_count", "sys_updated_by")
JOURNAL_READ_FIELDS = "sys_id,element,element_id,name,value,sys_created_on,sys_created_by"
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


class ServiceNowConnector(ServiceNowAttachments, ServiceNowDictionary):
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
        dedicated_account: bool = False,
    ) -> None:
        """Connect with basic auth (``user`` + ``password``) or an OAuth bearer ``token``.

        ``dedicated_account`` (``itsm.dedicated_account``): ``api_user`` is bridge's alone, so a journal
        entry it wrote is bridge's own (:attr:`Comment.own`) even without a marker.

        ``api_user`` is the ``user_name`` bridge writes as (``sys_updated_by`` of its own writes, for
        echo detection); it defaults to ``user``. ``page_size`` is ``sysparm_limit`` (lower it when
        the instance cancels long transactions). ``max_ids_per_query`` bounds ``element_idIN…`` lists
        so URLs stay well below common 8 KB limits.
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
        self.http = HttpClient(
            "servicenow", options, auth=auth, vendor_message=sn_message, counter=self.calls, sleep=sleep,
        )
        if ca_bundle is not None and options.verify_tls:
            self.http.session.verify = str(ca_bundle)
        self.dedicated_account = dedicated_account
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
        back = mapping.links.itsm_key_field
        query = self.change_query(mapping)
        for row in self._keyset_pages(table, query, since, ",".join(dict.fromkeys(wanted))):
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
        self, table: str, query: EncodedQuery, since: datetime | None, fields: str
    ) -> Iterator[dict[str, Any]]:
        """Every row of ``query`` updated at or after ``since``, by keyset: ordered by
        ``(sys_updated_on, sys_id)``, each page starting after the last row of the one before.

        Offset paging skips a row whenever a record read on an earlier page is updated while bridge
        pages (it moves to the end and every later row moves one place up). A keyset cannot: the moved
        record is simply read again further on. ACLs filter rows after the query [KB3047115], so a page
        may be empty while more rows exist: then, and only then, the offset moves on within the same
        keyset until ``X-Total-Count`` is reached.
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
            response = self.http.request("GET", self._path(table), params={
                "sysparm_query": text,
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
                # a record updated while bridge pages comes again, newer: yielded again (the cycle keeps the newest)
                version = (_raw(row.get("sys_id")), _raw(row.get("sys_mod_count")), _raw(row.get("sys_updated_on")))
                if version[0] and version not in seen:
                    seen.add(version)
                    yield row
            total_text = response.headers.get("X-Total-Count")
            total = int(total_text) if total_text is not None and total_text.strip().isdigit() else None
            if total is not None:
                more = offset + self.page_size < total
            elif "Link" in response.headers:
                more = 'rel="next"' in response.headers["Link"]
            else:
                more = bool(rows)
            if not more:
                return
            last = rows[-1] if rows else None
            reached = (_raw(last.get("sys_updated_on")), _raw(last.get("sys_id"))) if last is not None else ("", "")
            if all(reached) and (mark is None or reached > mark):
                mark, offset = reached, 0
            else:
                # a page the ACLs emptied (or one that did not move the keyset on): step over it
                offset += self.page_size

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

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        out: dict[str, list[Comment]] = {ref.id: [] for ref in refs}
        by_id = {ref.id: ref for ref in refs}
        ids = list(by_id)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), self.max_ids_per_query):
            chunk = ids[start:start + self.max_ids_per_query]
            terms = [f"element_idIN{','.join(chunk)}", f"elementIN{','.join(JOURNAL_FIELDS)}"]
            if since is not None:
                terms.append(f"sys_created_on>={format_time(since)}")
            query = "^".join([*terms, "ORDERBYsys_created_on", "ORDERBYsys_id"])
            rows.extend(self._pages("sys_journal_field", query, JOURNAL_READ_FIELDS))
        names = self._display_names({_raw(r.get("sys_created_by")) for r in rows})
        for row in rows:
            ref = by_id.get(_raw(row.get("element_id")))
            if ref is not None:
                out[ref.id].append(self._comment(ref, row, names))
        for comments in out.values():
            comments.sort(key=lambda c: (c.created, c.id))
        return out

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

    # =============================================================================== diagnostics

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            query = f"user_name={self.api_user}" if self.api_user and literal(self.api_user) else ""
            response = self.http.request("GET", self._path("sys_user"), params={
                "sysparm_query": query, "sysparm_fields": "user_name,name", "sysparm_limit": 1,
            })
            self._result(response)
        except AuthError as exc:
            return [CheckResult(False, f"ServiceNow {self.base_url}: authentication", _hint(
                "the instance refused the credentials: check the user and password (or OAuth token); the "
                "account must be active and allowed web service access", exc))]
        except ConnectorError as exc:
            if exc.status is None:
                return [CheckResult(False, f"ServiceNow {self.base_url}: reachable", _hint(
                    "check the URL, network, proxy and TLS certificate", exc))]
            results.append(CheckResult(True, f"ServiceNow {self.base_url}: reachable and authenticated"))
        else:
            results.append(CheckResult(True, f"ServiceNow {self.base_url}: reachable and authenticated"))

        tables = dict.fromkeys(m.route.record_type for m in mappings)
        for table in tables:
            results.append(self._check_read(table, f"table {table} readable", (
                f"grant the integration user read and write on {table} (role itil, or "
                f"{'sn_incident_write' if table == 'incident' else 'sn_change_write'} / a custom role with "
                f"table ACLs); check route.record_type for a typo")))
        results.append(self._check_read("sys_journal_field", "sys_journal_field readable (work notes, comments)", (
            "grant the integration user read on sys_journal_field (a read ACL on sys_journal_field for its "
            "role, e.g. itil or a custom bridge role); without it bridge cannot mirror work notes or comments")))
        for table in tables:
            results.extend(self._check_fields(table, [m for m in mappings if m.route.record_type == table]))
        results.append(servicenow_check(self))  # does a person use bridge's account? (itsm.dedicated_account)
        return results

    def _check_read(self, table: str, what: str, hint: str) -> CheckResult:
        try:
            self._result(self.http.request("GET", self._path(table), params={
                "sysparm_fields": "sys_id", "sysparm_limit": 1}))
        except ConnectorError as exc:
            return CheckResult(False, what, _hint(hint, exc))
        return CheckResult(True, what)

    def _check_fields(self, table: str, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        named: dict[str, set[str]] = {}
        states: dict[str, set[str]] = {}
        close_codes: dict[str, set[str]] = {}

        def name(field: str | None, mapping: MappingSpec) -> None:
            if field:
                named.setdefault(field, set()).add(mapping.name)

        for mapping in mappings:
            for field in condition_fields(mapping.route.where):
                name(field, mapping)
            for rule in mapping.fields.values():
                name(rule.itsm, mapping)
            for target in mapping.status.to_itsm.values():
                state = target if isinstance(target, str) else target.state
                states.setdefault(str(state), set()).add(mapping.name)
                if isinstance(target, ItsmStateTarget):
                    for field, value in target.fields.items():
                        name(field, mapping)
                        if field == "close_code" and isinstance(value, str | int | float):
                            close_codes.setdefault(str(value), set()).add(mapping.name)
            for link in (mapping.links.itsm_key_field, mapping.links.itsm_url_field, mapping.links.link_existing):
                name(link, mapping)
            for channel in [mapping.comments.to_itsm_channel, *mapping.comments.from_itsm_channels]:
                name(channel, mapping)
        results: list[CheckResult] = []
        try:
            # fields inherited from task live in task's dictionary entries
            rows = list(self._pages("sys_dictionary", f"nameIN{table},task^elementISNOTEMPTY", "element,reference"))
            existing = {_raw(r.get("element")): _raw(r.get("reference")) for r in rows}
        except ConnectorError as exc:
            return [CheckResult(False, f"{table}: fields named by the mappings", _hint(
                "grant the integration user read on sys_dictionary (role personalize_dictionary, or a read "
                "ACL) so bridge doctor can check field names", exc))]
        for field in sorted(named):
            where = ", ".join(sorted(named[field]))
            if "." in field and field.split(".", 1)[0] in existing:
                results.append(self._check_dot_walk(table, field, existing, where))
            elif field in existing:
                results.append(CheckResult(True, f"{table}.{field} exists (mapping {where})"))
            else:
                close = difflib.get_close_matches(field, sorted(existing), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"no field {field!r} on {table} or task"
                results.append(CheckResult(False, f"{table}.{field} exists (mapping {where})",
                                           f"{hint} — ServiceNow silently ignores unknown fields in queries"))
        if not states and not close_codes:
            return results
        try:
            rows = list(self._pages(
                "sys_choice", f"name={table}^elementINstate,close_code^inactive=false", "element,value,label"))
        except ConnectorError as exc:
            results.append(CheckResult(False, f"{table}: state and close_code choices", _hint(
                "grant the integration user read on sys_choice so bridge doctor can check choice values", exc)))
            return results
        choices: dict[str, dict[str, str]] = {}
        for row in rows:
            choices.setdefault(_raw(row.get("element")), {})[_raw(row.get("value"))] = _raw(row.get("label"))
        for element, wanted in (("state", states), ("close_code", close_codes)):
            valid = choices.get(element, {})
            for value in sorted(wanted):
                users = ", ".join(sorted(wanted[value]))
                what = f"{table}.{element} = {value!r} is a choice of the instance (mapping {users})"
                if value in valid:
                    results.append(CheckResult(True, what))
                else:
                    listed = ", ".join(f"{v!r} ({label})" for v, label in valid.items())
                    results.append(CheckResult(False, what, f"use one of: {listed}" if listed else
                                               f"the instance defines no active {element} choices on {table}"))
        return results

    def _check_dot_walk(self, table: str, field: str, existing: dict[str, str], where: str) -> CheckResult:
        """``assignment_group.name``: each step but the last must be a reference (``sys_dictionary.reference``
        names its table), and the last a field of the table the walk ends on."""
        what = f"{table}.{field} exists (mapping {where})"
        columns, at = existing, table
        *steps, last = field.split(".")
        for step in steps:
            target = columns.get(step)
            if not target:
                return CheckResult(False, what, f"{at}.{step} is not a reference field: only references dot-walk")
            try:
                rows = self._pages("sys_dictionary", f"name={target}^elementISNOTEMPTY", "element,reference")
                columns, at = {_raw(r.get("element")): _raw(r.get("reference")) for r in rows}, target
            except ConnectorError as exc:
                return CheckResult(False, what, _hint(f"cannot read the dictionary of {target}", exc))
        if last in columns:
            return CheckResult(True, what)
        close = difflib.get_close_matches(last, sorted(columns), n=1)
        return CheckResult(False, what, (f"did you mean {close[0]!r}? " if close else "")
                           + f"{at} has no field {last!r} — ServiceNow silently ignores unknown fields in queries")

    def close(self) -> None:
        self.http.close()


def _hint(hint: str, exc: ConnectorError) -> str:
    return f"{hint} (ServiceNow said: {exc})"
