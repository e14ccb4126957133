"""The encoded-query language of ServiceNow's Table API, as the sandbox evaluates it.

A client that builds encoded queries has to be tested against something that reads them the way an
instance does, including the parts that surprise people. Sources (named again where they matter):

* [EQ] "Encoded query strings" (docs.servicenow.com, platform-user-interface/c_EncodedQueryStrings) and
  the ServiceNow SDK's encoded-query guide (servicenow.github.io/sdk/guides/encoded-query-guide):
  ``field<op>value`` terms joined by ``^`` (AND), ``^OR`` (binds only the terms right before and after
  it), ``^NQ`` (a new query OR'ed with the previous ones), ``ORDERBY``/``ORDERBYDESC``.
* [OPS] "Operators available for filters and queries": ``= != < <= > >= IN NOT IN LIKE NOT LIKE
  STARTSWITH ENDSWITH ISEMPTY ISNOTEMPTY ANYTHING``; text matching is case-insensitive.
* [SN-T] Table API GET (Geneva): an invalid part of ``sysparm_query`` (e.g. an unknown field) is
  silently ignored and the rest runs, so a misspelt field returns *more* rows.
* Community, "Not all scripted queries can be safely converted to an encoded query" (2016): there is
  no escape for ``^`` inside a value — it always splits the term. The sandbox does the same.
* NULL semantics of the underlying SQL: ``field!=x`` and ``fieldNOT INx,y`` do not select records
  whose field is empty (the well known "is not" gotcha of list filters); ``<``/``>`` never match empty.

Dot-walking [EQ]: a term may name a field of a referenced record (``assignment_group.name=Network``),
as list filters and ``sysparm_fields`` do; the platform joins the referenced table. The sandbox follows
one level, the way its ``sysparm_fields`` does: the term compares the referenced record's field, typed
as the referenced table's dictionary says, and a record whose reference is empty (or dangling) takes
an empty value there (a left join: ``ISEMPTY`` selects it, ``=``/``LIKE`` do not).

Comparison depends on the field's type as the dictionary (``sys_dictionary.internal_type``) says:
integers compare as numbers, date-times as ``yyyy-MM-dd HH:mm:ss`` UTC instants, everything else as
case-insensitive text (the default collation of ServiceNow's MySQL/MariaDB databases).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

#: operators longest first, so ``<=`` wins over ``<`` and ``NOT IN`` over ``IN`` [OPS]
_OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "ANYTHING",
    "STARTSWITH",
    "ENDSWITH",
    "NOT LIKE",
    "NOTLIKE",
    "NOT IN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    "<",
    ">",
)
_TERM = re.compile(r"^(?P<field>[a-z0-9_]+(?:\.[a-z0-9_]+)*)(?P<rest>.*)$", re.DOTALL)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Atom:
    """One ``field<op>value`` term."""

    field: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed encoded query: OR of groups (``^NQ``), each an AND of clauses, each an OR of atoms."""

    groups: tuple[tuple[tuple[Atom, ...], ...], ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    ignored: tuple[str, ...] = ()


FieldType = Callable[[str], str | None]
"""Returns a field's internal type (``integer``, ``glide_date_time``, ``boolean``, ``string``…) or
``None`` when the table has no such field."""

FieldValue = Callable[[Mapping[str, str], str], str]
"""The raw value of a (possibly dot-walked) field of a record; the default reads the record's own key."""


def _own_value(record: Mapping[str, str], field: str) -> str:
    return record.get(field, "") or ""


def walking_type(table: str, field_type: Callable[[str, str], str | None],
                 reference: Callable[[str, str], str | None]) -> FieldType:
    """The field types of ``table``, a one-level dot-walk (``reference.field``) typed by the referenced table.

    ``reference(table, field)`` names the table a reference field points to (``None`` for other fields).
    """

    def kind(field: str) -> str | None:
        head, dot, tail = field.partition(".")
        if not dot:
            return field_type(table, field)
        target = reference(table, head)
        if target is None or "." in tail:
            return None  # [SN-T] not a field: the term is ignored
        return field_type(target, tail)

    return kind


def parse(text: str | None, field_type: FieldType) -> Query:
    """Parse ``sysparm_query``. Unknown fields and unreadable terms are dropped, never an error [SN-T]."""
    if not text:
        return Query(groups=((),), order=())
    groups: list[tuple[tuple[Atom, ...], ...]] = []
    order: list[tuple[str, bool]] = []
    ignored: list[str] = []
    for group_text in text.split("^NQ"):
        clauses: list[list[Atom]] = []
        for raw in group_text.split("^"):
            is_or = raw.startswith("OR") and bool(clauses) and not raw.startswith("ORDERBY")
            term = raw[2:] if is_or else raw
            if term in ("", "EQ"):
                continue  # ``^EQ`` ends a query built by the list UI
            if term.startswith("ORDERBYDESC"):
                if field_type(term[len("ORDERBYDESC"):]) is not None:
                    order.append((term[len("ORDERBYDESC"):], True))
                continue
            if term.startswith("ORDERBY"):
                if field_type(term[len("ORDERBY"):]) is not None:
                    order.append((term[len("ORDERBY"):], False))
                continue
            atom = _atom(term, field_type)
            if atom is None:
                ignored.append(term)
                continue
            if is_or:
                clauses[-1].append(atom)
            else:
                clauses.append([atom])
        groups.append(tuple(tuple(c) for c in clauses))
    return Query(groups=tuple(groups), order=tuple(order), ignored=tuple(ignored))


def _atom(term: str, field_type: FieldType) -> Atom | None:
    match = _TERM.match(term)
    if not match:
        return None
    field, rest = match.group("field"), match.group("rest")
    if field_type(field) is None:
        return None  # [SN-T] invalid field: the term is ignored, the rest of the query runs
    for op in _OPERATORS:
        if rest.startswith(op):
            value = rest[len(op):]
            if op in ("ISEMPTY", "ISNOTEMPTY", "ANYTHING") and value:
                return None
            return Atom(field, "NOT LIKE" if op == "NOTLIKE" else op, value)
    return None


# ------------------------------------------------------------------------------------- evaluation


@lru_cache(maxsize=65536)  # a query compares every row's stamp: large tables repeat them a lot
def parse_datetime(text: str) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` (or just the date) as UTC, the only literal form taken as UTC [SN-T]."""
    for fmt in (DATE_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _key(value: str, kind: str) -> object | None:
    """A comparable form of ``value`` for the field type; ``None`` for empty (SQL NULL)."""
    if value == "":
        return None
    if kind == "integer":
        try:
            return float(value)
        except ValueError:
            return None
    if kind in ("glide_date_time", "glide_date"):
        return parse_datetime(value)
    return value.lower()


def _atom_matches(atom: Atom, record: Mapping[str, str], field_type: FieldType, value: FieldValue) -> bool:
    kind = field_type(atom.field) or "string"
    raw = value(record, atom.field)
    op = atom.op
    if op == "ANYTHING":
        return True
    if op == "ISEMPTY":
        return raw == ""
    if op == "ISNOTEMPTY":
        return raw != ""
    actual = _key(raw, kind)
    if op in ("IN", "NOT IN"):
        options = [_key(v, kind) for v in atom.value.split(",")]
        if actual is None:
            # NULL IN (…) is never true, NULL NOT IN (…) is never true either; an empty option selects empty
            return op == "IN" and "" in atom.value.split(",")
        inside = actual in options
        return inside if op == "IN" else not inside
    if op in ("LIKE", "NOT LIKE", "STARTSWITH", "ENDSWITH"):
        needle = atom.value.lower()
        text = raw.lower()
        if op == "LIKE":
            return needle in text
        if op == "NOT LIKE":
            return raw != "" and needle not in text
        return text.startswith(needle) if op == "STARTSWITH" else text.endswith(needle)
    expected = _key(atom.value, kind)
    if op == "=":
        if atom.value == "":
            return raw == ""
        return actual is not None and actual == expected
    if op == "!=":
        if atom.value == "":
            return raw != ""
        return actual is not None and actual != expected
    if actual is None or expected is None:
        return False
    try:
        return {
            "<": actual < expected,  # type: ignore[operator]
            "<=": actual <= expected,  # type: ignore[operator]
            ">": actual > expected,  # type: ignore[operator]
            ">=": actual >= expected,  # type: ignore[operator]
        }[op]
    except TypeError:
        return False


def evaluate(query: Query, record: Mapping[str, str], field_type: FieldType, value: FieldValue = _own_value) -> bool:
    """Whether ``record`` (raw string values) satisfies ``query``; ``value`` reads dot-walked fields."""
    return any(
        all(any(_atom_matches(atom, record, field_type, value) for atom in clause) for clause in group)
        for group in query.groups
    )


def sort_key(query: Query, field_type: FieldType) -> list[tuple[Callable[[Mapping[str, str]], object], bool]]:
    """Sort keys for ``query.order`` (empty values first, as NULLs sort first in MySQL ascending)."""

    def make(field: str) -> Callable[[Mapping[str, str]], object]:
        kind = field_type(field) or "string"

        def key(record: Mapping[str, str]) -> object:
            value = _key(record.get(field, "") or "", kind)
            if value is None:
                return (0, "")
            if isinstance(value, datetime):
                return (1, value.timestamp())
            return (1, value)

        return key

    return [(make(field), desc) for field, desc in query.order]


# ------------------------------------------------------------------------------------- keyset ranges

#: the order a keyset pager asks for (bridge's ServiceNow connector does): the sandbox keeps each query's
#: matching rows sorted this way, so each page is a slice instead of a scan and sort of the table
KEYSET_ORDER = (("sys_updated_on", False), ("sys_id", False))
#: sorts after every ``sys_id`` key (``(1, text)``; empty is ``(0, "")``)
_AFTER = (2, "")

RangeKey = tuple[tuple[int, Any], ...]


Range = tuple[RangeKey | None, bool, RangeKey | None, bool]


@dataclass(frozen=True, slots=True)
class KeysetPlan:
    """A query as (any of the ``routes``) AND (any of the ``ranges``): ``routes`` are ``^NQ`` groups
    evaluated row by row, each range the slice of the rows sorted by :data:`KEYSET_ORDER` that one-term
    ``sys_updated_on``/``sys_id`` bounds select (``(low, low_inclusive, high, high_inclusive)`` keys;
    ``None`` is open)."""

    routes: tuple[tuple[tuple[Atom, ...], ...], ...]
    ranges: tuple[Range, ...]


def keyset_plan(query: Query) -> KeysetPlan | None:
    """The plan of a query ordered by :data:`KEYSET_ORDER` whose groups pair every route part with every
    bound part — bridge's keyset pages: each route group (the mapping's route, the linked records) AND'ed
    with ``sys_updated_on>=`` a cursor, or with ``sys_updated_on>`` the last row's stamp and, in another
    group, ``sys_updated_on=`` that stamp and ``sys_id>`` its id. ``None`` for any other query, which the
    caller evaluates over every row."""
    if query.order != KEYSET_ORDER:
        return None
    pairs = []
    for group in query.groups:
        bounds = [c[0] for c in group if len(c) == 1 and c[0].field in ("sys_updated_on", "sys_id")]
        rest = tuple(c for c in group if not (len(c) == 1 and c[0].field in ("sys_updated_on", "sys_id")))
        span = _group_range(bounds)
        if span is None:
            return None
        pairs.append((rest, span))
    routes = tuple(dict.fromkeys(rest for rest, _ in pairs))
    ranges = tuple(dict.fromkeys(span for _, span in pairs))
    if set(pairs) != {(rest, span) for rest in routes for span in ranges}:
        return None  # not a product: (any route) AND (any range) would select more than the query
    return KeysetPlan(routes=routes, ranges=ranges)


def _group_range(atoms: list[Atom]) -> Range | None:
    """The slice one group's bounds select, exactly; ``None`` when they are not one slice."""
    lows: list[tuple[RangeKey, bool]] = []
    highs: list[RangeKey] = []  # exclusive
    equal: float | None = None
    for atom in atoms:
        if atom.field != "sys_updated_on":
            continue
        when = parse_datetime(atom.value) if atom.value else None
        if when is None or atom.op not in ("=", ">", ">=", "<", "<="):
            return None
        point = (1, when.timestamp())
        if atom.op in ("=", ">="):
            lows.append(((point,), True))
        if atom.op in ("=", "<="):
            highs.append((point, _AFTER))
        if atom.op == ">":
            lows.append(((point, _AFTER), True))
        if atom.op == "<":
            highs.append((point,))
        if atom.op == "=":
            if equal is not None and equal != point[1]:
                return None
            equal = point[1]
    for atom in atoms:
        if atom.field != "sys_id":
            continue
        if equal is None or atom.op not in (">", ">=") or not atom.value:
            return None  # not one slice of the (sys_updated_on, sys_id) order
        lows.append((((1, equal), (1, atom.value.lower())), atom.op == ">="))
    if highs and not lows:
        # ``<``/``<=`` never select an empty sys_updated_on (SQL NULL), which sorts first
        lows.append((((1, float("-inf")),), True))
    low: tuple[RangeKey, bool] | None = None
    for bound in lows:
        if low is None or bound[0] > low[0] or (bound[0] == low[0] and not bound[1]):
            low = bound
    high = min(highs) if highs else None
    return (low[0] if low else None), (low[1] if low else True), high, False


def keyset_key(field_type: FieldType) -> Callable[[Mapping[str, str]], RangeKey]:
    """A row's place in :data:`KEYSET_ORDER`: the keys :func:`sort_key` sorts it by (computed directly for
    the usual types, a date-time and a text id: a table of 100,000 rows is keyed in a fraction of a second)."""
    if field_type("sys_updated_on") != "glide_date_time" or field_type("sys_id") in (
            "integer", "glide_date_time", "glide_date"):
        (updated, _), (sys_id, _) = sort_key(Query(groups=((),), order=KEYSET_ORDER), field_type)
        return lambda record: (updated(record), sys_id(record))  # type: ignore[return-value]
    stamps: dict[str, tuple[int, Any]] = {}

    def key(record: Mapping[str, str]) -> RangeKey:
        text = record.get("sys_updated_on", "") or ""
        stamp = stamps.get(text)
        if stamp is None:
            when = parse_datetime(text) if text else None
            stamp = stamps[text] = (0, "") if when is None else (1, when.timestamp())
        sys_id = record.get("sys_id", "") or ""
        return stamp, ((1, sys_id.lower()) if sys_id else (0, ""))

    return key


def keyset_slices(plan: KeysetPlan, keys: Sequence[RangeKey]) -> list[tuple[int, int]]:
    """The merged, ordered ``[start, stop)`` slices of ``keys`` (sorted) the plan's groups select."""
    spans = []
    for low, low_in, high, _ in plan.ranges:
        start = 0 if low is None else (bisect_left(keys, low) if low_in else bisect_right(keys, low))
        stop = len(keys) if high is None else bisect_left(keys, high)
        if start < stop:
            spans.append((start, stop))
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged
