"""Compiling mapping routes into RT's TicketSQL (and TransactionSQL), and the field-name convention.

Why compile at all: the change query must be ONE paginated search per mapping, and without a pre-filter
it would page through every ticket of the queue that changed. Why only a *pre-filter*: TicketSQL does not
mean what :func:`bridge.mapping.transform.matches` means. RT compares strings case-insensitively
(``Status != 'STALLED'`` excludes a ``stalled`` ticket), ``LIKE`` is a case-insensitive substring test,
and custom fields without a value are rows that do not exist. So every compiled clause is a *broadening*
of its condition — it keeps every ticket the local check would keep, maybe more — and the connector
re-checks each ticket locally. Anything that cannot be broadened soundly (``not``, negations of free
text, regular expressions beyond a literal) compiles to "no restriction" and is left to the local check.

Custom fields in mappings: ``CF.{Name}`` (TicketSQL's own spelling, recommended: braces allow dots and
spaces unambiguously), ``CF.Name`` and ``cf:Name`` all name the ticket custom field ``Name``. Anything
else is a core ticket field, spelled as REST2 spells it (``Subject``, ``Status``, ``Priority``, ``Owner``,
``Requestor``, ``Queue``, ``LastUpdated`` …).

Date literals: RT reads ``'2026-11-23T13:21:29Z'`` — its own output format — as *midnight* of that day,
silently. Literals are therefore always ``'YYYY-MM-DD HH:MM:SS'`` in the server's time zone, floored to
the second (RT's precision), which errs on the early side as the port demands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.mapping.schema import AllOf, AnyOf, Condition, FieldCondition, NotOf
from bridge.model import utc

_CF_PATTERNS = (
    re.compile(r"^CF\.\{(?P<name>[^{}]+)\}$", re.IGNORECASE),
    re.compile(r"^CustomField\.\{(?P<name>[^{}]+)\}$", re.IGNORECASE),
    re.compile(r"^cf:(?P<name>.+)$", re.IGNORECASE),
    re.compile(r"^CF\.(?P<name>[^{}]+)$", re.IGNORECASE),
)

#: Core ticket fields holding numbers: ordering and numeric equality compile for these only.
NUMERIC_FIELDS = frozenset(
    {"id", "Priority", "InitialPriority", "FinalPriority", "TimeWorked", "TimeLeft", "TimeEstimated"}
)
#: Core fields TicketSQL can search by the name REST2 shows them under.
SEARCHABLE_FIELDS = frozenset(
    {
        *NUMERIC_FIELDS,
        "Subject",
        "Status",
        "Queue",
        "Owner",
        "Creator",
        "LastUpdatedBy",
        "Type",
        "Requestor",
        "Cc",
        "AdminCc",
    }
)
#: Fields whose values RT keeps canonical (lower-case status names), so negations are sound on them.
_CANONICAL_FIELDS = frozenset({"Status"})
_LITERAL_REGEX = re.compile(r"^\^?[A-Za-z0-9 _\-@,:/#]+$")  # no regex metacharacters: a plain text test


def custom_field_name(field: str) -> str | None:
    """The RT custom-field name a mapping field names (``CF.{Jira Key}`` → ``Jira Key``), else ``None``."""
    for pattern in _CF_PATTERNS:
        match = pattern.match(field.strip())
        if match:
            name = match.group("name").strip()
            return name or None
    return None


def ticketsql_field(field: str) -> str | None:
    """How TicketSQL spells ``field``, or ``None`` when it cannot be searched."""
    cf = custom_field_name(field)
    if cf is not None:
        return "CF.{" + cf + "}"
    if field in SEARCHABLE_FIELDS:
        return field
    return None


def quote(value: object) -> str:
    """A TicketSQL string literal: single quotes, with backslashes and quotes escaped."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def date_literal(instant: datetime, timezone: ZoneInfo) -> str:
    """``instant`` as a TicketSQL date literal in the server's zone, floored to the second."""
    local = utc(instant).astimezone(timezone).replace(microsecond=0, tzinfo=None)
    return quote(local.strftime("%Y-%m-%d %H:%M:%S"))


def changed_since_clause(since: datetime, timezone: ZoneInfo) -> str:
    """``LastUpdated >= '…'``, one second early: RT stores whole seconds and the clock may straddle one."""
    return f"LastUpdated >= {date_literal(since - timedelta(seconds=1), timezone)}"


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _number_literal(value: object) -> str:
    number = float(str(value))
    return str(int(number)) if number.is_integer() else repr(number)


def _equals(field: str, sql_field: str, value: object) -> str | None:
    """A broadening of ``fields[field] == value`` as the local check means it (numbers compare as numbers)."""
    if isinstance(value, bool):
        return None
    if field in NUMERIC_FIELDS:
        return f"{sql_field} = {_number_literal(value)}" if _is_number(value) else None
    if _is_number(value):
        return None  # "5" equals "5.0" locally; RT compares the text
    return f"{sql_field} = {quote(value)}"


def _not_equals(field: str, sql_field: str, value: object) -> str | None:
    if field in NUMERIC_FIELDS and _is_number(value):
        return f"{sql_field} != {_number_literal(value)}"
    if field in _CANONICAL_FIELDS and isinstance(value, str) and value == value.lower() and not _is_number(value):
        return f"{sql_field} != {quote(value)}"
    return None


def _join(parts: Iterable[str], operator: str) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else "(" + f" {operator} ".join(items) + ")"


def _field_condition(condition: FieldCondition) -> str | None:
    field = condition.field
    sql_field = ticketsql_field(field)
    if sql_field is None:
        return None
    op, operand = condition.operator, condition.operand
    is_cf = custom_field_name(field) is not None
    if op == "equals":
        return _equals(field, sql_field, operand)
    if op == "in":
        parts = [_equals(field, sql_field, value) for value in operand]
        return None if not parts or any(p is None for p in parts) else _join(parts, "OR")  # type: ignore[arg-type]
    if op == "not_equals":
        return _not_equals(field, sql_field, operand)
    if op == "not_in":
        parts = [_not_equals(field, sql_field, value) for value in operand]
        return None if not parts or any(p is None for p in parts) else _join(parts, "AND")  # type: ignore[arg-type]
    if op in ("lt", "lte", "gt", "gte"):
        if field not in NUMERIC_FIELDS:
            return None  # RT compares custom-field values as text: '10' < '9'
        symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
        return f"{sql_field} {symbol} {_number_literal(operand)}"
    if op == "is_empty":
        if not is_cf:
            return None  # core fields are never NULL in RT: "empty" means '' or 0 or Nobody
        return f"{sql_field} IS NULL" if operand else f"{sql_field} IS NOT NULL"
    if op == "matches":
        if not _LITERAL_REGEX.match(operand):
            return None
        literal = operand.lstrip("^")
        if not literal.strip():
            return None
        return f"{sql_field} LIKE {quote(literal)}"
    return None


def compile_condition(condition: Condition | None) -> str | None:
    """A TicketSQL clause selecting a superset of what ``condition`` selects, or ``None`` (no restriction)."""
    if condition is None:
        return None
    if isinstance(condition, AllOf):
        parts = [p for p in (compile_condition(c) for c in condition.all) if p is not None]
        return _join(parts, "AND") if parts else None
    if isinstance(condition, AnyOf):
        compiled = [compile_condition(c) for c in condition.any]
        alternatives = [p for p in compiled if p is not None]
        if len(alternatives) != len(compiled):
            return None
        return _join(alternatives, "OR")
    if isinstance(condition, NotOf):
        return None
    assert isinstance(condition, FieldCondition)
    return _field_condition(condition)


def ticket_query(
    queue: str,
    condition: Condition | None,
    since: datetime | None,
    timezone: ZoneInfo,
    linked_field: str | None = None,
    linked_projects: Sequence[str] = (),
) -> str:
    """The whole TicketSQL of a change search: (queue and compiled route, or linked), and the cursor.

    ``linked_field`` is the mapping's back-reference custom field (``CF.{Jira Key}``): tickets where it
    holds a key of one of ``linked_projects`` (the mapping's Jira projects) are returned whatever their
    queue and route say, in the same query, so a ticket that moves queue or leaves the route's statuses
    keeps syncing (docs/mappings.md, "Links"). RT's ``LIKE`` is a substring match: ``LIKE 'OPS-'``
    may over-select (``DEVOPS-1``), which the cycle drops; it never misses a key of the project, and it
    keeps tickets linked by other mappings (other projects) out of this search. Without projects, any
    ticket with the field set is selected.
    """
    parts = [f"Queue = {quote(queue)}"]
    compiled = compile_condition(condition)
    if compiled is not None:
        parts.append(compiled)
    route = " AND ".join(parts)
    linked = ticketsql_field(linked_field) if linked_field else None
    if linked is not None and linked.startswith("CF."):
        if linked_projects:
            keys = _join((f"{linked} LIKE {quote(p + '-')}" for p in dict.fromkeys(linked_projects)), "OR")
        else:
            keys = f"{linked} IS NOT NULL"
        route = f"({route}) OR {keys}"
    if since is None:
        return route
    if linked is not None and linked.startswith("CF."):
        route = f"({route})"
    return f"{route} AND {changed_since_clause(since, timezone)}"


def transaction_query(
    ticket_ids: Iterable[str], types: Iterable[str], since: datetime | None, timezone: ZoneInfo
) -> str:
    """TransactionSQL for the given transaction types on several tickets at once (one call, not one per ticket)."""
    ids = [str(int(i)) for i in ticket_ids]
    parts = [
        "ObjectType = 'RT::Ticket'",
        _join((f"ObjectId = {i}" for i in ids), "OR"),
        _join((f"Type = {quote(t)}" for t in types), "OR"),
    ]
    if since is not None:
        parts.append(f"Created >= {date_literal(since, timezone)}")
    return " AND ".join(parts)
