"""Compiling a mapping's route into a ServiceNow encoded query that is never narrower than the route.

Why "never narrower": the connector always re-checks every returned record locally with
:func:`bridge.mapping.transform.matches`, so a query that returns a few records too many costs a little
bandwidth, while one that misses a record loses an escalation silently. So each condition is compiled
only where ServiceNow's semantics provably select a superset of what ``matches`` accepts; everything
else is left out of the query (which broadens it) and decided locally.

The ServiceNow semantics this relies on (see :mod:`bridge.sandbox.servicenow_query` for sources):

* text comparisons (``=``, ``IN``, ``LIKE``, ``STARTSWITH``) are case-insensitive — broader than
  ``matches``, so fine for positive tests; ``!=``/``NOT IN`` are therefore only compiled for values
  without upper/lower case (digits, booleans, codes like ``-5``), where case cannot matter;
* ``field!=x`` and ``fieldNOT INx`` do not select records whose field is empty, while ``matches``
  does: those compile to ``field!=x^ORfieldISEMPTY``;
* numbers compare as numbers only on integer fields (``state``, ``priority`` …, :data:`INTEGER_FIELDS`);
  on text fields ``<`` is a string comparison, so ``lt``/``gt`` and numeric equality are compiled for
  integer fields only;
* a ``^`` inside a value cannot be escaped (it always splits the query), and ``,`` splits ``IN`` lists,
  so values containing them are never compiled (the condition is filtered locally);
* ``^OR`` joins single terms, ``^NQ`` joins whole AND-groups: ``any`` of simple terms becomes
  ``a^ORb``, ``any`` of groups becomes ``…^NQ…``; ``all`` over ``^NQ`` groups distributes (bounded by
  :data:`MAX_GROUPS`, beyond which a conjunct is dropped — broader again);
* ``not`` is pushed down with De Morgan to the negated field test where that is exact, and dropped
  (match-all) otherwise;
* ``matches`` (a regular expression) compiles its literal lead: ``^abc…`` to ``STARTSWITHabc`` and
  ``abc…`` to ``LIKEabc``; patterns with alternation or without a literal lead stay local;
* dot-walked fields (``assignment_group.name``) are compiled too: an encoded query may name a field of
  a referenced record, the platform joins it in ([EQ] in :mod:`bridge.sandbox.servicenow_query`;
  docs/connectors/servicenow.md, "Queries"). Only *positive* tests are compiled on them (``=``, ``IN``,
  ``LIKE``, ``STARTSWITH``, ``ISNOTEMPTY``): they select the same records whether the platform joins
  an empty reference as an empty value or leaves the record out, while ``!=``, ``NOT IN`` and
  ``ISEMPTY`` would differ between the two, so those stay local. A dot-walked field is never taken for
  an integer column (its table is not known here), so numeric comparisons on it stay local as well.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.mapping.schema import AllOf, AnyOf, Condition, FieldCondition, NotOf
from bridge.vendors import servicenow as facts

#: task fields ServiceNow stores as integers (choice lists with numeric values)
INTEGER_FIELDS = facts.INTEGER_FIELDS
MAX_GROUPS = 16
_FIELD = re.compile(r"^[a-z0-9_]+$")
_DOTTED = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
#: atom operators that also select (or leave out) records whose dot-walked reference is empty
_NEGATIVE = ("!=", "NOT IN", "ISEMPTY")

Clause = tuple[str, ...]  # atoms OR'ed with ^OR
Group = tuple[Clause, ...]  # clauses AND'ed with ^
Groups = tuple[Group, ...]  # groups OR'ed with ^NQ

TRUE: Groups = ((),)


@dataclass(frozen=True, slots=True)
class EncodedQuery:
    """A compiled route: ``groups`` as above, and whether it selects exactly what the route selects."""

    groups: Groups
    exact: bool

    def render(self, extra: Sequence[str] = (), order_by: Sequence[str] = ()) -> str:
        """The ``sysparm_query`` text with ``extra`` terms AND'ed into every ``^NQ`` group.

        ``extra`` must go into each group: ``a^NQb^sys_updated_on>=t`` would bound only ``b``.
        """
        parts = ["^".join([*("^OR".join(c) for c in group), *extra]) for group in self.groups]
        text = "^NQ".join(p for p in parts if p) if any(parts) else ""
        order = "^".join(f"ORDERBYDESC{f[1:]}" if f.startswith("-") else f"ORDERBY{f}" for f in order_by)
        return "^".join(p for p in (text, order) if p)


class _Inexact(Exception):
    """Raised inside the compiler when a condition cannot be written exactly: it is left local."""


def compile_route(condition: Condition | None, integer_fields: Iterable[str] = INTEGER_FIELDS) -> EncodedQuery:
    """Compile ``condition`` (``None`` selects everything)."""
    compiler = _Compiler(frozenset(integer_fields))
    groups = compiler.compile(condition, negate=False)
    return EncodedQuery(groups=groups, exact=compiler.exact)


def literal(value: Any) -> str | None:
    """``value`` as query text, or ``None`` when it cannot be written safely (``^`` or edge spaces)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    text = str(value)
    if "^" in text or text != text.strip() or "\n" in text:
        return None
    return text


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class _Compiler:
    def __init__(self, integer_fields: frozenset[str]) -> None:
        self.integer_fields = integer_fields
        self.exact = True

    def compile(self, condition: Condition | None, negate: bool) -> Groups:
        if condition is None:
            if negate:
                self.exact = False
            return TRUE
        if isinstance(condition, NotOf):
            return self.compile(condition.not_, not negate)
        if isinstance(condition, AllOf | AnyOf):
            children = condition.all if isinstance(condition, AllOf) else condition.any
            conjunction = isinstance(condition, AllOf) != negate  # De Morgan
            compiled = [self.compile(c, negate) for c in children]
            return self._and(compiled) if conjunction else self._or(compiled)
        assert isinstance(condition, FieldCondition)
        try:
            clause = self._field(condition, negate)
        except _Inexact:
            self.exact = False
            return TRUE
        return ((clause,),)

    # ------------------------------------------------------------------------------ combinators

    def _and(self, parts: list[Groups]) -> Groups:
        result: Groups = TRUE
        for part in sorted(parts, key=len):
            if part == TRUE:
                continue
            product = tuple(a + b for a in result for b in part)
            if len(product) > MAX_GROUPS:
                self.exact = False  # dropping a conjunct only broadens
                continue
            result = product
        return result

    def _or(self, parts: list[Groups]) -> Groups:
        if any(part == TRUE or () in part for part in parts):
            return TRUE
        if all(len(p) == 1 and len(p[0]) == 1 for p in parts):
            return ((tuple(atom for p in parts for atom in p[0][0]),),)
        groups = tuple(g for p in parts for g in p)
        if len(groups) > MAX_GROUPS:
            self.exact = False
            return TRUE
        return groups

    # ------------------------------------------------------------------------------ field tests

    def _field(self, cond: FieldCondition, negate: bool) -> Clause:
        field = cond.field
        if _DOTTED.match(field):
            clause = self._plain(cond, negate)
            if any(atom[len(field):].startswith(_NEGATIVE) for atom in clause):
                raise _Inexact  # the empty-reference case differs between join semantics: local
            return clause
        if not _FIELD.match(field):
            raise _Inexact  # odd names stay local
        return self._plain(cond, negate)

    def _plain(self, cond: FieldCondition, negate: bool) -> Clause:
        field = cond.field
        op, operand = cond.operator, cond.operand
        if negate:
            op, operand = {
                "equals": ("not_equals", operand), "not_equals": ("equals", operand),
                "in": ("not_in", operand), "not_in": ("in", operand),
                "is_empty": ("is_empty", not operand),
                "lt": ("nlt", operand), "lte": ("nlte", operand), "gt": ("ngt", operand), "gte": ("ngte", operand),
            }.get(op, ("local", operand))
        integer = field in self.integer_fields
        if op == "is_empty":
            return (f"{field}ISEMPTY" if operand else f"{field}ISNOTEMPTY",)
        if op == "equals":
            return (self._positive(field, operand, integer),)
        if op == "in":
            values = list(operand)
            if not values:
                raise _Inexact
            texts = [v for v in values if not (isinstance(v, str) and v == "")]
            listed = ",".join(self._positive(field, v, integer, bare=True) for v in texts)
            atoms = [f"{field}IN{listed}"] if texts else []
            if len(texts) != len(values):
                atoms.append(f"{field}ISEMPTY")
            return tuple(atoms)
        if op == "not_equals":
            if isinstance(operand, str) and operand == "":
                return (f"{field}ISNOTEMPTY",)
            return (f"{field}!={self._negative(operand, integer)}", f"{field}ISEMPTY")
        if op == "not_in":
            values = list(operand)
            texts = [v for v in values if not (isinstance(v, str) and v == "")]
            if not values:
                raise _Inexact  # `not_in: []` selects everything: no atom says that
            if not texts:
                return (f"{field}ISNOTEMPTY",)
            listed = ",".join(self._negative(v, integer, bare=True) for v in texts)
            if len(texts) != len(values):
                return (f"{field}NOT IN{listed}",)  # empty excluded on both sides
            return (f"{field}NOT IN{listed}", f"{field}ISEMPTY")
        if op in ("lt", "lte", "gt", "gte"):
            return (self._compare(field, op, operand, integer),)
        if op in ("nlt", "nlte", "ngt", "ngte"):
            # not(v < x) on an integer field holding integers or nothing: v >= x, or empty
            flipped = {"nlt": "gte", "nlte": "gt", "ngt": "lte", "ngte": "lt"}[op]
            return (self._compare(field, flipped, operand, integer), f"{field}ISEMPTY")
        if op == "matches":
            return (self._regex(field, operand),)
        raise _Inexact

    def _positive(self, field: str, value: Any, integer: bool, bare: bool = False) -> str:
        """A value for ``=``/``IN``: case-insensitive matching is broader, which is allowed."""
        if isinstance(value, bool):
            text = literal(value)
        elif _numeric(value):
            # numbers equal numerically in ``matches`` ("2" == 2.0): exact only on integer fields
            number = float(value)
            if not integer or not math.isfinite(number) or not number.is_integer():
                raise _Inexact
            text = str(int(number))
        else:
            if integer:
                raise _Inexact
            text = literal(value)
            if text == "" and not bare:
                return f"{field}ISEMPTY"
            if text is not None and text.lower() != text.upper():
                self.exact = False  # ServiceNow also selects other letter cases: broader, re-checked locally
        if text is None or text == "" or (bare and "," in text):
            raise _Inexact
        return text if bare else f"{field}={text}"

    def _negative(self, value: Any, integer: bool, bare: bool = False) -> str:
        """A value for ``!=``/``NOT IN``: only where case-insensitivity cannot make it narrower."""
        if isinstance(value, bool):
            return literal(value) or ""
        if _numeric(value):
            number = float(value)
            if not integer or not math.isfinite(number) or not number.is_integer():
                raise _Inexact
            return str(int(number))
        text = literal(value)
        if integer or text is None or text.lower() != text.upper() or (bare and "," in text):
            raise _Inexact
        return text

    @staticmethod
    def _compare(field: str, op: str, operand: Any, integer: bool) -> str:
        if not integer or not _numeric(operand) or not math.isfinite(float(operand)):
            raise _Inexact
        x = float(operand)
        # integer-valued fields: rewrite a fractional bound to the equivalent integer one
        bound = {"lt": math.ceil(x), "lte": math.floor(x), "gt": math.floor(x), "gte": math.ceil(x)}[op]
        symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
        return f"{field}{symbol}{bound}"

    def _regex(self, field: str, pattern: str) -> str:
        if "|" in pattern:
            raise _Inexact
        anchored = pattern.startswith("^")
        lead = _literal_lead(pattern[1:] if anchored else pattern)
        if not lead or literal(lead) != lead:
            raise _Inexact
        self.exact = False  # a pre-filter: the pattern's rest (and letter case) is decided locally
        return f"{field}STARTSWITH{lead}" if anchored else f"{field}LIKE{lead}"


_META = set(".^$*+?{}[]\\|()")
_QUANT = set("*+?{")


def _literal_lead(pattern: str) -> str:
    """The literal text every match of ``pattern`` starts with (``""`` when there is none)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern) and not pattern[i + 1].isalnum() and pattern[i + 1] != "_":
                char, step = pattern[i + 1], 2
            else:
                break  # \d, \w, \b … are classes or assertions
        elif ch in _META:
            break
        else:
            char, step = ch, 1
        nxt = pattern[i + step] if i + step < len(pattern) else ""
        if nxt in _QUANT:
            break  # this character is optional or repeated: the lead ends before it
        out.append(char)
        i += step
    return "".join(out)
