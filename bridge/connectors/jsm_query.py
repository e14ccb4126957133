"""A mapping route's condition tree, compiled into JQL for a Jira Service Management project.

The compiled JQL must never select *fewer* requests than the route: whatever the compiler cannot write
exactly it leaves out (an ``AND`` keeps its exact parts, so the query selects a superset) and the
connector filters the results locally with :func:`bridge.mapping.transform.matches`, on the normalised
values it reads anyway. Only clauses whose JQL meaning equals the local meaning are written:

* ``equals`` / ``in`` / ``not_equals`` / ``not_in`` on fields whose normalised value is the name JQL
  compares (priority, status, issue type, resolution, select-list custom fields), with string operands;
  JQL's ``!=``/``NOT IN`` never match an empty field, so they get ``OR field is EMPTY`` to match the
  local meaning (``None`` is "not equal" to anything).
* ``lt``/``lte``/``gt``/``gte`` on number custom fields (JQL compares priorities by rank, not number).
* ``is_empty`` on any of those fields, plus labels and text fields.

Text fields (``summary``, ``description``, text custom fields) only support ``~`` (word search) in JQL,
which is not equality; regexes, the request type (its JQL form is the portal key), users (JQL wants
account ids, bridge normalises to names) and booleans are always filtered locally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.connectors.jira import jql_string
from bridge.mapping.schema import AllOf, AnyOf, Condition, FieldCondition, NotOf

#: Normalised by name, and compared by name in JQL.
NAMED_SYSTEM_FIELDS = {"priority": "priority", "status": "status", "issuetype": "issuetype", "resolution": "resolution"}
_EMPTY_ONLY_SYSTEM = {"labels", "summary", "description", "environment", "duedate"}


@dataclass(frozen=True)
class Compiled:
    """``jql`` (``None``: no restriction) and whether it selects exactly what the route selects."""

    jql: str | None
    exact: bool


@dataclass(frozen=True)
class FieldInfo:
    """How one mapping field name is reachable in JQL: its clause name and what kind of value it holds."""

    clause: str  # "priority", "cf[10042]"
    kind: str  # "named" (compared by name), "number", "text", "other"


def compile_route(condition: Condition | None, lookup: Callable[[str], FieldInfo | None]) -> Compiled:
    """Compile ``condition``; ``lookup`` tells how a mapping field name is searched (``None``: unknown)."""
    compiler = _Compiler(lookup)
    jql = compiler.compile(condition)
    return Compiled(jql, compiler.exact)


class _Compiler:
    def __init__(self, lookup: Callable[[str], FieldInfo | None]) -> None:
        self.lookup = lookup
        self.exact = True

    def compile(self, condition: Condition | None) -> str | None:
        """JQL for ``condition`` or ``None`` for "no restriction" (which is a superset, so never wrong)."""
        if condition is None:
            return None
        if isinstance(condition, AllOf):
            parts = [p for p in (self.compile(c) for c in condition.all) if p]
            return _join(parts, "AND")
        if isinstance(condition, AnyOf):
            branches = [self._strict(c) for c in condition.any]
            if any(p is None for p in branches):
                self.exact = False  # one branch unrestricted makes the whole OR unrestricted
                return None
            return _join([p for p in branches if p], "OR")
        if isinstance(condition, NotOf):
            inner = self._strict(condition.not_)
            if inner is None:
                self.exact = False
                return None
            return f"NOT ({inner})"
        assert isinstance(condition, FieldCondition)
        clause = self._field(condition)
        if clause is None:
            self.exact = False
        return clause

    def _strict(self, condition: Condition) -> str | None:
        """JQL that selects exactly ``condition`` (negation and OR need that), else ``None``."""
        sub = _Compiler(self.lookup)
        jql = sub.compile(condition)
        return jql if sub.exact and jql else None

    def _field(self, condition: FieldCondition) -> str | None:
        info = self.lookup(condition.field)
        if info is None:
            return None
        op, operand = condition.operator, condition.operand
        field = info.clause
        if op == "is_empty":
            return f"{field} is EMPTY" if operand else f"{field} is not EMPTY"
        if info.kind == "named" and op in ("equals", "not_equals", "in", "not_in"):
            values: Sequence[Any] = operand if op in ("in", "not_in") else [operand]
            if not values or not all(isinstance(v, str) and v.strip() == v and v for v in values):
                return None  # numbers match ids in JQL, names locally: not the same meaning
            if op == "equals":
                return f"{field} = {jql_string(values[0])}"
            listed = ", ".join(jql_string(v) for v in values)
            if op == "in":
                return f"{field} in ({listed})"
            negated = f"{field} != {jql_string(values[0])}" if op == "not_equals" else f"{field} not in ({listed})"
            return f"({negated} OR {field} is EMPTY)"
        if info.kind == "number" and op in ("lt", "lte", "gt", "gte"):
            symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
            number = int(operand) if float(operand).is_integer() else operand
            return f"{field} {symbol} {number}"
        return None


def _join(parts: list[str], word: str) -> str | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return f" {word} ".join(f"({p})" for p in parts)


def field_info(field_id: str, schema: dict[str, Any]) -> FieldInfo | None:
    """The JQL side of a field, from its id and ``/field`` schema."""
    if field_id in NAMED_SYSTEM_FIELDS:
        return FieldInfo(NAMED_SYSTEM_FIELDS[field_id], "named")
    if field_id in _EMPTY_ONLY_SYSTEM:
        return FieldInfo(field_id, "text")
    if field_id.startswith("customfield_"):
        clause = f"cf[{field_id.removeprefix('customfield_')}]"
        kind = schema.get("type")
        if kind == "option":
            return FieldInfo(clause, "named")
        if kind == "number":
            return FieldInfo(clause, "number")
        if kind == "string":
            return FieldInfo(clause, "text")
        return FieldInfo(clause, "other")
    return None
