"""The ServiceNow sandbox's records and the rules a write goes through (data policies, change model).

Split from :mod:`bridge.sandbox.servicenow` (which re-exports the names here): this module decides what
a write does to a record; the HTTP surface lives there. The rules themselves (which states need which
fields, which journals exist, how values are written) come from :mod:`bridge.vendors.servicenow`, the
same facts the connector, the in-memory fake and the mapping checks use. Source keys in [brackets] are
listed in :mod:`bridge.sandbox.servicenow`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from bridge.sandbox import servicenow_query as eq
from bridge.sandbox.server import Reply, Request, SandboxApp
from bridge.sandbox.servicenow_schema import (
    BOOLEAN,
    DISPLAY_FIELD,
    INTEGER,
    JOURNAL,
    NUMBER_PREFIX,
    REFERENCE,
    TABLES,
)
from bridge.vendors import servicenow as facts

#: the out-of-box close codes of a change request (docs/connectors/servicenow.md, "Vendor facts")
CHANGE_CLOSE_CODES = facts.CHANGE_CLOSE_CODES
#: routes whose selected rows are kept between pages (one per mapping being read, plus room)
SELECTIONS_KEPT = 8


#: The change model the sandbox enforces (a simplified "Normal" change model of the Change Management
#: docs: New → Assess → Authorize → Scheduled → Implement → Review → Closed). A state write is applied
#: only when it is the next step, a step back to New from Assess/Authorize (approval rejected), or a
#: cancel from any open state. Any other state write is silently NOT applied: the PATCH answers 200
#: with the other fields written and the state unchanged — what instances with change models do,
#: which is why clients must compare the returned state (re-read after PATCH; docs/connectors/servicenow.md,
#: "Vendor facts bridge relies on").
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
    return facts.encode(value)


class ServiceNowRecords(SandboxApp):
    """The stored tables and the write path: what a POST/PATCH does to a record, or why it is refused."""

    clock: Callable[[], datetime]
    #: bumped by every write, so a kept selection (:meth:`select`) is known to be stale
    _records_version = 0

    # ================================================================================== selecting

    def _changed(self) -> None:
        self._records_version += 1

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        if request.method != "GET" or request.path.startswith("/_sandbox/"):
            with self.lock:
                self._changed()  # a delete, a scripted change, an ACL: kept selections are stale
        return reply

    def select(self, table: str, query: eq.Query, types: eq.FieldType, value: eq.FieldValue,
               seed: int) -> list[dict[str, str]]:
        """The rows of ``table`` that ``query`` selects, in the order the instance answers them.

        Bridge pages by keyset (:data:`~bridge.sandbox.servicenow_query.KEYSET_ORDER`): each page is the
        same route with a moving ``sys_updated_on``/``sys_id`` bound. An instance answers that from its
        indexes; evaluating the route over every row for each page made reading 100,000 records
        quadratic. So the rows the route part selects are kept sorted by that order until the next write
        (per route), and each page's bounds pick a slice of them by bisection — the same rows in the same
        order as a scan and a sort. Any other query is evaluated over every row.
        """
        plan = eq.keyset_plan(query)
        if plan is None:
            rows = [r for r in self._table(table).values() if eq.evaluate(query, r, types, value)]
            if query.order:
                for key, desc in reversed(eq.sort_key(query, types)):
                    rows.sort(key=key, reverse=desc)  # type: ignore[arg-type]
            else:
                # Without ORDERBY the database returns rows in no defined order, and it differs between
                # requests, so offset paging duplicates and skips rows [SN-T, KB3047115].
                random.Random(seed).shuffle(rows)
            return rows
        keys, rows = self._selection(table, plan, types, value)
        slices = eq.keyset_slices(plan, keys)
        if len(slices) == 1:
            return rows[slices[0][0]:slices[0][1]]
        return list(chain.from_iterable(rows[start:stop] for start, stop in slices))

    def _selection(self, table: str, plan: eq.KeysetPlan, types: eq.FieldType,
                   value: eq.FieldValue) -> tuple[list[eq.RangeKey], list[dict[str, str]]]:
        """The rows at or after the plan's lowest bound that its routes select, with their keys, in keyset
        order (ties in table order, as a stable sort leaves them).

        One pass over the table, the bound checked before the route (a route over a large table with a
        recent ``sys_updated_on`` bound evaluates a few rows); what it selected is kept for the next
        pages of the same routes, whose bounds lie above, until the next write.
        """
        rows = self._table(table)
        validator = (self._records_version, id(self.state), id(rows), len(rows))
        lows = [low for low, _, _, _ in plan.ranges]
        low = None if not lows or None in lows else min(low for low in lows if low is not None)
        kept: dict[tuple[str, Any], Any] = self.__dict__.setdefault("_selections", {})
        found = kept.get((table, plan.routes))
        if found is not None and found[0] == validator and (
                found[1] is None or (low is not None and low >= found[1])):
            return found[2], found[3]
        route = eq.Query(groups=plan.routes, order=())
        key = eq.keyset_key(types)
        decorated = []
        for n, row in enumerate(rows.values()):
            at = key(row)
            if (low is None or at >= low) and eq.evaluate(route, row, types, value):
                decorated.append((at, n, row))
        decorated.sort(key=lambda entry: (entry[0], entry[1]))
        keys = [k for k, _, _ in decorated]
        selected = [r for _, _, r in decorated]
        kept.pop((table, plan.routes), None)
        kept[(table, plan.routes)] = (validator, low, keys, selected)
        while len(kept) > SELECTIONS_KEPT:
            del kept[next(iter(kept))]
        return keys, selected

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
        self._changed()
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
        to ``sys_journal_field`` and are never stored on the record [SN-J].
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
            self._changed()
            if "sys_updated_on" in record:
                # every update, a journal-only one included, is an audited update of the parent
                # (KB2122007; [SN-J]): sys_updated_on/by and sys_mod_count move
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
        # [SN-T, KB1479016]: a data policy violation answers 403 with this detail text
        return Refused(403, "Operation Failed",
                       "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(labels) + "\n")

    def _incident_rules(
        self, before: dict[str, str], after: dict[str, str], changes: Mapping[str, str], user: str
    ) -> None:
        target = after.get("state", "")
        moving = target != before.get("state")
        if moving and target in facts.closed_states("incident"):
            # [ITSM] incident.py: resolving/closing needs close_code and close_notes in the same write
            missing = facts.missing_for_state("incident", target, changes)
            if missing:
                raise self._data_policy([facts.FIELD_LABELS[("incident", f)] for f in missing])
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
        if moving and target not in facts.closed_states("incident"):
            # the other required fields (On Hold: hold_reason) may already be on the record
            missing = facts.missing_for_state("incident", target, after)
            if missing:
                raise self._data_policy([facts.FIELD_LABELS[("incident", f)] for f in missing])
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
        if moving and target in facts.PROBLEM_STATES.requires:
            needed = facts.PROBLEM_RESOLUTION_NEEDS.get(after.get("resolution_code", ""))
            if needed is None:
                raise self._data_policy([facts.FIELD_LABELS[("problem", "resolution_code")]])
            missing = [facts.FIELD_LABELS[("problem", name)] for name in needed if not (after.get(name) or "").strip()]
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
        if target in facts.closed_states("change_request") and current != target:
            missing = []
            if changes.get("close_code") not in CHANGE_CLOSE_CODES:
                missing.append(facts.FIELD_LABELS[("change_request", "close_code")])
            if not (changes.get("close_notes") or "").strip():
                missing.append(facts.FIELD_LABELS[("change_request", "close_notes")])
            if missing:
                raise self._data_policy(missing)
        if target in ("3", "4") and current != target:
            after.update(active="false", closed_at=self._now(), on_hold="false", on_hold_reason="")
        if after.get("on_hold") == "true" and before.get("on_hold") != "true":
            if target in ("-5", "3", "4"):
                after["on_hold"] = "false"  # On hold is not offered in New/Closed/Canceled: ignored
            elif not after.get("on_hold_reason"):
                raise self._data_policy([facts.FIELD_LABELS[("change_request", "on_hold_reason")]])
        if after.get("on_hold") != "true":
            after["on_hold_reason"] = ""
