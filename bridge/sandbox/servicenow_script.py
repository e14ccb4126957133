"""The ServiceNow sandbox's scripting surface: acting as people (Python and ``/_sandbox/servicenow/…``).

Split from :mod:`bridge.sandbox.servicenow`, which serves the Table API; tests and the demo use these
methods to play the support agents, the change managers and the administrator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bridge.sandbox.server import Reply, Request
from bridge.sandbox.servicenow_rules import Refused, ServiceNowRecords, sn_error
from bridge.sandbox.servicenow_schema import TABLES
from bridge.vendors import servicenow as facts


class ServiceNowScripting(ServiceNowRecords):
    """People's actions on the instance, and the same over HTTP for out-of-process tests."""

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
        if not facts.is_journal(element):
            raise ValueError(f"unknown journal field {element!r}: use {' or '.join(facts.JOURNAL_NAMES)}")
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
                                                    body.get("element", facts.DEFAULT_CHANNEL), body["text"],
                                                    body.get("author", "Sam Support")), 201)

    def _admin_journal(self, request: Request) -> Reply:
        return self._admin(lambda: self.journal(request.params["table"], request.params["sys_id"]))
