"""Pure transforms from the mapping language: route matching, field values, templates.

Every function here is pure: same input, same output, no I/O, no clock. Templates run in Jinja2's
``ImmutableSandboxedEnvironment`` with ``StrictUndefined``, so a mapping can format text but cannot reach
Python internals or mutate anything, and a misspelt variable is an error instead of an empty string.
Template errors surface as :class:`TemplateError`, which the engine turns into an error-list entry for
that record while the rest keep flowing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.errors import BridgeError
from bridge.mapping.schema import AllOf, AnyOf, Condition, FieldCondition, FieldRule, NotOf
from bridge.model import FieldValue, normalise


class TemplateError(BridgeError):
    """A template failed to compile or render (undefined variable, sandbox violation, bad syntax)."""


_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
)


@lru_cache(maxsize=512)
def compile_template(source: str) -> jinja2.Template:
    """Compile once, reuse: mappings are fixed for the life of a process."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on template line {exc.lineno}: {exc.message}") from None


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` with ``context`` as plain text."""
    template = compile_template(source)
    try:
        return template.render(dict(context))
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template uses an undefined value: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template tried something the sandbox forbids: {exc}") from None
    except Exception as exc:  # a filter raising on bad input must not crash the daemon
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------------------------- route


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    if actual == expected:
        return True
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        return a == e
    return str(actual) == str(expected)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == ()


def matches(condition: Condition | None, fields: Mapping[str, Any]) -> bool:
    """Whether a record with ``fields`` satisfies ``condition`` (``None`` selects everything)."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(matches(c, fields) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(matches(c, fields) for c in condition.any)
    if isinstance(condition, NotOf):
        return not matches(condition.not_, fields)
    assert isinstance(condition, FieldCondition)
    actual = fields.get(condition.field)
    op, operand = condition.operator, condition.operand
    if op == "equals":
        return _equal(actual, operand)
    if op == "not_equals":
        return not _equal(actual, operand)
    if op == "in":
        return any(_equal(actual, o) for o in operand)
    if op == "not_in":
        return not any(_equal(actual, o) for o in operand)
    if op == "matches":
        return actual is not None and re.search(operand, str(actual)) is not None
    if op == "is_empty":
        return _empty(actual) is operand
    number = _number(actual)
    if number is None:
        return False
    return {
        "lt": number < operand,
        "lte": number <= operand,
        "gt": number > operand,
        "gte": number >= operand,
    }[op]


def condition_fields(condition: Condition | None) -> set[str]:
    """The ITSM fields a condition reads (they must be fetched to filter locally)."""
    if condition is None:
        return set()
    if isinstance(condition, AllOf):
        return set().union(*(condition_fields(c) for c in condition.all))
    if isinstance(condition, AnyOf):
        return set().union(*(condition_fields(c) for c in condition.any))
    if isinstance(condition, NotOf):
        return condition_fields(condition.not_)
    return {condition.field}


# -------------------------------------------------------------------------------------------- fields


def to_jira_value(rule: FieldRule, record_fields: Mapping[str, Any], context: Mapping[str, Any]) -> FieldValue:
    """The Jira value a record produces through ``rule`` (direction to_jira or both).

    ``context`` is the template context (the record's fields plus ``record``: key, id, url, type).
    """
    if rule.value is not None:
        return normalise(rule.value)
    if rule.template is not None:
        return render(rule.template, context)
    assert rule.itsm is not None
    raw = record_fields.get(rule.itsm)
    if rule.map is None:
        return normalise(raw)
    key = "" if raw is None else str(raw)
    return normalise(rule.map.get(key, rule.default))


def to_itsm_value(rule: FieldRule, jira_value: FieldValue) -> FieldValue:
    """The ITSM value for a Jira value through ``rule`` used in reverse (direction to_itsm or both).

    With a map, the first ITSM key whose Jira value equals ``jira_value`` wins; an unmapped value gives
    ``itsm_default`` (or the Jira value unchanged when there is no ``itsm_default``).
    """
    if rule.map is None:
        return jira_value
    for itsm_value, mapped in rule.map.items():
        if normalise(mapped) == jira_value:
            return itsm_value
    return normalise(rule.itsm_default) if rule.itsm_default is not None else jira_value


def template_variables(source: str) -> set[str]:
    """Top-level names a template reads (for validation: they must be fields the route provides)."""
    from jinja2 import meta

    try:
        return set(meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on template line {exc.lineno}: {exc.message}") from None
