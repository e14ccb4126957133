"""Semantic checks of mappings that passed the schema: what pydantic cannot know.

Per file: templates compile, stay inside the sandbox and use only the names their place provides;
the statuses cover every state the route can select; state writes carry the fields the ITSM demands.
Across files: no two mappings share a name; two enabled mappings do not claim the same records for the
same project. Errors stop a mapping from loading; warnings are printed and the mapping runs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bridge.errors import MappingProblem
from bridge.mapping import catalog, patterns
from bridge.mapping.checks_across import SYSTEM_NAMES
from bridge.mapping.checks_comments import CHANNELS, DEFAULT_CHANNEL  # noqa: F401 (their old home)
from bridge.mapping.checks_comments import check_comments as _check_comments
from bridge.mapping.context import ISSUE_ATTRIBUTES, JINJA_GLOBALS, PLACES, RECORD_ATTRIBUTES
from bridge.mapping.sandbox import TemplateError, attribute_uses, parse, private_attribute_uses, render_capped
from bridge.mapping.schema import (
    AllOf,
    AnyOf,
    Condition,
    FieldCondition,
    ItsmStateTarget,
    Mapping,
    NotOf,
    TemplateValue,
)
from bridge.mapping.transform import matches
from bridge.vendors import jira as jira_facts
from bridge.vendors import servicenow as sn_facts

if TYPE_CHECKING:
    from bridge.mapping.loader import Marks

PathKey = tuple[str | int, ...]
JIRA_CATEGORIES = jira_facts.STATUS_CATEGORIES
SERVICENOW_JOURNALS = sn_facts.JOURNAL_NAMES
_SYSTEM_NAMES = SYSTEM_NAMES


class _Reporter:
    def __init__(self, marks: Marks, file: str) -> None:
        self.marks = marks
        self.file = file
        self.problems: list[MappingProblem] = []

    def add(
        self,
        path: PathKey,
        message: str,
        hint: str | None = None,
        *,
        severity: str = "error",
        at_key: bool = False,
        line_offset: int = 0,
    ) -> None:
        from bridge.mapping.loader import dotted

        mark = self.marks.get(path)
        line, column = (mark.key_line, mark.key_column) if at_key else (mark.line, mark.column)
        if line_offset:
            line, column = line + line_offset, 1
        self.problems.append(MappingProblem(self.file, line, column, dotted(path), message, hint, severity))


# ---------------------------------------------------------------------------------------- templates


def templates(mapping: Mapping) -> Iterator[tuple[PathKey, str, str]]:
    """``(path, source, place)`` of every template in ``mapping``."""
    for name, rule in mapping.fields.items():
        if rule.template is not None:
            yield ("fields", name, "template"), rule.template, "to_jira"
    for status, target in mapping.status.to_itsm.items():
        if isinstance(target, ItsmStateTarget):
            for field_name, value in target.fields.items():
                if isinstance(value, TemplateValue):
                    yield ("status", "to_itsm", status, "fields", field_name, "template"), value.template, "to_itsm"
    for index, note in enumerate(mapping.notes_to_itsm):
        yield ("notes_to_itsm", index, "template"), note.template, "note"
    yield ("comments", "attribution"), mapping.comments.attribution, "attribution"
    yield ("comments", "customer_attribution"), mapping.comments.customer_attribution, "attribution"
    yield ("comments", "truncation_notice"), mapping.comments.truncation_notice, "truncation"


class _Anything:
    """A permissive sample value for trial renders: every attribute, item and operation works.

    Trial renders exist to catch sandbox escapes and resource bombs in branches the data would reach;
    they must not report errors that only a real record's values could decide.
    """

    def __getattr__(self, name: str) -> _Anything:
        return self

    def __getitem__(self, key: Any) -> _Anything:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Anything:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "sample"

    def __int__(self) -> int:
        return 1

    def __float__(self) -> float:
        return 1.0

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return False

    __gt__ = __le__ = __ge__ = __lt__
    __hash__ = object.__hash__


def _line_offset(reporter: _Reporter, path: PathKey, lineno: int | None) -> int:
    """Lines to add to the template's mark so a template line becomes a file line."""
    if not lineno:
        return 0
    mark = reporter.marks.get(path)
    return (1 if mark.block_scalar else 0) + lineno - 1


def _check_template(
    reporter: _Reporter, mapping: Mapping, path: PathKey, source: str, place_name: str, *, fields_known: bool = True
) -> None:
    place = PLACES[place_name]
    try:
        tree = parse(source)
    except TemplateError as exc:
        offset = _line_offset(reporter, path, exc.lineno)
        reporter.add(path, str(exc), "Jinja2 syntax: {{ name }} for values, {% if %}…{% endif %} for logic",
                     line_offset=offset)
        return
    private = private_attribute_uses(tree)
    for lineno, name in private:
        reporter.add(
            path,
            f"template reaches for `{name}`: names starting with `_` are refused by the sandbox",
            "templates format values; they cannot reach Python internals",
            line_offset=_line_offset(reporter, path, lineno),
        )
    system = catalog.system_of(mapping.route.record_type, mapping.route.system)
    known = catalog.known_fields(system, mapping.route.record_type) if fields_known else None
    from jinja2 import meta

    for variable in sorted(meta.find_undeclared_variables(tree)):
        if variable in place.names or variable in JINJA_GLOBALS:
            continue
        if not place.record_fields:
            reporter.add(
                path,
                f"`{variable}` is not available in {place.description}",
                f"available here: {', '.join(place.names)}",
            )
            continue
        other = [p.name for p in PLACES.values() if variable in p.names]
        if variable in {"issue", "value", "previous", "author", "system", "omitted"} and other:
            reporter.add(
                path,
                f"`{variable}` is not available in {place.description}",
                f"`{variable}` exists in: {', '.join(other)} templates; here you have the record's fields and "
                + ", ".join(f"`{n}`" for n in place.names),
            )
            continue
        if known is not None and variable not in known and not catalog.is_custom_field(system, variable):
            close = difflib.get_close_matches(variable, sorted(known), n=1, cutoff=0.7)
            reporter.add(
                path,
                f"`{variable}` is not a known {mapping.route.record_type} field",
                (f"did you mean `{close[0]}`? " if close else "")
                + "if it exists on your instance, ignore this warning; a record without it fails to render",
                severity="warning",
            )
    for name, allowed in (("record", RECORD_ATTRIBUTES), ("issue", ISSUE_ATTRIBUTES)):
        if name not in place.names:
            continue
        for lineno, attr in attribute_uses(tree, name):
            if attr not in allowed and not attr.startswith("_"):
                close = difflib.get_close_matches(attr, allowed, n=1, cutoff=0.6)
                reporter.add(
                    path,
                    f"`{name}.{attr}` does not exist",
                    (f"did you mean `{name}.{close[0]}`? " if close else "") + f"`{name}` has: {', '.join(allowed)}",
                    line_offset=_line_offset(reporter, path, lineno),
                )
    if private:
        return  # already reported; the trial render would only repeat it
    sample: dict[str, Any] = {n: _Anything() for n in meta.find_undeclared_variables(tree)}
    sample.update({n: _Anything() for n in place.names})
    if place_name == "truncation":
        sample["omitted"] = 1234
    try:
        render_capped(source, sample)
    except TemplateError as exc:
        if exc.kind in ("sandbox", "limit"):
            reporter.add(path, str(exc), "templates format values; they cannot reach internals or build huge text")


# ------------------------------------------------------------------------------------------- status


def _maybe(condition: Condition | None, field: str, value: str) -> bool | None:
    """Three-valued evaluation knowing only ``field``: True, False, or None (depends on other fields)."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        results = [_maybe(c, field, value) for c in condition.all]
        if False in results:
            return False
        return True if all(r is True for r in results) else None
    if isinstance(condition, AnyOf):
        results = [_maybe(c, field, value) for c in condition.any]
        if True in results:
            return True
        return False if all(r is False for r in results) else None
    if isinstance(condition, NotOf):
        inner = _maybe(condition.not_, field, value)
        return None if inner is None else not inner
    assert isinstance(condition, FieldCondition)
    if condition.field != field:
        return None
    return matches(condition, {field: value})


def selectable_states(mapping: Mapping, status_field: str | None = None) -> list[str] | None:
    """The known states the route can select (``None`` when bridge does not know the record type's states)."""
    system = catalog.system_of(mapping.route.record_type, mapping.route.system)
    table = catalog.state_table(system, mapping.route.record_type)
    if table is None:
        return None
    status_field = status_field or catalog.STATUS_FIELD[system]
    return [s for s in table.names if _maybe(mapping.route.where, status_field, s) is not False]


def _check_status(reporter: _Reporter, mapping: Mapping) -> None:
    system = catalog.system_of(mapping.route.record_type, mapping.route.system)
    table = catalog.state_table(system, mapping.route.record_type)
    status = mapping.status
    if table is not None:
        for state in status.to_jira:
            if state not in table.names:
                close = difflib.get_close_matches(state, list(table.names), n=1)
                reporter.add(
                    ("status", "to_jira", state),
                    f"`{state}` is not a known {mapping.route.record_type} state",
                    (f"did you mean `{close[0]}`? " if close else "") + f"known states: {table.describe()}",
                    severity="warning",
                    at_key=True,
                )
        unmapped = [s for s in selectable_states(mapping) or [] if s not in status.to_jira]
        if unmapped:
            reporter.add(
                ("status", "to_jira") if status.to_jira else ("status",),
                "these states the route can select have no Jira status: " + ", ".join(table.label(s) for s in unmapped),
                "records in them keep their Jira status; map them, or narrow the route with a state condition",
                severity="warning",
                at_key=True,
            )
    for key, target in status.to_itsm.items():
        path: PathKey = ("status", "to_itsm", key)
        if key.startswith("category:"):
            category = key.removeprefix("category:")
            if category not in JIRA_CATEGORIES:
                close = difflib.get_close_matches(category, JIRA_CATEGORIES, n=1)
                reporter.add(
                    path,
                    f"`{category}` is not a Jira status category",
                    (f"did you mean `category:{close[0]}`? " if close else "")
                    + "categories: " + ", ".join(f"category:{c}" for c in JIRA_CATEGORIES),
                    at_key=True,
                )
        state_target = ItsmStateTarget(state=target) if isinstance(target, str) else target
        state = state_target.state
        if table is None:
            continue
        value_path = (*path, "state") if isinstance(target, ItsmStateTarget) else path
        if state not in table.names:
            reporter.add(
                value_path,
                f"`{state}` is not a known {mapping.route.record_type} state",
                f"known states: {table.describe()}",
                severity="warning",
            )
            continue
        given = set(state_target.fields)
        demands = (("error", table.requires.get(state, ())), ("warning", table.recommends.get(state, ())))
        for severity, needed in demands:
            missing = [f for f in needed if f not in given]
            if not missing:
                continue
            example = ", ".join(f"{f}: …" for f in missing)
            reporter.add(
                path,
                f"moving {mapping.route.record_type} records to {table.label(state)} needs "
                + " and ".join(f"`{f}`" for f in missing),
                f"{_SYSTEM_NAMES[system]} refuses or flags the write otherwise; write it as "
                f"`{key}: {{state: \"{state}\", fields: {{{example}}}}}`",
                severity=severity,
                at_key=True,
            )


# ----------------------------------------------------------------------------------- other checks


# ---------------------------------------------------------------------------------- can it ever run


JSM_PROJECT_KEY = re.compile(jira_facts.PROJECT_KEY_PATTERN)


def record_type_problem(mapping: Mapping) -> tuple[str, str] | None:
    """``(message, hint)`` when the route's record type cannot exist on its system (else ``None``).

    Decided from the vendor facts only: a ServiceNow table bridge does not know is a problem only when it
    is a near miss of one it knows (``incidnet``), since instances have tables of their own; an undeclared
    system reads any other name as an RT queue, so a near miss of a ServiceNow table is a typo, not a queue.
    """
    record_type = mapping.route.record_type
    declared = mapping.route.system
    system = catalog.system_of(record_type, declared)
    tables = sorted(sn_facts.TABLES)
    if system == "servicenow" and not sn_facts.is_table(record_type):
        if sn_facts.is_custom_table(record_type):
            return None
        close = difflib.get_close_matches(record_type, tables, n=1, cutoff=0.75)
        if not close:
            return None
        return (
            f"`{record_type}` is not a ServiceNow table",
            f"did you mean `{close[0]}`? (custom tables start with `u_` or `x_`)",
        )
    if system == "rt" and declared is None and record_type == record_type.lower():
        # table names are lower-case snake_case; a queue named like `Incidents` is a queue
        close = difflib.get_close_matches(record_type, tables, n=1, cutoff=0.75)
        if close:
            return (
                f"`{record_type}` is not a ServiceNow table (without `route.system` it would be read as a "
                "Request Tracker queue)",
                f"did you mean `{close[0]}`? if it is an RT queue, say so with `route.system: rt`",
            )
    if system == "jsm" and not JSM_PROJECT_KEY.match(record_type):
        return (
            f"`{record_type}` is not a Jira Service Management project key",
            f"for JSM, `route.record_type` is the service project's key, e.g. `{record_type.upper()[:10] or 'SUP'}`",
        )
    return None


def _check_record_type(reporter: _Reporter, mapping: Mapping) -> bool:
    """Whether the record type can exist on its system; the checks that read its fields and states
    depend on this (a typo would otherwise bury the one real problem under warnings about every field)."""
    problem = record_type_problem(mapping)
    if problem is None:
        return True
    reporter.add(("route", "record_type"), problem[0], problem[1])
    return False


def _check_summary(reporter: _Reporter, mapping: Mapping) -> None:
    """Jira refuses an issue without a summary, so a mapping with no rule for it can never create one."""
    rule = mapping.fields.get("summary")
    if rule is not None and rule.direction != "to_itsm":
        return
    example = "`summary: {template: \"{{ record.key }}: …\"}`"
    if rule is None:
        reporter.add(
            ("fields",) if "fields" in mapping.model_fields_set else ("target",),
            "no `summary` rule: Jira refuses to create an issue without a summary, so every create would fail",
            f"add {example} under `fields:`",
            at_key=True,
        )
    else:
        reporter.add(
            ("fields", "summary", "direction"),
            "`summary` flows only to the ITSM: Jira refuses to create an issue without a summary",
            f"use `direction: both`, or {example}",
        )


def jira_status_names(mapping: Mapping) -> list[str]:
    """The Jira statuses a mapping names outside ``status.to_itsm``, plus Jira's default workflow's."""
    named = [t if isinstance(t, str) else t.status for t in mapping.status.to_jira.values()]
    return list(dict.fromkeys([*named, *jira_facts.DEFAULT_STATUSES]))


def unknown_to_itsm_keys(mapping: Mapping, statuses: list[str] | None = None) -> list[tuple[str, str | None]]:
    """``(key, nearest known status)`` for each ``status.to_itsm`` key that is no status in ``statuses``
    (default: :func:`jira_status_names`) and no ``category:`` (case-insensitive, as Jira compares)."""
    known = statuses if statuses is not None else jira_status_names(mapping)
    lowered = {s.lower() for s in known}
    found: list[tuple[str, str | None]] = []
    for key in mapping.status.to_itsm:
        if key.startswith("category:") or key.lower() in lowered:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        found.append((key, close[0] if close else None))
    return found


def _check_to_itsm_keys(reporter: _Reporter, mapping: Mapping) -> None:
    for key, close in unknown_to_itsm_keys(mapping):
        reporter.add(
            ("status", "to_itsm", key),
            f"`{key}` is not a Jira status this mapping names elsewhere: a typo never matches, so issues in "
            "that status would never move the record",
            (f"did you mean `{close}`? " if close else "")
            + "`bridge check --online` looks it up in the project's workflows",
            severity="warning",
            at_key=True,
        )


def _check_field_names(reporter: _Reporter, mapping: Mapping) -> None:
    """ITSM field names outside templates: route conditions, ``itsm:`` sources, link fields."""
    system = catalog.system_of(mapping.route.record_type, mapping.route.system)
    known = catalog.known_fields(system, mapping.route.record_type)
    if known is None:
        return
    candidates: list[tuple[PathKey, str]] = []
    for name, rule in mapping.fields.items():
        if rule.itsm is not None:
            candidates.append((("fields", name, "itsm"), rule.itsm))
    links = mapping.links
    for key in ("itsm_key_field", "itsm_url_field", "link_existing"):
        value = getattr(links, key)
        if value is not None:
            candidates.append((("links", key), value))
    for path, field_name in _condition_field_paths(mapping.route.where, ("route", "where")):
        candidates.append((path, field_name))
    for path, name in candidates:
        if name in known or catalog.is_custom_field(system, name) or catalog.is_dot_walk(system, name, known):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
        reporter.add(
            path,
            f"`{name}` is not a known {mapping.route.record_type} field",
            (f"did you mean `{close[0]}`? " if close else "") + "if it exists on your instance, ignore this warning",
            severity="warning",
        )


def _check_conflicts_and_links(reporter: _Reporter, mapping: Mapping) -> None:
    """Settings that are valid on their own but do nothing in this mapping: almost always a slip."""
    for name in mapping.conflicts.fields:
        if name == "status" or name in mapping.fields:
            continue
        close = difflib.get_close_matches(name, list(mapping.fields), n=1, cutoff=0.6)
        reporter.add(
            ("conflicts", "fields", name),
            f"`{name}` is not a field of this mapping, so its conflict policy never applies",
            (f"did you mean `{close[0]}`? " if close else "")
            + "keys are the Jira fields under `fields:` (or `status`)",
            severity="warning",
            at_key=True,
        )
    links = mapping.links
    if links.itsm_key_field is None:
        reporter.add(
            ("links", "itsm_key_field"),
            "without a back-reference field a record that leaves the route (reassigned, priority lowered, "
            "state outside the route) is no longer found by the change search: its link freezes, and the "
            "developer's Done or comments never reach it",
            "set `itsm_key_field:` to the ITSM field that receives the Jira key (ServiceNow: correlation_id; "
            "RT: CF.{Jira Key}); linked records are found by it whatever the route says",
            severity="warning",
            at_key=True,
        )
    for key in ("linked_count_field", "linked_count_label_prefix"):
        if getattr(links, key) is not None and links.link_existing is None:
            reporter.add(
                ("links", key),
                f"`{key}` counts the records linked to an issue; without `link_existing` that is always 1",
                "set `link_existing:` to the ITSM field that may hold an existing Jira key, or remove this key",
                severity="warning",
                at_key=True,
            )


def _regex_paths(condition: Condition | None, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if condition is None:
        return
    if isinstance(condition, AllOf | AnyOf):
        word, children = ("all", condition.all) if isinstance(condition, AllOf) else ("any", condition.any)
        for i, c in enumerate(children):
            yield from _regex_paths(c, (*path, word, i))
    elif isinstance(condition, NotOf):
        yield from _regex_paths(condition.not_, (*path, "not"))
    elif condition.operator == "matches":
        yield (*path, "matches"), condition.operand


def _check_patterns(reporter: _Reporter, mapping: Mapping) -> None:
    """Warn on nested quantifiers: the shape that backtracks exponentially on a crafted value."""
    candidates = [*_regex_paths(mapping.route.where, ("route", "where"))]
    candidates += [(("comments", "skip", i), pattern) for i, pattern in enumerate(mapping.comments.skip)]
    for way in ("to_itsm", "to_jira"):
        routes = getattr(mapping.comments.rules, way)
        candidates += [(("comments", "rules", way, i, "match"), r.match) for i, r in enumerate(routes)]
    for path, pattern in candidates:
        for nested in patterns.nested_quantifiers(pattern):
            reporter.add(
                path,
                f"the regular expression repeats a group that itself repeats ({nested.group} at position "
                f"{nested.offset}): on some text it takes exponential time",
                f"each search stops after {patterns.timeout_ms():g} ms (the rule is then not applied and the error "
                "list says so); rewrite without the nested repeat, e.g. `(\\w+\\s?)*` as `[\\w\\s]*`, or make "
                "the group atomic `(?>…)`",
                severity="warning",
            )


def _condition_field_paths(condition: Condition | None, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if condition is None:
        return
    if isinstance(condition, AllOf):
        for i, c in enumerate(condition.all):
            yield from _condition_field_paths(c, (*path, "all", i))
    elif isinstance(condition, AnyOf):
        for i, c in enumerate(condition.any):
            yield from _condition_field_paths(c, (*path, "any", i))
    elif isinstance(condition, NotOf):
        yield from _condition_field_paths(condition.not_, (*path, "not"))
    else:
        yield (*path, "field"), condition.field


def check_mapping(mapping: Mapping, marks: Marks, file: str) -> list[MappingProblem]:
    """Every semantic problem of one schema-valid mapping."""
    reporter = _Reporter(marks, file)
    system_known = _check_record_type(reporter, mapping)
    for path, source, place in templates(mapping):
        _check_template(reporter, mapping, path, source, place, fields_known=system_known)
    _check_summary(reporter, mapping)
    _check_to_itsm_keys(reporter, mapping)
    _check_conflicts_and_links(reporter, mapping)
    _check_patterns(reporter, mapping)
    if system_known:
        _check_status(reporter, mapping)
        _check_comments(reporter, mapping)
        _check_field_names(reporter, mapping)
    return reporter.problems


_REQUIRED_KEYS = frozenset({"name", "route", "target"})
_MAX_PRUNES = 50


def _prune_path(loc: tuple[str | int, ...]) -> PathKey | None:
    """The part of the document to drop so the rest validates: the one rule, status entry or section
    an error lies in (never a required key, whose absence would only be another error)."""
    if not loc or not isinstance(loc[0], str) or loc[0] in _REQUIRED_KEYS:
        return None
    if loc[0] == "fields" and len(loc) >= 2:
        return loc[:2]
    if loc[0] == "status" and len(loc) >= 3:
        return loc[:3]
    return loc[:1]


def _drop(data: dict[str, Any], path: PathKey) -> bool:
    parent: Any = data
    for key in path[:-1]:
        if not isinstance(parent, dict) or key not in parent:
            return False
        parent = parent[key]
    if not isinstance(parent, dict) or path[-1] not in parent:
        return False
    del parent[path[-1]]
    return True


def _under(problem_path: str, dropped: list[PathKey]) -> bool:
    from bridge.mapping.loader import dotted

    return any(problem_path == dotted(p) or problem_path.startswith((dotted(p) + ".", dotted(p) + "["))
               for p in dropped)


def check_despite_schema_errors(data: Any, error: Any, marks: Marks, file: str) -> list[MappingProblem]:
    """The semantic problems of a file that failed the schema, so one typo does not hide the rest.

    The parts the schema refused are dropped (one field rule, one status entry, or a whole optional
    section) until the rest validates; problems about dropped parts, or that a dropped part could have
    avoided (a missing summary rule, default comment channels), are left out: the schema errors cover them.
    """
    import copy

    from pydantic import ValidationError

    if not isinstance(data, dict):
        return []
    trial = copy.deepcopy(data)
    dropped: list[PathKey] = []
    for _ in range(_MAX_PRUNES):
        paths = [_prune_path(tuple(e["loc"])) for e in error.errors()]
        if any(p is None for p in paths):
            return []
        if not any(_drop(trial, p) for p in paths if p is not None):
            return []
        dropped.extend(p for p in paths if p is not None)
        try:
            mapping = Mapping.model_validate(trial)
        except ValidationError as exc:
            error = exc
            continue
        break
    else:
        return []
    touched = {p[0] for p in dropped}
    problems = []
    for problem in check_mapping(mapping, marks, file):
        if _under(problem.path, dropped):
            continue
        if problem.message.startswith("no `summary` rule") and "fields" in touched:
            continue
        if problem.path.startswith("comments") and "comments" in touched:
            continue
        problems.append(problem)
    return problems


# ------------------------------------------------------------------------------------- across files
