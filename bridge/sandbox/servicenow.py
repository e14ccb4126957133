"""A ServiceNow instance on loopback: the Table API as bridge uses it, faithful where clients go wrong.

Why this exists: bridge's ServiceNow connector must survive what real instances do to naive clients —
all-string JSON, unstable order without ``ORDERBY``, ACL-short pages while more rows exist, unknown
query fields silently ignored, journal fields that are write-only, data policies answering 403, change
models that ignore a state write with 200, rate-limit rules with ``Retry-After``. Every such behaviour
below names the document it follows. Sources (also listed in /work/shared/VENDOR_API_NOTES.md §0):

* [SN-T] Table API reference (docs.servicenow.com …/c_TableAPI.html; Geneva r_TableAPI-GET.html),
  FAQ KB0534905, response codes KB1479016, ACL-filtered results KB3047115.
* [SN-RL] "Inbound REST API rate limiting" (docs.servicenow.com, Washington DC).
* [ITSM] ansible-collections/servicenow.itsm (incident/change_request modules: states, close fields).
* [SNC] ServiceNow/PySNC (client.py/record.py: params, paging, error mapping).
* [EQ] encoded query strings — see :mod:`bridge.sandbox.servicenow_query`.

Run it in a test with ``SandboxServer(ServiceNowSandbox()).start()``, or as a process with
``python -m bridge.sandbox.servicenow --port 0 --state-dir DIR`` (prints the URL when ready).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bridge.sandbox import servicenow_query as eq
from bridge.sandbox.server import Reply, Request, SandboxApp, SandboxServer
from bridge.sandbox.servicenow_schema import (
    BOOLEAN,
    CHOICES,
    DISPLAY_FIELD,
    GROUPS,
    INTEGER,
    JOURNAL,
    NUMBER_PREFIX,
    REFERENCE,
    TABLES,
    USERS,
    field_type,
)

API_USER = "svc.bridge"
API_PASSWORD = "sandbox-password"
OAUTH_TOKEN = "sandbox-oauth-token"
RATE_LIMIT_RULE = "d5a3b7c1e0f24a6b9c8d7e6f5a4b3c2d"
DEFAULT_LIMIT = 10000  # [SN-T] sysparm_limit default

#: [ITSM]/VENDOR_API_NOTES §13 — the out-of-box close codes of a change request
CHANGE_CLOSE_CODES = ("successful", "successful_issues", "unsuccessful")

#: The change model the sandbox enforces (a simplified "Normal" change model of the Change Management
#: docs: New → Assess → Authorize → Scheduled → Implement → Review → Closed). A state write is applied
#: only when it is the next step, a step back to New from Assess/Authorize (approval rejected), or a
#: cancel from any open state. Any other state write is silently NOT applied: the PATCH answers 200
#: with the other fields written and the state unchanged — what instances with change models do,
#: which is why clients must compare the returned state (VENDOR_API_NOTES §13 "re-read after PATCH").
CHANGE_SEQUENCE = ("-5", "-4", "-3", "-2", "-1", "0", "3")
CHANGE_OPEN = ("-5", "-4", "-3", "-2", "-1", "0")


def _change_move_allowed(current: str, target: str) -> bool:
    if current == target:
        return True
    if target == "4":
        return current in CHANGE_OPEN
    if current not in CHANGE_SEQUENCE or target not in CHANGE_SEQUENCE:
        return False
    if target == "-5":
        return current in ("-4", "-3")
    return CHANGE_SEQUENCE.index(target) == CHANGE_SEQUENCE.index(current) + 1


def sn_error(status: int, message: str, detail: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """ServiceNow's error envelope [SN-T, KB1479016]."""
    return Reply(status, {"error": {"message": message, "detail": detail}, "status": "failure"}, headers or {})


class Refused(Exception):
    """A write the instance refuses (data policy, business rule): status, message and detail."""

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.status = status
        self.message = message
        self.detail = detail


def _as_text(value: Any) -> str:
    """Every Table API value is a string [SN-T]: booleans lower-case, numbers plain, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):  # a {"value": …} object a client echoed back
        return _as_text(value.get("value"))
    return str(value)


class ServiceNowSandbox(SandboxApp):
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
        super().__init__(state_dir)

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
                    "reference": reference or "", "max_length": "4000" if kind in (JOURNAL,) else "255",
                    "mandatory": "false", "active": "true",
                }, "admin")

    def _now(self) -> str:
        # [SN-T] sys_updated_on and friends: second precision, "yyyy-MM-dd HH:mm:ss" in UTC
        return self.clock().astimezone(UTC).strftime(eq.DATE_FORMAT)

    def _table(self, table: str) -> dict[str, dict[str, str]]:
        # setdefault: a state directory saved before a table existed (problem) still loads
        return self.state["tables"].setdefault(table, {})

    def _insert(self, table: str, values: Mapping[str, str], user: str) -> dict[str, str]:
        now = self._now()
        record = {name: "" for name in TABLES[table]}
        record.update({k: v for k, v in values.items() if k in TABLES[table]})
        record["sys_id"] = values.get("sys_id") or uuid.uuid4().hex
        record["sys_created_on"] = now
        record["sys_created_by"] = user
        if "sys_updated_on" in record:
            record.update(sys_updated_on=now, sys_updated_by=user, sys_mod_count="0")
        self._table(table)[record["sys_id"]] = record
        return record

    def _ensure_user(self, user_name: str, display: str | None = None) -> dict[str, str]:
        for user in self._table("sys_user").values():
            if user["user_name"] == user_name:
                return user
        display = display or user_name.replace(".", " ").title()
        first, _, last = display.partition(" ")
        return self._insert("sys_user", {
            "user_name": user_name, "name": display, "first_name": first, "last_name": last,
            "email": f"{user_name}@example.com", "active": "true", "time_zone": "UTC",
        }, "admin")

    def _person(self, who: str) -> dict[str, str]:
        """A user by user_name or display name, created when the script names someone new."""
        for user in self._table("sys_user").values():
            if who in (user["user_name"], user["name"]):
                return user
        return self._ensure_user(who.lower().replace(" ", "."), who)

    # ================================================================================== writing

    def _resolve_reference(self, table: str, value: str) -> str:
        """A reference accepts a sys_id or the referenced record's display value [KB0534905]."""
        if not value or value in self._table(table):
            return value
        display = DISPLAY_FIELD.get(table)
        for sys_id, record in self._table(table).items():
            if display and record.get(display) == value:
                return sys_id
        return value

    def write(self, table: str, sys_id: str | None, body: Mapping[str, Any], user: str) -> dict[str, str]:
        """Create (``sys_id`` None) or update a record as ``user`` (a user_name); raises :class:`Refused`.

        Unknown fields are ignored and system fields cannot be written [SN-T]; journal inputs append
        to ``sys_journal_field`` and are never stored on the record [VENDOR_API_NOTES §14].
        """
        fields = TABLES[table]
        changes: dict[str, str] = {}
        journal: list[tuple[str, str]] = []
        for name, raw in body.items():
            if name not in fields or name.startswith("sys_") or (name == "number" and sys_id is not None):
                continue
            kind, _, ref_table = fields[name]
            value = _as_text(raw)
            if kind == JOURNAL:
                if value.strip():
                    journal.append((name, value))
                continue
            if kind == INTEGER and value:
                try:
                    value = str(int(float(value)))
                except ValueError:
                    value = ""
            elif kind == BOOLEAN:
                value = "true" if value.lower() in ("true", "1") else "false"
            elif kind == REFERENCE and ref_table:
                value = self._resolve_reference(ref_table, value)
            changes[name] = value

        if sys_id is None:
            current = {name: "" for name in fields}
            current.update(self._defaults(table))
        else:
            current = dict(self._table(table)[sys_id])
        after = {**current, **changes}
        self._apply_rules(table, current, after, changes, user)
        changed = {k: v for k, v in after.items() if current.get(k) != v}
        now = self._now()
        if sys_id is None:
            if table in NUMBER_PREFIX and not after.get("number"):
                prefix, start = NUMBER_PREFIX[table]
                self.state["counters"][table] = self.state["counters"].get(table, start) + 1
                after["number"] = f"{prefix}{self.state['counters'][table]:07d}"
            record = self._insert(table, after, user)
        else:
            record = self._table(table)[sys_id]
            if not changed and not journal:
                return record  # nothing changed: no update, no sys_mod_count bump [SN-T]
            record.update(after)
            if "sys_updated_on" in record:
                # every update, a journal-only one included, is an audited update of the parent
                # (KB2122007; VENDOR_API_NOTES §14): sys_updated_on/by and sys_mod_count move
                record["sys_updated_on"] = now
                record["sys_updated_by"] = user
                record["sys_mod_count"] = str(int(record["sys_mod_count"] or "0") + 1)
        for element, text in journal:
            self._insert("sys_journal_field", {
                "element": element, "element_id": record["sys_id"], "name": table, "value": text,
            }, user)
        return record

    def _defaults(self, table: str) -> dict[str, str]:
        now = self._now()
        if table == "incident":
            return {"state": "1", "incident_state": "1", "priority": "4", "impact": "3", "urgency": "3",
                    "active": "true", "opened_at": now, "sys_class_name": "incident", "reopen_count": "0"}
        if table == "problem":
            return {"state": "101", "problem_state": "101", "priority": "4", "impact": "3", "urgency": "3",
                    "active": "true", "opened_at": now, "sys_class_name": "problem", "reopen_count": "0"}
        if table == "change_request":
            return {"state": "-5", "type": "normal", "priority": "4", "impact": "3", "urgency": "3", "risk": "3",
                    "active": "true", "on_hold": "false", "opened_at": now, "sys_class_name": "change_request"}
        return {}

    def _apply_rules(
        self, table: str, before: dict[str, str], after: dict[str, str], changes: Mapping[str, str], user: str
    ) -> None:
        if table == "incident":
            self._incident_rules(before, after, changes, user)
        elif table == "change_request":
            self._change_rules(before, after, changes, user)
        elif table == "problem":
            self._problem_rules(before, after, changes, user)

    def _data_policy(self, labels: Iterable[str]) -> Refused:
        # VENDOR_API_NOTES §12/§13: a data policy violation answers 403 with this detail text
        return Refused(403, "Operation Failed",
                       "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(labels) + "\n")

    def _incident_rules(
        self, before: dict[str, str], after: dict[str, str], changes: Mapping[str, str], user: str
    ) -> None:
        target = after.get("state", "")
        moving = target != before.get("state")
        if moving and target in ("6", "7"):
            # [ITSM] incident.py: resolving/closing needs close_code and close_notes in the same write
            missing = [label for name, label in (("close_code", "Resolution code"), ("close_notes", "Resolution notes"))
                       if not (changes.get(name) or "").strip()]
            if missing:
                raise self._data_policy(missing)
        if "close_code" in changes and changes["close_code"] and self.state.get("validate_close_code", True):
            # The platform itself stores any text in a choice field; instances commonly add a business rule
            # rejecting values that are not active choices (sys_choice) — the sandbox models such an instance,
            # which is what ``bridge doctor`` checks mappings against.
            valid = {c["value"] for c in self._table("sys_choice").values()
                     if c["name"] == "incident" and c["element"] == "close_code" and c["inactive"] != "true"}
            if changes["close_code"] not in valid:
                raise Refused(403, "Operation Failed",
                              f"Invalid value '{changes['close_code']}' for Resolution code (close_code): "
                              "not an active choice of incident.close_code")
        if moving and target == "3" and not after.get("hold_reason"):
            raise self._data_policy(["On hold reason"])
        if not moving:
            return
        now = self._now()
        after["incident_state"] = target
        if target == "6":
            after.update(resolved_at=now, resolved_by=self._person(user)["sys_id"])
        elif target == "7":
            after.update(closed_at=now, active="false")
            if not after.get("resolved_at"):
                after.update(resolved_at=now, resolved_by=self._person(user)["sys_id"])
        elif target == "8":
            after.update(active="false")
        if before.get("state") in ("6", "7") and target in ("1", "2", "3"):
            # reopening: the incident becomes active again and counts the reopen
            after.update(active="true", resolved_at="", resolved_by="", closed_at="",
                         reopen_count=str(int(before.get("reopen_count") or "0") + 1))
        if target != "3" and "hold_reason" not in changes:
            after["hold_reason"] = ""

    def _problem_rules(
        self, before: dict[str, str], after: dict[str, str], changes: Mapping[str, str], user: str
    ) -> None:
        """Problem data policies: resolving/closing needs a resolution code and the fields that code
        demands (docs/connectors/servicenow.md, "Problem records")."""
        target = after.get("state", "")
        moving = target != before.get("state")
        if moving and target in ("106", "107"):
            code = after.get("resolution_code", "")
            needed = {"fix_applied": ("cause_notes", "fix_notes"), "risk_accepted": ("cause_notes", "close_notes"),
                      "canceled": ("close_notes",), "duplicate": ("duplicate_of",)}.get(code)
            if needed is None:
                raise self._data_policy(["Resolution code"])
            labels = {"cause_notes": "Cause notes", "fix_notes": "Fix notes", "close_notes": "Close notes",
                      "duplicate_of": "Duplicate of"}
            missing = [labels[name] for name in needed if not (after.get(name) or "").strip()]
            if missing:
                raise self._data_policy(missing)
        if not moving:
            return
        now = self._now()
        after["problem_state"] = target
        if target == "106":
            after.update(resolved_at=now, resolved_by=self._person(user)["sys_id"])
        elif target == "107":
            after.update(closed_at=now, active="false")
        if before.get("state") in ("106", "107") and target in ("101", "102", "103", "104"):
            after.update(active="true", resolved_at="", resolved_by="", closed_at="",
                         reopen_count=str(int(before.get("reopen_count") or "0") + 1))

    def _change_rules(
        self, before: dict[str, str], after: dict[str, str], changes: Mapping[str, str], user: str
    ) -> None:
        current = before.get("state") or "-5"
        target = after.get("state", current)
        if not before.get("sys_id"):
            # a new change always starts in New, whatever the insert says (the model decides)
            after["state"] = "-5"
            target = current = "-5"
        if not _change_move_allowed(current, target):
            after["state"] = current  # the change model silently refuses the move (see CHANGE_SEQUENCE)
            target = current
        if target == "3" and current != "3":
            missing = []
            if changes.get("close_code") not in CHANGE_CLOSE_CODES:
                missing.append("Close code")
            if not (changes.get("close_notes") or "").strip():
                missing.append("Close notes")
            if missing:
                raise self._data_policy(missing)
        if target in ("3", "4") and current != target:
            after.update(active="false", closed_at=self._now(), on_hold="false", on_hold_reason="")
        if after.get("on_hold") == "true" and before.get("on_hold") != "true":
            if target in ("-5", "3", "4"):
                after["on_hold"] = "false"  # On hold is not offered in New/Closed/Canceled: ignored
            elif not after.get("on_hold_reason"):
                raise self._data_policy(["On hold reason"])
        if after.get("on_hold") != "true":
            after["on_hold_reason"] = ""

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
                value = raw  # journal inputs read "" on the record [VENDOR_API_NOTES §14]
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
        types = lambda f: field_type(table, f)  # noqa: E731
        query = eq.parse(request.arg("sysparm_query"), types)
        rows = [r for r in self._table(table).values() if eq.evaluate(query, r, types)]
        with self.lock:
            self._request_seq += 1
            seed = self._request_seq
        if query.order:
            for key, desc in reversed(eq.sort_key(query, types)):
                rows.sort(key=key, reverse=desc)  # type: ignore[arg-type]
        else:
            # Without ORDERBY the database returns rows in no defined order, and it differs between
            # requests, so offset paging duplicates and skips rows [VENDOR_API_NOTES §12, §15].
            random.Random(seed).shuffle(rows)
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

    # ============================================================================ scripting API

    def create_incident(
        self,
        short_description: str,
        *,
        description: str = "",
        caller: str = "Carol Caller",
        assignment_group: str = "Application Support L3",
        priority: int | str = 3,
        author: str = "Sam Support",
        **fields: Any,
    ) -> dict[str, str]:
        """Log an incident as a support agent would (``author`` is a person's name or user_name)."""
        with self.lock:
            user = self._person(author)["user_name"]
            record = self.write("incident", None, {
                "short_description": short_description, "description": description,
                "caller_id": self._person(caller)["sys_id"], "assignment_group": assignment_group,
                "priority": priority, "opened_by": self._person(author)["sys_id"], **fields,
            }, user)
            self.save()
            return dict(record)

    def create_problem(
        self,
        short_description: str,
        *,
        description: str = "",
        assignment_group: str = "Application Support L3",
        priority: int | str = 3,
        author: str = "Sam Support",
        **fields: Any,
    ) -> dict[str, str]:
        """Record a problem as a problem manager would (it starts in New, state 101)."""
        with self.lock:
            record = self.write("problem", None, {
                "short_description": short_description, "description": description,
                "assignment_group": assignment_group, "priority": priority,
                "opened_by": self._person(author)["sys_id"], **fields,
            }, self._person(author)["user_name"])
            self.save()
            return dict(record)

    def create_change(
        self,
        short_description: str,
        *,
        description: str = "",
        assignment_group: str = "Application Support L3",
        requested_by: str = "Chris Change",
        type: str = "normal",
        priority: int | str = 3,
        author: str = "Chris Change",
        **fields: Any,
    ) -> dict[str, str]:
        """Raise a change request as a person (it starts in New, state -5)."""
        with self.lock:
            record = self.write("change_request", None, {
                "short_description": short_description, "description": description,
                "assignment_group": assignment_group, "requested_by": self._person(requested_by)["sys_id"],
                "type": type, "priority": priority, "opened_by": self._person(author)["sys_id"], **fields,
            }, self._person(author)["user_name"])
            self.save()
            return dict(record)

    def add_journal(
        self, table: str, sys_id: str, element: str, text: str, author: str = "Sam Support"
    ) -> dict[str, str]:
        """Write a work note (``work_notes``) or customer comment (``comments``) as a person; the new row."""
        if element not in ("work_notes", "comments"):
            raise ValueError(f"unknown journal field {element!r}: use work_notes or comments")
        with self.lock:
            parent = self._existing(table, sys_id)["sys_id"]
            self.write(table, parent, {element: text}, self._person(author)["user_name"])
            self.save()
            return dict(self.journal(table, sys_id)[-1])

    def add_work_note(self, table: str, sys_id: str, text: str, author: str = "Sam Support") -> dict[str, str]:
        return self.add_journal(table, sys_id, "work_notes", text, author)

    def add_customer_comment(self, table: str, sys_id: str, text: str, author: str = "Sam Support") -> dict[str, str]:
        return self.add_journal(table, sys_id, "comments", text, author)

    def set_state(
        self, table: str, sys_id: str, state: int | str, author: str = "Sam Support", **fields: Any
    ) -> dict[str, str]:
        """Move a record as a person, with the close/hold fields in the same write; raises :class:`Refused`."""
        return self.edit(table, sys_id, author=author, state=state, **fields)

    def edit(self, table: str, sys_id: str, author: str = "Sam Support", **fields: Any) -> dict[str, str]:
        """Change fields as a person; raises :class:`Refused` when the instance's rules refuse it."""
        with self.lock:
            parent = self._existing(table, sys_id)["sys_id"]
            record = self.write(table, parent, fields, self._person(author)["user_name"])
            self.save()
            return dict(record)

    def record(self, table: str, sys_id_or_number: str) -> dict[str, str]:
        """The stored record (raw values), by sys_id or number."""
        with self.lock:
            return dict(self._existing(table, sys_id_or_number))

    def journal(self, table: str, sys_id: str) -> list[dict[str, str]]:
        """The journal rows of a record, oldest first."""
        with self.lock:
            parent = self._existing(table, sys_id)["sys_id"]
            rows = [dict(r) for r in self._table("sys_journal_field").values() if r["element_id"] == parent]
        return sorted(rows, key=lambda r: r["sys_created_on"])

    def set_acl(
        self, *, hidden: Iterable[str] = (), hide_every: int = 0, journal_readable: bool = True
    ) -> None:
        """ACL mode: deny rows (by sys_id, or one in ``hide_every``) and/or the journal table."""
        with self.lock:
            self.state["acl"] = {"hidden": list(hidden), "hide_every": hide_every, "journal_readable": journal_readable}
            self.save()

    def add_token(self, token: str, user_name: str) -> None:
        with self.lock:
            self._ensure_user(user_name)
            self.state["tokens"][token] = user_name

    def _existing(self, table: str, key: str) -> dict[str, str]:
        if table not in TABLES:
            raise KeyError(f"Invalid table {table}")
        rows = self._table(table)
        if key in rows:
            return rows[key]
        for row in rows.values():
            if row.get("number") == key:
                return row
        raise KeyError(f"No {table} record {key}")

    # ========================================================================= admin over HTTP

    def _admin(self, fn: Callable[[], Any], status: int = 200) -> Reply:
        try:
            return Reply(status, {"result": fn()})
        except Refused as exc:
            return sn_error(exc.status, exc.message, exc.detail)
        except KeyError as exc:
            return sn_error(404, "No Record found", str(exc.args[0]))
        except (TypeError, ValueError) as exc:
            return sn_error(400, "Invalid request", str(exc))

    def _admin_incident(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        return self._admin(lambda: self.create_incident(body.pop("short_description"), **body), 201)

    def _admin_change(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        return self._admin(lambda: self.create_change(body.pop("short_description"), **body), 201)

    def _admin_acl(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        return self._admin(lambda: self.set_acl(**body))

    def _admin_record(self, request: Request) -> Reply:
        return self._admin(lambda: self.record(request.params["table"], request.params["sys_id"]))

    def _admin_edit(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        author = body.pop("author", "Sam Support")
        return self._admin(lambda: self.edit(request.params["table"], request.params["sys_id"], author, **body))

    def _admin_state(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        state = body.pop("state")
        author = body.pop("author", "Sam Support")
        fields = body.pop("fields", {})
        return self._admin(lambda: self.set_state(request.params["table"], request.params["sys_id"], state,
                                                  author, **fields, **body))

    def _admin_journal_add(self, request: Request) -> Reply:
        body = dict(request.json() or {})
        return self._admin(lambda: self.add_journal(request.params["table"], request.params["sys_id"],
                                                    body.get("element", "work_notes"), body["text"],
                                                    body.get("author", "Sam Support")), 201)

    def _admin_journal(self, request: Request) -> Reply:
        return self._admin(lambda: self.journal(request.params["table"], request.params["sys_id"]))


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
