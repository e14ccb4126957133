"""Pure transforms from the mapping language: route matching, field values, templates, comment text.

Every function here is pure: same input, same output, no I/O, no clock. Templates run in a hardened
Jinja2 ``ImmutableSandboxedEnvironment`` with ``StrictUndefined`` (see :mod:`bridge.mapping.sandbox`), so
a mapping can format text but cannot reach Python internals, mutate anything or exhaust the process, and
a misspelt variable is an error instead of an empty string. Template errors surface as
:class:`TemplateError`, which the engine turns into an error-list entry for that record while the rest
keep flowing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.mapping import patterns
from bridge.mapping.patterns import PatternTimeout
from bridge.mapping.sandbox import MAX_OUTPUT, TemplateError, compile_template, parse, render_capped
from bridge.mapping.schema import AllOf, AnyOf, CommentRules, Condition, FieldCondition, FieldRule, NotOf
from bridge.model import FieldValue, normalise
from bridge.text import SUMMARY_FIELDS, for_vendor
from bridge.text_limits import cut, format_count, shorten
from bridge.vendors import jira as jira_facts

__all__ = [
    "MAX_OUTPUT",
    "PatternTimeout",
    "RouteTimeout",
    "TemplateError",
    "apply_comment_rules",
    "attribution",
    "compile_template",
    "condition_fields",
    "field_limit",
    "is_skipped",
    "matches",
    "notice",
    "one_person",
    "project_value",
    "render",
    "selects",
    "template_variables",
    "to_itsm_value",
    "to_jira_value",
    "truncate",
]


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` with ``context`` as plain text (connectors convert it to ADF or wiki markup).

    Control characters are removed (:func:`bridge.text.for_vendor`): the output is written to a vendor.
    """
    return str(for_vendor(render_capped(source, dict(context))))


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


class RouteTimeout(PatternTimeout):
    """A route's ``matches`` regex ran out of time, so whether the route selects the record is unknown.

    ``path`` is where the condition is in the mapping (``route.where.all[1].matches``).
    """

    def __init__(self, cause: PatternTimeout, path: str) -> None:
        super().__init__(cause.pattern, cause.limit_ms)
        self.path = path
        self.args = (f"{path}: {cause}",)


def _decide(condition: Condition, fields: Mapping[str, Any], path: str) -> bool | RouteTimeout:
    """True/False, or the timeout that left the answer open (three-valued, so ``not`` stays honest)."""
    if isinstance(condition, AllOf | AnyOf):
        children = condition.all if isinstance(condition, AllOf) else condition.any
        word = "all" if isinstance(condition, AllOf) else "any"
        decisive = isinstance(condition, AnyOf)  # the value that settles the whole: True for any, False for all
        unknown: RouteTimeout | None = None
        for index, child in enumerate(children):
            result = _decide(child, fields, f"{path}.{word}[{index}]")
            if isinstance(result, RouteTimeout):
                unknown = unknown or result
            elif result is decisive:
                return decisive
        return unknown if unknown is not None else not decisive
    if isinstance(condition, NotOf):
        inner = _decide(condition.not_, fields, f"{path}.not")
        return inner if isinstance(inner, RouteTimeout) else not inner
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
        if actual is None:
            return False
        try:
            return patterns.search(operand, str(actual))
        except PatternTimeout as exc:
            return RouteTimeout(exc, f"{path}.matches")
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


def matches(condition: Condition | None, fields: Mapping[str, Any]) -> bool:
    """Whether a record with ``fields`` may satisfy ``condition`` (``None`` selects everything).

    For pre-filters (connectors narrowing what they fetch): a ``matches`` regex that runs out of time
    counts as "may match", so the record reaches the planner, whose :func:`selects` reports it.
    """
    if condition is None:
        return True
    return _decide(condition, fields, "route.where") is not False


def selects(condition: Condition | None, fields: Mapping[str, Any]) -> bool:
    """Whether the route selects a record with ``fields``; :class:`RouteTimeout` when a regex ran out of time."""
    if condition is None:
        return True
    result = _decide(condition, fields, "route.where")
    if isinstance(result, RouteTimeout):
        raise result
    return result


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


def to_jira_value(
    rule: FieldRule,
    record_fields: Mapping[str, Any],
    context: Mapping[str, Any],
    people: Mapping[str, str | None] | None = None,
) -> FieldValue:
    """The Jira value a record produces through ``rule`` (direction to_jira or both).

    Text copied from the record or rendered is written to Jira, so its control characters are removed
    (:func:`bridge.text.for_vendor`); the mapping's own constants are written as they are.

    ``context`` is the template context (the record's fields plus ``record``: key, id, url, type).
    ``people`` (ITSM user → Jira user, resolved before planning: :mod:`bridge.users`) translates a rule
    with ``user: true``; a person it does not name leaves the field empty.
    """
    if rule.value is not None:
        return normalise(rule.value)
    if rule.template is not None:
        return render(rule.template, context)
    assert rule.itsm is not None
    raw = record_fields.get(rule.itsm)
    if rule.user:
        handles = raw if isinstance(raw, tuple | list) else (() if raw in (None, "") else (raw,))
        return one_person(tuple(sorted(h for h in ((people or {}).get(str(v)) for v in handles) if h)))
    if rule.map is None:
        return for_vendor(normalise(raw))
    key = "" if raw is None else str(raw)
    return normalise(rule.map.get(key, rule.default))


def one_person(value: FieldValue) -> FieldValue:
    """A person field's value in one shape whatever the field holds: nobody is ``None``, one person is that
    person, several are a sorted tuple.

    RT's ``Requestor`` is a list of addresses where a Jira reporter is one account: read as ``("a@x",)``
    on one side and ``"alice"`` on the other, the two would never compare equal and would be written back
    and forth every cycle. ``user: true`` rules compare and project in this shape.
    """
    if isinstance(value, tuple):
        return None if not value else value[0] if len(value) == 1 else tuple(sorted(value))
    return None if value == "" else value


def _clipped(context: Mapping[str, Any], limit: int) -> tuple[dict[str, Any], int]:
    """``context`` with each string longer than ``limit`` cut to ``limit + 1`` characters, and what was cut.

    Whatever a template does with such a value, the field keeps at most ``limit`` characters of it.
    """
    out: dict[str, Any] = {}
    omitted = 0
    for name, value in context.items():
        if isinstance(value, str) and len(value) > limit + 1:
            out[name] = value[: limit + 1]
            omitted += len(value) - limit - 1
        elif isinstance(value, Mapping):
            inner, more = _clipped(value, limit)
            out[name], omitted = inner, omitted + more
        else:
            out[name] = value
    return out, omitted


def project_value(
    key: str,
    rule: FieldRule,
    record_fields: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    notice_template: str,
    people: Mapping[str, str | None] | None = None,
) -> FieldValue:
    """The value written to Jira field ``key``: :func:`to_jira_value` within the field's limit.

    Text over :func:`field_limit` is cut at a line or word boundary and ends with the mapping's notice
    (``comments.truncation_notice``, :func:`notice`) naming the record and how much is missing (a
    summary, or a limit the notice would fill, ends with ``…`` instead): a record
    with a huge pasted log is escalated, never put on the error list for its length. A template's output
    cap applies to what the template builds, not to the record's values it copies: those are clipped to
    the limit before rendering (they would be cut anyway) and counted in the notice.
    """
    limit = field_limit(key, rule)
    clipped = 0
    if rule.template is not None and rule.value is None:
        shortened, clipped = _clipped(context, limit)
        value: FieldValue = render(rule.template, shortened)
    else:
        value = to_jira_value(rule, record_fields, context, people)
    value = for_vendor(value, field=key)  # bidi escapes lengthen a summary: measure after them
    if not isinstance(value, str) or len(value) <= limit:
        return value
    source = context.get("record") if isinstance(context.get("record"), Mapping) else None
    line = notice(notice_template, source=source)
    if key in SUMMARY_FIELDS or len(line(len(value))) * 2 > limit:
        return shorten(value, limit)  # a one-line title, or a limit the notice would fill: just "…"
    return cut(value, limit, line, already_omitted=clipped)


def to_itsm_value(rule: FieldRule, jira_value: FieldValue) -> FieldValue:
    """The ITSM value for a Jira value through ``rule`` used in reverse (direction to_itsm or both).

    With a map, the first ITSM key whose Jira value equals ``jira_value`` wins; an unmapped value gives
    ``itsm_default`` (or the Jira value unchanged when there is no ``itsm_default``).
    """
    if rule.map is None:
        return for_vendor(jira_value)
    for itsm_value, mapped in rule.map.items():
        if normalise(mapped) == jira_value:
            return itsm_value
    return normalise(rule.itsm_default) if rule.itsm_default is not None else for_vendor(jira_value)


def template_variables(source: str) -> set[str]:
    """Top-level names a template reads (for validation: they must be names the place provides)."""
    from jinja2 import meta

    return set(meta.find_undeclared_variables(parse(source)))


# ------------------------------------------------------------------------------------------ comments


def is_skipped(
    body: str, rules: CommentRules, on_timeout: Callable[[int, PatternTimeout], None] | None = None
) -> bool:
    """Whether a comment matches one of the mapping's ``skip`` regexes (searched anywhere in the body).

    A rule that runs out of time is not applied (the comment is mirrored rather than silently dropped);
    ``on_timeout`` hears its 0-based index so the caller can report it against the comment.
    """
    for index, pattern in enumerate(rules.skip):
        try:
            if patterns.search(pattern, body):
                return True
        except PatternTimeout as exc:
            if on_timeout is not None:
                on_timeout(index, exc)
    return False


def attribution(
    rules: CommentRules, *, author: str, system: str, record: Mapping[str, Any], template: str | None = None
) -> str:
    """The line that says who wrote a mirrored comment, e.g. ``Jane Doe (ServiceNow) wrote:``.

    ``template`` overrides ``rules.attribution`` (``comments.customer_attribution`` on customer channels).
    """
    source = rules.attribution if template is None else template
    return render(source, {"author": author, "system": system, "record": dict(record)})


def notice(template: str, *, source: Mapping[str, Any] | None = None) -> Callable[[int], str]:
    """The truncation notice of ``template`` as a function of how many characters were left out.

    ``omitted`` is the count as people read it (``98,211``); ``source`` ({key, url}) is the item that
    still holds the whole text, so the notice can name it and link to it.
    """
    where = {"key": "", "url": "", **dict(source or {})}

    def line(omitted: int) -> str:
        return render(template, {"omitted": format_count(omitted), "source": where})

    return line


def truncate(
    body: str, rules: CommentRules, *, source: Mapping[str, Any] | None = None, limit: int | None = None
) -> str:
    """``body`` cut at a line or word boundary to ``limit`` (default ``max_length``) characters, notice included.

    Without either limit the body is returned whole (the target documents none). The notice is rendered
    for the count it states, so the result never exceeds the limit (:func:`bridge.text_limits.cut`).
    """
    cap = rules.max_length if rules.max_length is not None else limit
    if cap is None or len(body) <= cap:
        return body
    return cut(body, cap, notice(rules.truncation_notice, source=source))


def field_limit(jira_field: str, rule: FieldRule) -> int:
    """The longest value bridge writes to ``jira_field``: the rule's ``max_length``, else what Jira takes.

    Jira refuses a summary over 255 characters and rich text over 32,767 (docs/connectors/jira.md, "Text
    limits"); the connector cuts rich text again if its ADF or wiki form is still too long.
    """
    if rule.max_length is not None:
        return rule.max_length
    return jira_facts.MAX_SUMMARY_LENGTH if jira_field == "summary" else jira_facts.MAX_TEXT_LENGTH


def apply_comment_rules(
    body: str, rules: CommentRules, *, author: str, system: str, record: Mapping[str, Any]
) -> str | None:
    """The text to mirror for a comment: ``None`` when skipped, else attribution + body, truncated."""
    if is_skipped(body, rules):
        return None
    head = attribution(rules, author=author, system=system, record=record)
    return truncate(f"{head}\n{body}" if head else body, rules)
