"""Request Tracker 5 adapter: a small REST2 client on the shared :class:`~bridge.connectors.http.HttpClient`.

Why not the PyPI ``rt`` package: it brings its own HTTP stack (so no shared budget, retry or call
counting) and has open REST2 bugs; REST2 is small enough to speak directly.

How the port maps onto RT (details and traps in ``docs/connectors/rt.md`` and VENDOR_API_NOTES §16):

* A mapping's ``route.record_type`` is the **queue** name. Its conditions compile into a TicketSQL
  pre-filter (:mod:`bridge.connectors.rt_query`) and are re-checked locally, so TicketSQL's looser
  semantics can only widen the search, never change the result.
* :meth:`RTConnector.search_changed` is ONE paginated ``GET /tickets?query=…`` ordered by
  ``LastUpdated``. ``LastUpdated`` has one-second precision, so two updates in one second would share it;
  the version is therefore ``LastUpdated`` plus a digest of a fixed set of ticket fields (status,
  subject, owner, priority, dates incl. ``Told``, requestors, every custom field) fetched in the same
  call — a second same-second change to any of them changes the version at no extra cost. (A comment
  alone changes none of them; see "Limits" in ``docs/connectors/rt.md``.)
* Comments are the ticket transactions of type ``Comment`` (internal) and ``Correspond`` (to the
  requestor). Transactions carry no text in REST2 (``Content`` is always ``""``); the text lives in their
  attachments. :meth:`RTConnector.comments_since` reads them for *all* changed tickets with one
  TransactionSQL search plus one attachments search (``TransactionId IN …``), not one call per ticket.
* Bridge writes comments with its :class:`~bridge.model.Marker` as the final line and parses it back.
* Every write's answer (a 200/201 with a message list) is read: RT says "…isn't a valid status…" with
  a 200. Refusals raise :class:`~bridge.errors.PermanentError` (:class:`~bridge.errors.WorkflowError` for
  status); "already so" is a no-op success.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote as url_quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from bridge.connectors.base import CheckResult, Connector, CreateSpec
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.connectors.rt_mime import Part, part_from_rest, texts_by_transaction
from bridge.connectors.rt_parse import (
    custom_field_values,
    failed_messages,
    is_status_failure,
    next_page,
    normalise_value,
    object_name,
    parse_datetime,
    rt_vendor_message,
    status_changed,
    ticket_id,
    transaction_id_from_location,
)
from bridge.connectors.rt_query import (
    custom_field_name,
    date_literal,
    quote,
    ticket_query,
    transaction_query,
)
from bridge.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    PermanentError,
    TransientError,
    WorkflowError,
)
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side, Visibility

MAX_PER_PAGE = 100  # RT caps per_page at 100 (and silently turns 0 or junk into 20)
#: Core fields every search fetches: what Record needs, and what the version digest covers (fixed, so a
#: ticket's version does not depend on which fields a caller asked for).
BASE_FIELDS = ("Subject", "Status", "Queue", "LastUpdated", "LastUpdatedBy")
VERSION_FIELDS = (
    "Status", "Subject", "Queue", "Owner", "Priority", "FinalPriority", "Type", "Due", "Starts", "Started",
    "Resolved", "Told", "TimeWorked", "TimeLeft", "LastUpdatedBy", "Requestor", "Cc", "AdminCc", "CustomFields",
)
COMMENT_TYPES = {"Comment": "comment", "Correspond": "correspond"}
CHANNELS = {"comment": "comment", "correspond": "correspond"}
#: Link type names usable as ``links.itsm_url_field``: the Jira URL becomes an RT link of that type.
LINK_FIELDS = ("RefersTo", "DependsOn")
IDS_PER_QUERY = 50
#: Fields of the attachments search that reads message text: enough to walk each transaction's MIME tree.
ATTACHMENT_FIELDS = "TransactionId,ContentType,Filename,Headers,Content"
#: First messages kept in memory (a Create transaction never changes, so each is read once per process).
FIRST_MESSAGE_CACHE = 10_000
#: Times a change search is re-read when a ticket moved between two of its pages (see search_changed).
MAX_REPAIR_PASSES = 2  # keeps TransactionSQL URLs well below common proxy limits


class RTConnector(Connector):
    """The ITSM side on Request Tracker 5 (REST2). See the module docstring."""

    side = Side.ITSM
    name = "rt"
    display_name = "Request Tracker"

    def __init__(
        self,
        url: str,
        *,
        token: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        options: HttpOptions | None = None,
        timezone: str = "UTC",
        bridge_user: str | None = None,
        page_size: int = MAX_PER_PAGE,
    ) -> None:
        """``url`` is RT's web root (``https://rt.example.com`` or Debian's ``…/rt``), not the REST2 path.

        Authenticate with an auth ``token`` (sent as ``Authorization: token …``) or ``username`` and
        ``password`` (basic auth). ``timezone`` is RT's ``$Timezone`` (or the bridge user's own time zone
        preference, which RT uses instead): TicketSQL date literals are read in it. ``bridge_user`` is the
        RT login bridge writes as; it identifies bridge's own changes (``Item.updated_by``) and is what
        :meth:`check` verifies. ``page_size`` (1..100) is the ``per_page`` of every list request.
        """
        super().__init__()
        if token is None and (username is None or password is None):
            raise ConfigError("Request Tracker needs an auth token, or a username and a password")
        try:
            self.timezone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone for Request Tracker: {timezone!r}") from None
        self.web_url = url.rstrip("/")
        self.rest_url = f"{self.web_url}/REST/2.0"
        self.bridge_user = bridge_user
        if not 1 <= page_size <= MAX_PER_PAGE:
            raise ConfigError(f"Request Tracker page size must be 1..{MAX_PER_PAGE}, not {page_size}")
        self.page_size = page_size
        options = replace(options, base_url=self.rest_url) if options else HttpOptions(base_url=self.rest_url)
        headers: dict[str, str] = {}
        auth: tuple[str, str] | None = None
        if token is not None:
            headers["Authorization"] = f"token {token.get_secret_value()}"
        else:
            assert username is not None
            assert password is not None
            auth = (username, password.get_secret_value())
        self.http = HttpClient(
            "rt", options, auth=auth, headers=headers, vendor_message=rt_vendor_message, counter=self.calls
        )
        self._queue_fields: dict[str, dict[str, int]] = {}
        self._mappings: dict[str, MappingSpec] = {}  # by queue: whose link fields get() reads
        self._time_zone_checked = False
        self._first_messages: dict[str, str] = {}  # ticket id -> its Create transaction's text

    @classmethod
    def from_settings(cls, settings: Any) -> RTConnector:
        """Build from :class:`bridge.settings.Settings` (``itsm.kind: rt``) or its ``itsm`` section alone.

        The time zone comes from ``itsm.timezone`` when the settings carry one, else UTC (``bridge doctor``
        verifies it against RT); the bridge user is ``itsm.username``, or the owner of the auth token
        (tokens are ``1-<user id>-<secret>``; RT resolves a numeric id as well as a login).
        """
        itsm = getattr(settings, "itsm", settings)
        token = itsm.token
        bridge_user = itsm.username or getattr(itsm, "bridge_user", None)
        if bridge_user is None and token is not None:
            parts = token.get_secret_value().split("-")
            bridge_user = parts[1] if len(parts) == 3 and parts[1].isdigit() else None
        options = HttpOptions(
            base_url=str(itsm.url),
            connect_timeout=itsm.timeout_seconds.connect,
            read_timeout=itsm.timeout_seconds.read,
            verify_tls=itsm.verify_tls,
            requests_per_second=itsm.requests_per_second,
        )
        return cls(
            str(itsm.url),
            token=token,
            username=itsm.username if token is None else None,
            password=itsm.password,
            options=options,
            timezone=getattr(itsm, "timezone", None) or "UTC",
            bridge_user=bridge_user,
        )

    # ------------------------------------------------------------------------------ HTTP helpers

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PermanentError(
                "rt answered something that is not JSON (is the URL RT's web root?)",
                side="rt",
                method=method,
                endpoint=path.split("?")[0],
                status=response.status_code,
            ) from None

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], datetime | None]]:
        """Each page of a REST2 list (``GET`` only: a POSTed search loses its query in ``next_page``)."""
        page = 1
        while True:
            response = self.http.request("GET", path, params={**params, "page": page, "per_page": self.page_size})
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise PermanentError("rt answered a list request without items", side="rt", endpoint=path)
            yield data, _server_time(response.headers.get("Date"))
            following = next_page(data, page, self.page_size)
            if following is None or not data["items"]:
                return
            page = following

    def _ref(self, queue: str, rt_id: str) -> Ref:
        return Ref(
            side=Side.ITSM,
            kind=queue,
            id=rt_id,
            key=f"RT#{rt_id}",
            url=f"{self.web_url}/Ticket/Display.html?id={rt_id}",
        )

    # ----------------------------------------------------------------------------------- reading

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        queue = mapping.route.record_type
        self._mappings[queue] = mapping
        wanted = _fields_to_read(mapping, fields)
        query = ticket_query(queue, mapping.route.where, since, self.timezone)
        params = self._search_params(query, wanted)
        yielded: set[str] = set()
        for _attempt in range(1 + MAX_REPAIR_PASSES):
            on_pages: set[str] = set()
            shifted = False
            for data, _ in self._pages("tickets", params):
                selected: list[Record] = []
                for raw in data["items"]:
                    record, all_fields = self._record(raw, queue, mapping, fields)
                    if record.ref.id in on_pages:
                        # Updated while we paged: it moved to the end and pushed every later ticket one
                        # place up, so the first ticket of some page went unread. Read the pages again.
                        shifted = True
                        continue
                    on_pages.add(record.ref.id)
                    if record.ref.id in yielded or not matches(mapping.route.where, all_fields):
                        continue
                    yielded.add(record.ref.id)
                    selected.append(record)
                yield from self._with_first_messages(selected, mapping)
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
                record = self._record(raw, ref.kind, mapping, fields)[0]
                return self._with_first_messages([record], mapping)[0] if mapping else record
        raise NotFoundError("rt: ticket not found or not visible to the account", side="rt",
                            method="GET", endpoint="/REST/2.0/tickets", status=200)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        result: dict[str, list[Comment]] = {ref.id: [] for ref in refs}
        by_id = {ticket_id(ref.id): ref for ref in refs}
        transactions: list[dict[str, Any]] = []
        for chunk in _chunks(list(by_id), IDS_PER_QUERY):
            query = transaction_query(chunk, COMMENT_TYPES, since, self.timezone)
            params = {"query": query, "fields": "Type,Created,Creator,ObjectId", "orderby": "id", "order": "ASC"}
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
            result[ref.id].append(
                Comment(
                    id=txn_id,
                    parent=ref,
                    author=object_name(txn.get("Creator")) or "",
                    body=Marker.strip(text).strip("\n"),
                    created=created,
                    channel=channel,
                    internal=channel == "comment",
                    marker=Marker.find(text),
                )
            )
        return result

    def _transaction_texts(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """Each transaction's text as a person reads it in RT (one search per 100 transactions, paged).

        The search returns every MIME part of the transactions in id (= document) order with its headers,
        which is all :mod:`bridge.connectors.rt_mime` needs to tell the message body from attached files.
        ``fields=Parent`` makes RT 5.0.3 answer 500, so the tree's shape is not asked for (nor needed).
        """
        parts: list[Part] = []
        for chunk in _chunks(list(dict.fromkeys(transaction_ids)), MAX_PER_PAGE):
            query = json.dumps([{"field": "TransactionId", "operator": "IN", "value": [int(i) for i in chunk]}])
            params = {"query": query, "fields": ATTACHMENT_FIELDS, "orderby": "id", "order": "ASC"}
            for data, _ in self._pages("attachments", params):
                parts.extend(part_from_rest(item) for item in data["items"] if isinstance(item, dict))
        return texts_by_transaction(p for p in parts if p.transaction_id)

    def _with_first_messages(self, records: Sequence[Record], mapping: MappingSpec) -> list[Record]:
        """``records`` with :attr:`~bridge.model.Record.first_message` filled when a template reads it.

        The first message is the ``Create`` transaction's text: one TransactionSQL search and one
        attachments search for all tickets of a page that need it, cached (it never changes). When every
        template reading it is ``sync: create``, tickets already linked to an issue are skipped.
        """
        need = _first_message_need(mapping)
        if need is None or not records:
            return list(records)
        wanted = [r.ref.id for r in records if (need == "always" or not r.back_reference)]
        missing = [ticket_id(i) for i in wanted if ticket_id(i) not in self._first_messages]
        if missing:
            self._read_first_messages(missing)
        return [
            replace(r, first_message=self._first_messages.get(ticket_id(r.ref.id), ""))
            if r.ref.id in wanted else r
            for r in records
        ]

    def _read_first_messages(self, ticket_ids: Sequence[str]) -> None:
        creates: dict[str, str] = {}  # transaction id -> ticket id
        for chunk in _chunks(list(dict.fromkeys(ticket_ids)), IDS_PER_QUERY):
            query = transaction_query(chunk, ("Create",), None, self.timezone)
            params = {"query": query, "fields": "Type,ObjectId", "orderby": "id", "order": "ASC"}
            for data, _ in self._pages("transactions", params):
                for txn in data["items"]:
                    if txn.get("Type") == "Create":
                        creates[ticket_id(txn.get("id"))] = ticket_id(txn.get("ObjectId"))
        texts = self._transaction_texts(list(creates)) if creates else {}
        if len(self._first_messages) + len(ticket_ids) > FIRST_MESSAGE_CACHE:
            self._first_messages.clear()
        for rt_id in ticket_ids:
            self._first_messages[rt_id] = ""
        for txn_id, rt_id in creates.items():
            self._first_messages[rt_id] = Marker.strip(texts.get(txn_id, "")).strip("\n")

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

    # ----------------------------------------------------------------------------------- writing

    def create(self, spec: CreateSpec) -> Item:
        raise PermanentError(
            "Request Tracker is the ITSM side: bridge escalates tickets into Jira and never creates them in RT",
            side="rt",
        )

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        if not values:
            return
        body = self._write_body(ref, values)
        self._put(ref, body, what="update")

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        body = {**self._write_body(ref, fields), "Status": status}
        messages = self._put(ref, body, what="status change", status=True)
        if status_changed(messages, status):
            return
        # RT answers [] both when the ticket already had the status and when it quietly did nothing.
        current = self.get(ref, ("Status",)).status
        if (current or "").lower() != status.lower():
            raise WorkflowError(
                f"rt did not move the ticket to {status!r} (it is {current!r})",
                side="rt",
                method="PUT",
                endpoint=f"/REST/2.0/ticket/{ticket_id(ref.id)}",
                status=200,
                vendor_message="; ".join(str(m) for m in messages or []) or None,
            )

    def add_comment(
        self,
        ref: Ref,
        body: str,
        *,
        channel: str,
        marker: Marker,
        visibility: Visibility | None = None,
    ) -> Comment:
        kind = CHANNELS.get(channel)
        if kind is None:
            raise PermanentError(
                f"rt has no comment channel {channel!r}; use 'comment' (internal) or 'correspond' (to the requestor)",
                side="rt",
            )
        rt_id = ticket_id(ref.id)
        content = f"{body.rstrip()}\n\n{marker.render()}"
        response = self.http.request(
            "POST",
            f"ticket/{rt_id}/{kind}",
            json={"Content": content, "ContentType": "text/plain"},
            ok=(200, 201),
            idempotent=False,  # a repeated POST adds a second comment; the executor reconciles by marker
        )
        messages = response.json() if response.content else []
        self._raise_for_messages(messages, method="POST", endpoint=f"/REST/2.0/ticket/{rt_id}/{kind}")
        txn_id = transaction_id_from_location(response.headers.get("Location"))
        if txn_id is None:
            raise PermanentError("rt did not say which transaction holds the comment", side="rt",
                                 method="POST", endpoint=f"/REST/2.0/ticket/{rt_id}/{kind}",
                                 vendor_message="; ".join(str(m) for m in messages or []) or None)
        return Comment(
            id=txn_id,
            parent=ref,
            author=self._bridge_login(),
            body=body.rstrip(),
            created=_server_time(response.headers.get("Date")) or datetime.now(UTC),
            channel=kind,
            internal=kind == "comment",
            marker=marker,
        )

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        if not values:
            return
        self._put(ref, self._write_body(ref, values), what="back-reference")

    def _bridge_login(self) -> str:
        """The bridge user's login; a numeric id (taken from the auth token) is resolved once."""
        if self.bridge_user and self.bridge_user.isdigit():
            try:
                user = self._json("GET", f"user/{self.bridge_user}") or {}
                self.bridge_user = str(user.get("Name") or self.bridge_user)
            except ConnectorError:
                return self.bridge_user
        return self.bridge_user or ""

    def _write_body(self, ref: Ref, values: Mapping[str, FieldValue]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, value in values.items():
            cf = custom_field_name(name)
            if cf is not None:
                custom[cf] = list(value) if isinstance(value, tuple) else ("" if value is None else value)
            elif name in LINK_FIELDS:
                if value:
                    body[f"Add{name}"] = list(value) if isinstance(value, tuple) else str(value)
            else:
                body[name] = list(value) if isinstance(value, tuple) else ("" if value is None else value)
        if custom:
            known = self._custom_fields_of(ref.kind)
            unknown = sorted(set(custom) - set(known))
            if unknown:
                # RT silently ignores custom fields it does not know: refuse instead of losing the value.
                raise PermanentError(
                    f"rt queue {ref.kind!r} has no custom field {', '.join(map(repr, unknown))} the bridge user can see"
                    " (apply it to the queue and grant SeeCustomField/ModifyCustomField)",
                    side="rt",
                )
            body["CustomFields"] = custom
        return body

    def _put(self, ref: Ref, body: Mapping[str, Any], *, what: str, status: bool = False) -> list[Any]:
        rt_id = ticket_id(ref.id)
        endpoint = f"/REST/2.0/ticket/{rt_id}"
        messages = self._json("PUT", f"ticket/{rt_id}", json=dict(body), ok=(200,)) or []
        self._raise_for_messages(messages, method="PUT", endpoint=endpoint, status=status)
        return list(messages) if isinstance(messages, list) else []

    @staticmethod
    def _raise_for_messages(messages: Any, *, method: str, endpoint: str, status: bool = False) -> None:
        failed = failed_messages(messages)
        if not failed:
            return
        cls = WorkflowError if status and is_status_failure(failed) else PermanentError
        raise cls("rt refused the change", side="rt", method=method, endpoint=endpoint, status=200,
                  vendor_message="; ".join(failed))

    def _custom_fields_of(self, queue: str) -> dict[str, int]:
        """The ticket custom fields applied to ``queue`` that the bridge user can see (cached)."""
        if queue not in self._queue_fields:
            data = self._json("GET", f"queue/{url_quote(queue, safe='')}")
            fields: dict[str, int] = {}
            for cf in (data or {}).get("TicketCustomFields") or []:
                if isinstance(cf, dict) and cf.get("name"):
                    fields[str(cf["name"])] = int(ticket_id(cf.get("id")))
            self._queue_fields[queue] = fields
        return self._queue_fields[queue]

    # ------------------------------------------------------------------------------- diagnostics

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            response = self.http.request("GET", "rt", ok=(200,))
            version = response.json().get("Version") if response.headers.get(
                "Content-Type", ""
            ).startswith("application/json") else None
        except AuthError:
            results.append(CheckResult(True, f"Request Tracker reachable at {self.web_url}"))
            results.append(CheckResult(False, "Request Tracker accepts bridge's credentials",
                                       "the auth token is wrong, expired or revoked: make a new one as the bridge "
                                       "user under Settings → Auth Tokens"))
            return results
        except NotFoundError:
            results.append(CheckResult(False, f"Request Tracker REST2 at {self.rest_url}",
                                       "nothing answers there: give RT's web root as the URL (Debian serves it "
                                       "under /rt) and make sure REST2 is not disabled"))
            return results
        except (TransientError, PermanentError) as exc:
            results.append(CheckResult(False, f"Request Tracker reachable at {self.web_url}", str(exc)))
            return results
        except ValueError:
            version = None
        if not version:
            results.append(CheckResult(False, f"Request Tracker REST2 at {self.rest_url}",
                                       "RT answered a web page instead of REST2 JSON: it may be serving its "
                                       "install wizard (it cannot open its database) or the URL is not RT's web root"))
            return results
        results.append(CheckResult(True, f"Request Tracker {version} reachable at {self.web_url}"))
        results.append(CheckResult(True, "Request Tracker accepts bridge's credentials"))
        if self.bridge_user:
            try:
                user = self._json("GET", f"user/{url_quote(self.bridge_user, safe='')}") or {}
                self.bridge_user = str(user.get("Name") or self.bridge_user)
                zone = str(user.get("Timezone") or "")
                results.append(CheckResult(True, f"RT user {self.bridge_user!r} exists"))
                if zone and zone != self.timezone.key:
                    results.append(CheckResult(False, f"RT user {self.bridge_user!r} has bridge's time zone",
                                               f"the user's preference is {zone}; RT reads bridge's date literals "
                                               f"in it: set bridge's RT time zone to {zone}"))
            except NotFoundError:
                results.append(CheckResult(False, f"RT user {self.bridge_user!r} exists",
                                           "set rt.bridge_user to the login that owns the auth token"))
            except ConnectorError as exc:
                results.append(CheckResult(False, f"RT user {self.bridge_user!r} readable", str(exc)))
        for mapping in mappings:
            self._mappings[mapping.route.record_type] = mapping
            results.extend(self._check_mapping(mapping))
        return results

    def _check_mapping(self, mapping: MappingSpec) -> list[CheckResult]:
        queue = mapping.route.record_type
        results: list[CheckResult] = []
        try:
            known = self._custom_fields_of(queue)
        except ConnectorError as exc:
            if exc.status in (403, 404):  # RT answers 403 "Forbidden" for a queue that does not exist, too
                return [CheckResult(False, f"[{mapping.name}] RT queue {queue!r} is visible",
                                    "the queue does not exist or the bridge user lacks SeeQueue on it")]
            return [CheckResult(False, f"[{mapping.name}] RT queue {queue!r} readable", str(exc))]
        results.append(CheckResult(True, f"[{mapping.name}] RT queue {queue!r} is visible"))
        for cf in sorted(_mapping_custom_fields(mapping)):
            if cf in known:
                results.append(CheckResult(True, f"[{mapping.name}] custom field {cf!r} on queue {queue!r}"))
            else:
                results.append(CheckResult(False, f"[{mapping.name}] custom field {cf!r} on queue {queue!r}",
                                           "create it (Admin → Custom Fields), apply it to the queue, and grant "
                                           "the bridge user SeeCustomField and ModifyCustomField"))
        results.extend(self._check_rights(mapping))
        return results

    def _check_rights(self, mapping: MappingSpec) -> list[CheckResult]:
        """Rights, read from the hypermedia links RT offers on one ticket of the queue (no test writes)."""
        queue = mapping.route.record_type
        try:
            data = self._json("GET", "tickets", params={"query": f"Queue = {quote(queue)}", "per_page": 1,
                                                         "fields": "Status,LastUpdated,_hyperlinks"})
        except ConnectorError as exc:
            return [CheckResult(False, f"[{mapping.name}] the bridge user can search queue {queue!r}", str(exc))]
        items = (data or {}).get("items") or []
        if not items:
            return [CheckResult(True, f"[{mapping.name}] rights on queue {queue!r} not verified",
                                "the queue has no ticket the bridge user can see yet (ShowTicket?)")]
        refs = {str(link.get("ref")) for link in items[0].get("_hyperlinks") or [] if isinstance(link, dict)}
        needed = {"comment": "CommentOnTicket"}
        if mapping.comments.to_itsm_channel == "correspond":
            needed["correspond"] = "ReplyToTicket"
        if mapping.status.to_itsm:
            needed["lifecycle"] = "ModifyTicket"
        results = []
        for ref, right in needed.items():
            ok = ref in refs
            results.append(CheckResult(ok, f"[{mapping.name}] the bridge user has {right} on queue {queue!r}",
                                       None if ok else f"grant {right} to the bridge user on queue {queue!r}"))
        if not self._time_zone_checked:
            results.append(self._check_time_zone(items[0]))
        return results

    def _check_time_zone(self, raw: Mapping[str, Any]) -> CheckResult:
        """Probe how RT reads our date literals, with a ticket whose ``LastUpdated`` is known (two calls).

        ``LastUpdated >= <T - 1 s>`` must select the ticket and ``LastUpdated >= <T + 1 s>`` must not; with a
        wrong ``timezone`` one of them fails by the zones' difference. No other REST2 answer reveals the
        zone RT parses in (its ``$Timezone``, or the bridge user's own preference).
        """
        self._time_zone_checked = True
        what = f"RT reads bridge's date literals in {self.timezone.key}"
        updated = parse_datetime(raw.get("LastUpdated"))
        if updated is None:
            return CheckResult(True, what + " (not verified: no ticket date)")
        rt_id = ticket_id(raw.get("id"))
        found = []
        for offset in (-1, 1):
            literal = date_literal(updated + timedelta(seconds=offset), self.timezone)
            data = self._json("GET", "tickets", params={"query": f"id = {rt_id} AND LastUpdated >= {literal}"})
            found.append(bool((data or {}).get("items")))
        ok = found == [True, False]
        return CheckResult(ok, what, None if ok else (
            "set the RT time zone in bridge's settings to RT's $Timezone, or to the bridge user's own time zone "
            "preference when it has one (RT > Settings > Preferences); otherwise changes are missed"
        ))

    def close(self) -> None:
        self.http.close()


# ------------------------------------------------------------------------------------------ helpers


def _version(raw: Mapping[str, Any]) -> str:
    """``LastUpdated`` plus a digest of :data:`VERSION_FIELDS`: distinct for two changes in one second."""
    material: dict[str, Any] = {
        name: normalise_value(raw.get(name)) for name in VERSION_FIELDS if name != "CustomFields"
    }
    material["CustomFields"] = tuple(sorted((k, repr(v)) for k, v in custom_field_values(raw).items()))
    digest = hashlib.sha256(repr(sorted(material.items())).encode()).hexdigest()[:12]
    return f"{raw.get('LastUpdated') or ''}#{digest}"


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _server_time(header: str | None) -> datetime | None:
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        return None


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


def _first_message_need(mapping: MappingSpec | None) -> str | None:
    """Whether the mapping's templates read ``record.first_message``: ``"always"``, ``"create"`` or ``None``.

    ``"create"`` when every template that reads it is ``sync: create`` (only unlinked tickets need it).
    """
    if mapping is None:
        return None
    syncs = {rule.sync for rule in mapping.fields.values() if rule.template and "first_message" in rule.template}
    if not syncs:
        return None
    return "create" if syncs == {"create"} else "always"


def _mapping_custom_fields(mapping: MappingSpec) -> set[str]:
    names: set[str] = set()
    candidates = [
        *condition_fields(mapping.route.where),
        mapping.links.itsm_key_field,
        mapping.links.itsm_url_field,
        mapping.links.link_existing,
    ]
    for rule in mapping.fields.values():
        candidates.append(rule.itsm)
    for target in mapping.status.to_itsm.values():
        if not isinstance(target, str):
            candidates.extend(target.fields)
    for field in candidates:
        cf = custom_field_name(field) if field else None
        if cf:
            names.add(cf)
    return names

