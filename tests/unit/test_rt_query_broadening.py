"""Property: the TicketSQL pre-filter never drops a ticket the mapping's own check would keep.

The compiled text is evaluated by a small model of how RT evaluates TicketSQL (what the notes and a real
RT 5 show: text compares case-insensitively, ``LIKE`` is a case-insensitive substring test, a custom field
without a value matches only ``IS NULL``, numbers compare as numbers). If the compiler ever emitted a
clause narrower than the condition, hypothesis finds a ticket that ``matches`` keeps and RT would drop.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.connectors.rt_query import compile_condition, custom_field_name
from bridge.mapping.schema import Route
from bridge.mapping.transform import matches

TOKEN = re.compile(r"\s*(\(|\)|'(?:\\.|[^'\\])*'|[<>!=]=|[<>=]|-?\d+(?:\.\d+)?|CF\.\{[^}]*\}|[A-Za-z_][\w.]*)")


def tokenize(sql: str) -> list[str]:
    tokens, position = [], 0
    while position < len(sql):
        match = TOKEN.match(sql, position)
        assert match, f"untokenizable TicketSQL at {sql[position:]!r}"
        tokens.append(match.group(1))
        position = match.end()
        while position < len(sql) and sql[position].isspace():
            position += 1
    return tokens


def unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class RTModel:
    """Evaluates the TicketSQL subset the compiler emits against one ticket's field values."""

    def __init__(self, tokens: list[str], ticket: dict[str, Any]) -> None:
        self.tokens, self.ticket, self.i = tokens, ticket, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expression(self) -> bool:
        result = self.term()
        while self.peek() in ("AND", "OR"):
            op = self.take()
            right = self.term()
            result = (result and right) if op == "AND" else (result or right)
        return result

    def term(self) -> bool:
        if self.peek() == "(":
            self.take()
            result = self.expression()
            assert self.take() == ")"
            return result
        field = self.take()
        op = self.take()
        value = self.value_of(field)
        if op == "IS":
            negate = self.peek() == "NOT"
            if negate:
                self.take()
            assert self.take() == "NULL"
            return (value is not None) if negate else (value is None)
        operand = self.take()
        values = value if isinstance(value, tuple) else (value,)
        if value is None or values == ():
            return op == "!="  # RT: a ticket without the value is "not equal"
        if operand.startswith("'"):
            text = unquote(operand).lower()
            hits = [str(v).lower() for v in values]
            if op == "=":
                return text in hits
            if op == "!=":
                return text not in hits
            if op == "LIKE":
                return any(text in h for h in hits)
            raise AssertionError(f"text operator {op}")
        number = float(operand)
        actual = float(values[0])
        return {"=": actual == number, "!=": actual != number, "<": actual < number, "<=": actual <= number,
                ">": actual > number, ">=": actual >= number}[op]

    def value_of(self, field: str) -> Any:
        if field.startswith("CF."):
            return self.ticket.get("CF.{" + (custom_field_name(field) or "") + "}")
        return self.ticket.get(field)


def rt_selects(sql: str | None, ticket: dict[str, Any]) -> bool:
    if sql is None:
        return True
    model = RTModel(tokenize(sql), ticket)
    result = model.expression()
    assert model.peek() is None, f"trailing tokens in {sql!r}"
    return result


TEXTS = st.sampled_from(["open", "Open", "OPEN", "new", "resolved", "printer", "Printer down", "5", "x'y", "a\\b"])
FIELDS = ("Subject", "Status", "CF.{Severity}", "Priority")


@st.composite
def field_conditions(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(FIELDS))
    if field == "Priority":
        op = draw(st.sampled_from(["equals", "not_equals", "lt", "lte", "gt", "gte", "in", "not_in"]))
        number = draw(st.integers(0, 100))
        operand: Any = [number, draw(st.integers(0, 100))] if op in ("in", "not_in") else number
        return {"field": field, op: operand}
    op = draw(st.sampled_from(["equals", "not_equals", "in", "not_in", "matches", "is_empty"]))
    if op == "is_empty":
        return {"field": field, op: draw(st.booleans())}
    if op == "matches":
        return {"field": field, op: draw(st.sampled_from(["^open", "print", "^Printer", "o.en", "down$"]))}
    if op in ("in", "not_in"):
        return {"field": field, op: draw(st.lists(TEXTS, min_size=1, max_size=3))}
    return {"field": field, op: draw(TEXTS)}


conditions = st.recursive(
    field_conditions(),
    lambda inner: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=6,
)
tickets = st.fixed_dictionaries(
    {
        "Subject": st.one_of(TEXTS, st.just("")),
        "Status": st.sampled_from(["new", "open", "stalled", "resolved", "rejected"]),
        "CF.{Severity}": st.one_of(st.none(), TEXTS),
        "Priority": st.integers(0, 100),
    }
)


@settings(max_examples=400)
@given(conditions, tickets)
def test_rt_never_drops_a_ticket_the_route_selects(condition: dict[str, Any], ticket: dict[str, Any]) -> None:
    where = Route.model_validate({"record_type": "Incidents", "where": condition}).where
    if matches(where, ticket):
        assert rt_selects(compile_condition(where), ticket)


def test_the_model_is_not_vacuous() -> None:
    """The property above would pass with a model that selects everything: show this one can say no."""
    ticket = {"Subject": "Printer", "Status": "open", "CF.{Severity}": None, "Priority": 5}
    assert not rt_selects("Status = 'resolved'", ticket)
    assert not rt_selects("CF.{Severity} IS NOT NULL", ticket)
    assert not rt_selects("(Priority > 5 OR Subject LIKE 'scanner')", ticket)
    assert rt_selects("(Status != 'rejected' AND Subject LIKE 'PRINT')", ticket)
