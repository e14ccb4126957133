"""A strict JQL subset for the sandbox Jira: parse, evaluate against sandbox issues, sort.

Why strict: a fake that accepts everything hides the bugs a real Jira would reveal. What this parser
does not understand it refuses with a 400 carrying Jira's own wording, exactly as Jira refuses a query
it cannot parse (JQL reference: https://support.atlassian.com/jira-software-cloud/docs/jql-fields/ and
https://confluence.atlassian.com/spaces/JIRA052/pages/314448708 "Advanced searching - fields reference").

Supported: ``project``, ``key``/``issuekey``/``id``, ``labels``, ``issuetype``/``type``, ``status``,
``statusCategory``, ``resolution``, ``summary``/``text`` (``~``), ``created``/``updated`` (date
operators), ``cf[N]`` and ``customfield_N``; operators ``= != in "not in" ~ !~ > >= < <= is "is not"``
with ``EMPTY``/``NULL``; ``AND``/``OR``/``NOT`` and parentheses; ``ORDER BY f [ASC|DESC], …``.

Date literals follow Jira's documented forms only: ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``,
``"yyyy/MM/dd"``, ``"yyyy-MM-dd"``, a relative period (``-5m``, ``"-2h"``, ``"4w 2d"``) or epoch
milliseconds; they are read in the *searching user's* time zone with minute precision (a value with
seconds or an offset is a 400 with Jira's "Date value … is invalid" message).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.sandbox.jira.jql_lexicon import (
    DATE_FORMATS_MESSAGE,
    JqlError,
    Token,
    check_date,
    date_millis,
    is_relative_date,
    tokenize,
)

__all__ = ["DATE_FORMATS_MESSAGE", "Context", "JqlError", "Query", "Token", "parse", "sort_key", "tokenize"]

_DATE_FIELDS = {"created", "updated", "resolutiondate"}
_TEXT_FIELDS = {"summary", "text", "description"}
_FIELD_ALIASES = {"issuekey": "key", "type": "issuetype", "createddate": "created", "updateddate": "updated"}
_KNOWN_FIELDS = {
    "project",
    "key",
    "id",
    "labels",
    "issuetype",
    "status",
    "statuscategory",
    "resolution",
    "created",
    "updated",
    "resolutiondate",
    "summary",
    "text",
    "description",
    "priority",
    "component",
}
# Evaluation context passed by the sandbox: how to read one field of one issue.
FieldReader = Callable[[dict[str, Any], str], Any]


@dataclass
class Context:
    """What evaluation needs: the searching user's zone, "now", and a field reader."""

    zone: ZoneInfo
    now: datetime
    read: FieldReader


Predicate = Callable[[dict[str, Any], Context], bool]


@dataclass
class Query:
    where: Predicate | None
    order_by: list[tuple[str, bool]]  # (field, descending)
    #: a relative date (``-5m``) makes the answer depend on the clock: such a result is never reused
    uses_now: bool = False


class _Parser:
    def __init__(self, jql: str, known_custom: set[str], known_values: dict[str, set[str]]) -> None:
        self.jql = jql
        self.tokens = tokenize(jql)
        self.i = 0
        self.known_custom = known_custom
        self.known_values = known_values
        self.uses_now = False

    # -------------------------------------------------------------- helpers
    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise JqlError(
                f"Error in the JQL Query: Expecting either a value, list or function but got 'EOF'. "
                f"The invalid query was '{self.jql}'"
            )
        self.i += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.value.lower() in words

    def fail_expect(self, what: str, token: Token | None) -> JqlError:
        got = token.value if token else "EOF"
        where = f" (line 1, character {token.pos + 1})" if token else ""
        return JqlError(f"Error in the JQL Query: Expecting {what} but got '{got}'.{where}")

    # -------------------------------------------------------------- grammar
    def parse(self) -> Query:
        where: Predicate | None = None
        if self.peek() is not None and not self.at_word("order"):
            where = self.parse_or()
        order: list[tuple[str, bool]] = []
        if self.at_word("order"):
            self.next()
            if not self.at_word("by"):
                raise self.fail_expect("'by'", self.peek())
            self.next()
            while True:
                token = self.next()
                name = self.field_name(token)
                descending = False
                if self.at_word("asc", "desc"):
                    descending = self.next().value.lower() == "desc"
                order.append((name, descending))
                if self.peek() is not None and self.peek().kind == "punct" and self.peek().value == ",":  # type: ignore[union-attr]
                    self.next()
                    continue
                break
            if len(order) > 7:
                # search/jql description: "orderBy clause can contain a maximum of 7 fields" (OpenAPI v3).
                raise JqlError("The ORDER BY clause can contain a maximum of 7 fields.")
        if self.peek() is not None:
            raise self.fail_expect("either 'OR' or 'AND'", self.peek())
        return Query(where, order, self.uses_now)

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.at_word("or"):
            self.next()
            right = self.parse_and()
            left = (lambda a, b: lambda issue, ctx: a(issue, ctx) or b(issue, ctx))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.at_word("and"):
            self.next()
            right = self.parse_not()
            left = (lambda a, b: lambda issue, ctx: a(issue, ctx) and b(issue, ctx))(left, right)
        return left

    def parse_not(self) -> Predicate:
        if self.at_word("not"):
            self.next()
            inner = self.parse_not()
            return lambda issue, ctx: not inner(issue, ctx)
        token = self.peek()
        if token is not None and token.kind == "punct" and token.value == "(":
            self.next()
            inner = self.parse_or()
            closing = self.next() if self.peek() is not None else None
            if closing is None or closing.value != ")":
                raise self.fail_expect("')'", closing)
            return inner
        return self.parse_clause()

    def field_name(self, token: Token) -> str:
        if token.kind == "cf":
            name = "customfield_" + token.value[3:-1]
        elif token.kind in ("word", "string"):
            name = token.value
        else:
            raise self.fail_expect("a field name", token)
        lower = name.lower()
        lower = _FIELD_ALIASES.get(lower, lower)
        if lower.startswith("customfield_"):
            if lower not in self.known_custom:
                raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
            return lower
        if lower not in _KNOWN_FIELDS:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        return lower

    def parse_clause(self) -> Predicate:
        field = self.field_name(self.next())
        op_token = self.next()
        if op_token.kind == "op":
            op = op_token.value
        elif op_token.kind == "word" and op_token.value.lower() in ("in", "is", "not", "was", "changed"):
            op = op_token.value.lower()
            if op == "not":
                following = self.next()
                if following.value.lower() != "in":
                    raise self.fail_expect("'in'", following)
                op = "not in"
            elif op == "is" and self.at_word("not"):
                self.next()
                op = "is not"
            elif op in ("was", "changed"):
                raise JqlError(f"The operator '{op.upper()}' is not supported by the sandbox for field '{field}'.")
        else:
            raise self.fail_expect("operator", op_token)
        if op in ("in", "not in"):
            values = self.parse_list()
            return self.clause(field, op, values)
        if op in ("is", "is not"):
            value = self.next()
            if value.value.lower() not in ("empty", "null"):
                raise JqlError(
                    f"The operator '{op.upper()}' only supports EMPTY or NULL. (line 1, character {value.pos + 1})"
                )
            return self.clause(field, op, [])
        value = self.next()
        if value.kind not in ("word", "string"):
            raise self.fail_expect("either a value, list or function", value)
        return self.clause(field, op, [value.value])

    def parse_list(self) -> list[str]:
        opening = self.next()
        if opening.value != "(":
            raise self.fail_expect("'('", opening)
        values: list[str] = []
        while True:
            token = self.next()
            if token.kind not in ("word", "string"):
                raise self.fail_expect("either a value or function", token)
            values.append(token.value)
            sep = self.next()
            if sep.value == ")":
                return values
            if sep.value != ",":
                raise self.fail_expect("')'", sep)

    # -------------------------------------------------------------- semantics
    def clause(self, field: str, op: str, values: list[str]) -> Predicate:
        if field in _DATE_FIELDS:
            return self.date_clause(field, op, values)
        if op in (">", ">=", "<", "<=") and field != "id" and not field.startswith("customfield_"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        if op in ("~", "!~") and field not in _TEXT_FIELDS and not field.startswith("customfield_"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        if field in _TEXT_FIELDS and op not in ("~", "!~", "is", "is not"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        wanted = [v.lower() for v in values]
        if field in self.known_values and op in ("=", "!=", "in", "not in"):
            for value in values:
                if value.lower() not in self.known_values[field]:
                    # Jira's answer for an unknown project/status/type value (JQL validation message).
                    raise JqlError(f"The value '{value}' does not exist for the field '{field}'.")

        def actual(issue: dict[str, Any], ctx: Context) -> list[str]:
            raw = ctx.read(issue, field)
            if raw is None:
                return []
            if isinstance(raw, list | tuple):
                return [str(v).lower() for v in raw]
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            return [str(raw).lower()]

        if op in ("=", "in"):
            return lambda issue, ctx: any(v in wanted for v in actual(issue, ctx))
        if op in ("!=", "not in"):
            # JQL: != / NOT IN never match an empty field (Jira docs "Advanced searching - operators").
            return lambda issue, ctx: bool(actual(issue, ctx)) and not any(v in wanted for v in actual(issue, ctx))
        if op == "is":
            return lambda issue, ctx: not actual(issue, ctx)
        if op == "is not":
            return lambda issue, ctx: bool(actual(issue, ctx))
        if op in ("~", "!~"):
            words = [w for w in re.split(r"\W+", wanted[0]) if w]

            def contains(issue: dict[str, Any], ctx: Context) -> bool:
                text = " ".join(actual(issue, ctx))
                return all(w in text for w in words)

            return contains if op == "~" else (lambda issue, ctx: not contains(issue, ctx))
        number = float(values[0])
        compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}[op]
        return lambda issue, ctx: any(compare(float(v), number) for v in actual(issue, ctx) if _is_number(v))

    def date_clause(self, field: str, op: str, values: list[str]) -> Predicate:
        if op in ("~", "!~"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        if op in ("is", "is not"):
            return lambda issue, ctx: (ctx.read(issue, field) is None) == (op == "is")
        for value in values:
            check_date(field, value)
            if is_relative_date(value):
                self.uses_now = True

        def test(issue: dict[str, Any], ctx: Context) -> bool:
            millis = ctx.read(issue, field)
            if millis is None:
                return False
            points = [date_millis(v, ctx.zone, ctx.now) for v in values]
            if op == "=":
                return millis in points
            if op == "in":
                return millis in points
            if op in ("!=", "not in"):
                return millis not in points
            point = points[0]
            return {">": millis > point, ">=": millis >= point, "<": millis < point, "<=": millis <= point}[op]

        return test


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse(jql: str, known_custom: set[str], known_values: dict[str, set[str]] | None = None) -> Query:
    """Parse ``jql`` or raise :class:`JqlError` with Jira's message.

    ``known_values`` (field -> lower-cased names/ids) makes unknown projects, statuses… a 400 like Jira.
    """
    return _Parser(jql or "", {c.lower() for c in known_custom}, known_values or {}).parse()


def sort_key(issue: dict[str, Any], order_by: list[tuple[str, bool]], ctx: Context) -> tuple[Any, ...]:
    """A sort key honouring ASC/DESC per field; issue keys sort by project then number like Jira."""
    parts: list[Any] = []
    for field, descending in order_by:
        if field in ("key", "id"):
            value: Any = (issue["project"], int(issue["key"].rsplit("-", 1)[1]))
            value = (value[0], -value[1]) if descending else value
            if descending:
                value = (_Reverse(value[0]), value[1])
        else:
            raw = ctx.read(issue, field)
            if isinstance(raw, list):
                raw = ",".join(str(v) for v in raw)
            value = (raw is None, raw if raw is not None else 0)
            if descending:
                value = _Reverse(value)
        parts.append(value)
    return tuple(parts)


class _Reverse:
    """Inverts ordering of the wrapped value (for DESC on non-numeric sort keys)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)
