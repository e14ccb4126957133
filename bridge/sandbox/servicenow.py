"""A ServiceNow instance on loopback: the Table API as bridge uses it, faithful where clients go wrong.

Why this exists: bridge's ServiceNow connector must survive what real instances do to naive clients —
all-string JSON, unstable order without ``ORDERBY``, ACL-short pages while more rows exist, unknown
query fields silently ignored, journal fields that are write-only, data policies answering 403, change
models that ignore a state write with 200, rate-limit rules with ``Retry-After``. Every such behaviour
below names the document it follows. Sources (with URLs in docs/connectors/servicenow.md, "Vendor facts
bridge relies on"):

* [SN-T] Table API reference (docs.servicenow.com …/c_TableAPI.html; Geneva r_TableAPI-GET.html),
  FAQ KB0534905, response codes KB1479016, ACL-filtered results KB3047115.
* [SN-RL] "Inbound REST API rate limiting" (docs.servicenow.com, Washington DC).
* [ITSM] ansible-collections/servicenow.itsm (incident/change_request modules: states, close fields).
* [SNC] ServiceNow/PySNC (client.py/record.py: params, paging, error mapping).
* [SN-J] journal fields: ``comments``/``work_notes`` are write-only inputs whose entries live in
  ``sys_journal_field``; a journal write is an audited update of the parent (KB2122007).
* [EQ] encoded query strings — see :mod:`bridge.sandbox.servicenow_query`.

Run it in a test with ``SandboxServer(ServiceNowSandbox()).start()``, or as a process with
``python -m bridge.sandbox.servicenow --port 0 --state-dir DIR`` (prints the URL when ready).

The module is split by responsibility: :mod:`bridge.sandbox.servicenow_rules` (stored records and the
rules a write goes through), :mod:`bridge.sandbox.servicenow_script` (acting as people) and this module
(the Table API over HTTP); the names tests use are re-exported here.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bridge.sandbox import servicenow_query as eq
from bridge.sandbox.server import Reply, Request, SandboxServer
from bridge.sandbox.servicenow_attachments import ServiceNowAttachments
from bridge.sandbox.servicenow_rules import (
    CHANGE_CLOSE_CODES,
    CHANGE_OPEN,
    CHANGE_SEQUENCE,
    Refused,
    ServiceNowRecords,
    _as_text,
    _change_move_allowed,
    sn_error,
)
from bridge.sandbox.servicenow_schema import (
    CHOICES,
    DISPLAY_FIELD,
    GROUPS,
    JOURNAL,
    NUMBER_PREFIX,
    REFERENCE,
    TABLES,
    USERS,
    field_type,
    max_length,
)
from bridge.sandbox.servicenow_script import ServiceNowScripting

__all__ = [
    "API_PASSWORD", "API_USER", "CHANGE_CLOSE_CODES", "CHANGE_OPEN", "CHANGE_SEQUENCE", "DEFAULT_LIMIT",
    "OAUTH_TOKEN", "RATE_LIMIT_RULE", "Refused", "ServiceNowRecords", "ServiceNowSandbox", "ServiceNowScripting",
    "_as_text", "_change_move_allowed", "main", "sn_error",
]

API_USER = "svc.bridge"
API_PASSWORD = "sandbox-password"
OAUTH_TOKEN = "sandbox-oauth-token"
RATE_LIMIT_RULE = "d5a3b7c1e0f24a6b9c8d7e6f5a4b3c2d"
DEFAULT_LIMIT = 10000  # [SN-T] sysparm_limit default


class ServiceNowSandbox(ServiceNowScripting, ServiceNowAttachments):
    """The Table API over real HTTP plus a scripting surface (Python and ``/_sandbox/servicenow/…``)."""

    name = "servicenow"

    def __init__(
        self,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        api_user: str = API_USER,
        api_password: str = API_PASSWORD,
        oauth_token: str = OAUTH_TOKEN,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.api_user = api_user
        self.api_password = api_password
        self.oauth_token = oauth_token
        self._request_seq = 0
        self._local = threading.local()
        #: called with each list request before it is answered: a test acts "between two page reads"
        #: (a person updating a record while bridge pages) without racing a thread
        self.before_list: Callable[[Request], None] | None = None
        super().__init__(state_dir)

    def server_time(self) -> datetime:
        return self.clock()

    # ============================================================================ state and seeding

    def reset(self) -> None:
        self.state = {
            "tables": {table: {} for table in TABLES},
            "counters": {table: start for table, (_, start) in NUMBER_PREFIX.items()},
            "credentials": {self.api_user: self.api_password},
            "tokens": {self.oauth_token: self.api_user},
            "acl": {"hidden": [], "hide_every": 0, "journal_readable": True},
            "validate_close_code": True,
        }
        for user_name, display in {**USERS, self.api_user: USERS.get(self.api_user, "Bridge Integration")}.items():
            self._ensure_user(user_name, display)
        for group in GROUPS:
            self._insert("sys_user_group", {"name": group, "active": "true"}, "admin")
        for (table, element), choices in CHOICES.items():
            for seq, (value, label) in enumerate(choices):
                self._insert("sys_choice", {"name": table, "element": element, "value": value, "label": label,
                                            "sequence": str(seq), "inactive": "false", "language": "en"}, "admin")
        for table, fields in TABLES.items():
            for element, (kind, label, reference) in fields.items():
                self._insert("sys_dictionary", {
                    "name": table, "element": element, "column_label": label, "internal_type": kind,
                    "reference": reference or "", "max_length": str(max_length(element, kind)),
                    "mandatory": "false", "active": "true",
                }, "admin")

    # ================================================================================== reading

    def _hidden(self, table: str, record: Mapping[str, str]) -> bool:
        """Rows the API user's ACLs deny: filtered after the query ran [KB3047115]."""
        if table not in ("incident", "change_request", "problem"):
            return False
        acl = self.state["acl"]
        if record["sys_id"] in acl["hidden"]:
            return True
        every = int(acl.get("hide_every") or 0)
        return every > 0 and int(hashlib.sha256(record["sys_id"].encode()).hexdigest()[:8], 16) % every == 0

    def _display(self, table: str, field: str, raw: str, record: Mapping[str, str]) -> str:
        kind, _, ref_table = TABLES[table].get(field, ("string", "", None))
        if kind == REFERENCE and ref_table and raw:
            target = self._table(ref_table).get(raw)
            return target.get(DISPLAY_FIELD.get(ref_table, "sys_id"), raw) if target else ""
        if kind == JOURNAL:
            # display_value=true renders the entries, newest first, as the form shows them
            entries = sorted((r for r in self._table("sys_journal_field").values()
                              if r["element_id"] == record.get("sys_id") and r["element"] == field),
                             key=lambda r: r["sys_created_on"], reverse=True)
            return "".join(f"{r['sys_created_on']} - {self._person(r['sys_created_by'])['name']} "
                           f"({TABLES[table][field][1]})\n{r['value']}\n\n" for r in entries)
        for value, label in CHOICES.get((table, field), ()):
            if value == raw:
                return label
        return raw

    def _query_value(self, table: str) -> eq.FieldValue:
        """Raw values for the encoded query, dot-walked ones through the referenced record [EQ]."""

        def value(record: Mapping[str, str], name: str) -> str:
            if "." not in name:
                return record.get(name, "") or ""
            return self._dot_walk(table, name, record) or ""

        return value

    def _dot_walk(self, table: str, name: str, record: Mapping[str, str]) -> str | None:
        """The value of ``reference.field`` (one level), ``None`` when ``name`` is no such path."""
        head, dot, tail = name.partition(".")
        if not dot or "." in tail or head not in TABLES[table]:
            return None
        kind, _, ref_table = TABLES[table][head]
        if kind != REFERENCE or not ref_table or tail not in TABLES[ref_table]:
            return None
        target = self._table(ref_table).get(record.get(head, ""))
        return target.get(tail, "") if target else ""

    def render(self, table: str, record: Mapping[str, str], request: Request | None, base: str) -> dict[str, Any]:
        """One record as the Table API answers it, honouring the display/link/fields parameters [SN-T]."""
        arg = request.arg if request is not None else (lambda name, default=None: default)
        display = (arg("sysparm_display_value", "false") or "false").lower()
        exclude_links = (arg("sysparm_exclude_reference_link", "false") or "false").lower() == "true"
        wanted = [f.strip() for f in (arg("sysparm_fields") or "").split(",") if f.strip()]
        names = [f for f in wanted if f in TABLES[table]] if wanted else list(TABLES[table])
        out: dict[str, Any] = {}
        for name in wanted:
            walked = self._dot_walk(table, name, record)
            if walked is not None:
                # [SN-T] sysparm_fields accepts dot-walked reference fields ("assignment_group.name");
                # the answer carries them under the dotted name
                out[name] = {"display_value": walked, "value": walked} if display == "all" else walked
        for name in names:
            kind, _, ref_table = TABLES[table][name]
            raw = record.get(name, "")
            shown = self._display(table, name, raw, record)
            link = f"{base}/api/now/table/{ref_table}/{raw}" if kind == REFERENCE and raw else None
            if display == "all":
                value: Any = {"display_value": shown, "value": raw}
                if link and not exclude_links:
                    value["link"] = link
            elif display == "true":
                value = {"display_value": shown, "link": link} if link and not exclude_links else shown
            elif link and not exclude_links:
                value = {"link": link, "value": raw}
            else:
                value = raw  # journal inputs read "" on the record [SN-J]
            out[name] = value
        return out

    # =================================================================================== routes

    def routes(self) -> None:
        for prefix in ("/api/now/table", "/api/now/v2/table"):  # [SN-T] both path versions
            self.router.add("GET", prefix + "/{table}", self._list)
            self.router.add("POST", prefix + "/{table}", self._create)
            self.router.add("GET", prefix + "/{table}/{sys_id}", self._get)
            self.router.add("PATCH", prefix + "/{table}/{sys_id}", self._update)
            self.router.add("PUT", prefix + "/{table}/{sys_id}", self._update)
            self.router.add("DELETE", prefix + "/{table}/{sys_id}", self._delete)
        admin = "/_sandbox/servicenow"
        self.router.add("POST", admin + "/incidents", self._admin_incident)
        self.router.add("POST", admin + "/changes", self._admin_change)
        self.router.add("POST", admin + "/acl", self._admin_acl)
        self.router.add("GET", admin + "/{table}/{sys_id}", self._admin_record)
        self.router.add("PATCH", admin + "/{table}/{sys_id}", self._admin_edit)
        self.router.add("POST", admin + "/{table}/{sys_id}/state", self._admin_state)
        self.router.add("POST", admin + "/{table}/{sys_id}/journal", self._admin_journal_add)
        self.router.add("GET", admin + "/{table}/{sys_id}/journal", self._admin_journal)
        self._attachment_routes()

    # ------------------------------------------------------------------------- auth and errors

    def authenticate(self, request: Request) -> bool:
        """Basic auth or an OAuth bearer token [SN-T]; remembers the user for sys_*_by."""
        header = request.headers.get("authorization", "")
        user: str | None = None
        if header.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name, password = "", ""
            if name and self.state["credentials"].get(name) == password:
                user = name
        elif header.lower().startswith("bearer "):
            user = self.state["tokens"].get(header[7:].strip())
        self._local.user = user
        return user is not None

    def _user(self) -> str:
        return getattr(self._local, "user", None) or self.api_user

    def unauthorized(self, request: Request) -> Reply:
        # [KB1479016] 401 body for a missing or wrong credential
        return sn_error(401, "User Not Authenticated", "Required to provide Auth information")

    def not_found(self, request: Request) -> Reply:
        return sn_error(400, "Requested URI does not represent any resource", None)

    def method_not_allowed(self, request: Request) -> Reply:
        return sn_error(405, "Method not Supported", "Requested method is not supported on this resource")

    def bad_request(self, request: Request, message: str) -> Reply:
        return sn_error(400, "Exception while reading request", "The payload is not valid JSON.")

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        # [SN-RL] 429 with Retry-After (seconds) and the rule's X-RateLimit-* headers
        seconds = max(1, round(retry_after))
        limit = self.rate_limiter.limit or 0
        return sn_error(429, "Too Many Requests",
                        f"Rate limit of {limit} requests exceeded for rule {RATE_LIMIT_RULE}", {
                            "Retry-After": str(seconds),
                            "X-RateLimit-Limit": str(limit),
                            "X-RateLimit-Reset": str(int(time.time()) + seconds),
                            "X-RateLimit-Rule": RATE_LIMIT_RULE,
                        })

    def _check_table(self, request: Request) -> Reply | None:
        table = request.params["table"]
        if table not in TABLES:
            return sn_error(400, f"Invalid table {table}", None)  # [KB1479016]
        if table == "sys_journal_field" and not self.state["acl"]["journal_readable"]:
            # a table-level read ACL denial answers 403 (KB2971488); the integration user lacks the role
            return sn_error(403, "User Not Authorized", "Failed API level ACL Validation")
        return None

    @staticmethod
    def _base(request: Request) -> str:
        return f"http://{request.headers.get('host', '127.0.0.1')}"

    # ------------------------------------------------------------------------------ handlers

    def _list(self, request: Request) -> Reply:
        refused = self._check_table(request)
        if refused:
            return refused
        table = request.params["table"]
        if self.before_list is not None:
            self.before_list(request)
        types = eq.walking_type(table, field_type, lambda t, f: TABLES[t].get(f, ("", "", None))[2])
        query = eq.parse(request.arg("sysparm_query"), types)
        with self.lock:
            self._request_seq += 1
            seed = self._request_seq
        rows = self.select(table, query, types, self._query_value(table), seed)
        try:
            limit = int(request.arg("sysparm_limit") or DEFAULT_LIMIT)
            offset = int(request.arg("sysparm_offset") or 0)
        except ValueError:
            return sn_error(400, "Invalid parameter", "sysparm_limit and sysparm_offset must be numbers")
        limit = max(1, limit)
        offset = max(0, offset)
        total = len(rows)
        # ACLs filter rows after the query and the paging: short (even empty) pages while more exist,
        # and X-Total-Count still counts the denied rows [KB3047115]
        page = [r for r in rows[offset:offset + limit] if not self._hidden(table, r)]
        base = self._base(request)
        headers: dict[str, str] = {}
        if (request.arg("sysparm_no_count") or "false").lower() != "true":
            headers["X-Total-Count"] = str(total)
        suppress = (request.arg("sysparm_suppress_pagination_header") or "false").lower() == "true"
        if not suppress and total > limit:  # reportedly no Link header for a single page
            headers["Link"] = self._links(request, base, table, offset, limit, total)
        return Reply(200, {"result": [self.render(table, r, request, base) for r in page]}, headers)

    @staticmethod
    def _links(request: Request, base: str, table: str, offset: int, limit: int, total: int) -> str:
        """[SN-T] ``Link`` header: rel first/prev/next/last URLs carrying offset and limit."""
        params = {k: v[0] for k, v in request.query.items() if k not in ("sysparm_offset", "sysparm_limit")}

        def url(at: int) -> str:
            return f"<{base}{request.path}?{urlencode({**params, 'sysparm_limit': limit, 'sysparm_offset': at})}>"

        last = ((total - 1) // limit) * limit if total else 0
        parts = [f'{url(0)};rel="first"']
        if offset > 0:
            parts.append(f'{url(max(0, offset - limit))};rel="prev"')
        if offset + limit < total:
            parts.append(f'{url(offset + limit)};rel="next"')
        parts.append(f'{url(last)};rel="last"')
        return ",".join(parts)

    def _find(self, request: Request) -> dict[str, str] | Reply:
        refused = self._check_table(request)
        if refused:
            return refused
        table, sys_id = request.params["table"], request.params["sys_id"]
        record = self._table(table).get(sys_id)
        if record is None or self._hidden(table, record):
            return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return record

    def _get(self, request: Request) -> Reply:
        found = self._find(request)
        if isinstance(found, Reply):
            return found
        return Reply(200, {"result": self.render(request.params["table"], found, request, self._base(request))})

    def _body(self, request: Request) -> dict[str, Any] | Reply:
        body = request.json()
        if not isinstance(body, dict):
            return sn_error(400, "Exception while reading request", "The payload is not valid JSON.")
        return body

    def _create(self, request: Request) -> Reply:
        refused = self._check_table(request)
        if refused:
            return refused
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        table = request.params["table"]
        try:
            record = self.write(table, None, body, self._user())
        except Refused as exc:
            return sn_error(exc.status, exc.message, exc.detail)
        base = self._base(request)
        return Reply(201, {"result": self.render(table, record, request, base)},
                     {"Location": f"{base}/api/now/table/{table}/{record['sys_id']}"})

    def _update(self, request: Request) -> Reply:
        found = self._find(request)
        if isinstance(found, Reply):
            return found
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        table = request.params["table"]
        try:
            record = self.write(table, found["sys_id"], body, self._user())
        except Refused as exc:
            return sn_error(exc.status, exc.message, exc.detail)
        return Reply(200, {"result": self.render(table, record, request, self._base(request))})

    def _delete(self, request: Request) -> Reply:
        found = self._find(request)
        if isinstance(found, Reply):
            return found
        del self._table(request.params["table"])[found["sys_id"]]
        return Reply(204)

def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.sandbox.servicenow --port N --state-dir D``: serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="A ServiceNow Table API sandbox on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    server = SandboxServer(ServiceNowSandbox(state_dir=args.state_dir), port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(server.url, flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
