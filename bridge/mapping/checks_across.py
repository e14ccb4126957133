"""Checks across mappings and against the configured system: routes that overlap, two mappings with one
name, mappings written for another ITSM than ``itsm.kind``, no enabled mapping at all.

Split from :mod:`bridge.mapping.checks` (the checks of one mapping file), which re-exports these names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.errors import ConfigError, MappingProblem
from bridge.mapping import catalog
from bridge.mapping.schema import (
    AllOf,
    Condition,
    FieldCondition,
    Mapping,
    NotOf,
)
from bridge.mapping.transform import matches
from bridge.vendors import jsm as jsm_facts
from bridge.vendors import rt as rt_facts
from bridge.vendors import servicenow as sn_facts

if TYPE_CHECKING:
    from bridge.mapping.loader import LoadedMapping

PathKey = tuple[str | int, ...]
SYSTEM_NAMES: dict[str, str] = {
    "servicenow": sn_facts.DISPLAY_NAME, "rt": rt_facts.DISPLAY_NAME, "jsm": jsm_facts.DISPLAY_NAME,
}
_SYSTEM_NAMES = SYSTEM_NAMES


def _conjuncts(condition: Condition | None) -> list[Condition]:
    if condition is None:
        return []
    if isinstance(condition, AllOf):
        return [c for child in condition.all for c in _conjuncts(child)]
    return [condition]


def _finite_values(condition: FieldCondition) -> list[Any] | None:
    if condition.operator == "equals":
        return [condition.operand]
    if condition.operator == "in":
        return list(condition.operand)
    if condition.operator == "is_empty" and condition.operand is True:
        return [None, ""]
    return None


def _interval(condition: FieldCondition) -> tuple[float, bool, float, bool] | None:
    """(low, low inclusive, high, high inclusive) for numeric comparisons."""
    inf = float("inf")
    op, value = condition.operator, condition.operand
    return {
        "lt": (-inf, False, value, False),
        "lte": (-inf, False, value, True),
        "gt": (value, False, inf, False),
        "gte": (value, True, inf, False),
    }.get(op)


def _exclusive(a: Condition, b: Condition) -> bool:
    """Whether no record can satisfy both ``a`` and ``b`` (a sound but incomplete test)."""
    if (isinstance(a, NotOf) and a.not_ == b) or (isinstance(b, NotOf) and b.not_ == a):
        return True
    if not (isinstance(a, FieldCondition) and isinstance(b, FieldCondition)) or a.field != b.field:
        return False
    for first, second in ((a, b), (b, a)):
        values = _finite_values(first)
        if values is not None:
            return not any(matches(second, {first.field: v}) for v in values)
    if a.operator == "is_empty" and b.operator == "is_empty":
        return a.operand != b.operand
    ia, ib = _interval(a), _interval(b)
    if ia and ib:
        low, low_inc = max((ia[0], ia[1]), (ib[0], ib[1]), key=lambda x: (x[0], not x[1]))
        high, high_inc = min((ia[2], ia[3]), (ib[2], ib[3]), key=lambda x: (x[0], x[1]))
        return low > high or (low == high and not (low_inc and high_inc))
    return False


def routes_overlap(first: Mapping, second: Mapping) -> bool:
    """Whether two routes may select the same record: same record type and no condition separating them."""
    if first.route.record_type != second.route.record_type:
        return False
    if catalog.system_of(first.route.record_type, first.route.system) != catalog.system_of(
        second.route.record_type, second.route.system
    ):
        return False
    left, right = _conjuncts(first.route.where), _conjuncts(second.route.where)
    return not any(_exclusive(a, b) for a in left for b in right)


def _name_problem(loaded: LoadedMapping, message: str, hint: str, severity: str = "error") -> MappingProblem:
    mark = loaded.marks.get(("name",)) if loaded.marks is not None else None
    line, column = (mark.line, mark.column) if mark else (1, 1)
    return MappingProblem(str(loaded.path), line, column, "name", message, hint, severity)


def check_across(loaded: list[LoadedMapping]) -> list[MappingProblem]:
    """Problems between files: duplicate names (error) and overlapping enabled routes (warning)."""
    problems: list[MappingProblem] = []
    first_by_name: dict[str, LoadedMapping] = {}
    for item in loaded:
        earlier = first_by_name.get(item.mapping.name)
        if earlier is None:
            first_by_name[item.mapping.name] = item
            continue
        problems.append(
            _name_problem(
                item,
                f"mapping name `{item.mapping.name}` is already used by {earlier.path}",
                "mapping names key the state store and the cursors: give each file its own name",
            )
        )
    enabled = [m for m in loaded if m.mapping.enabled]
    for i, first in enumerate(enabled):
        for second in enabled[i + 1 :]:
            if first.mapping.name == second.mapping.name:
                continue
            if first.mapping.target.project != second.mapping.target.project:
                continue
            if routes_overlap(first.mapping, second.mapping):
                problems.append(
                    _name_problem(
                        second,
                        f"routes of `{first.mapping.name}` ({first.path}) and `{second.mapping.name}` may select the "
                        f"same {second.mapping.route.record_type} records into project {second.mapping.target.project}",
                        "add a condition that separates them (e.g. the same field with different values to each), "
                        "or disable one; otherwise one record may get two issues",
                        severity="warning",
                    )
                )
    return problems


# ------------------------------------------------------------------------------ against the settings


@dataclass(frozen=True, slots=True)
class SystemProblem:
    """A finding about a mapping as a whole against the settings (``bridge check`` prints it as is)."""

    where: str
    message: str
    hint: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}\n    hint: {self.hint}" if self.where else self.message


NO_ENABLED_MAPPING = "no enabled mapping for itsm.kind {kind}"


def check_for_system(loaded: list[LoadedMapping], itsm_kind: str) -> list[SystemProblem]:
    """Problems only the configured ITSM (``itsm.kind``) reveals: an enabled mapping written for another
    system can never run (an error), and with no enabled mapping left ``run`` and ``sync`` refuse to start
    (a warning here: disabling everything is legitimate while preparing a mapping)."""
    problems: list[SystemProblem] = []
    kind_name = _SYSTEM_NAMES.get(itsm_kind, itsm_kind)
    for item in loaded:
        spec = item.mapping
        system = catalog.system_of(spec.route.record_type, spec.route.system)
        if system == itsm_kind or not spec.enabled:
            continue
        close = (
            difflib.get_close_matches(spec.route.record_type, sorted(sn_facts.TABLES), n=1, cutoff=0.75)
            if itsm_kind == "servicenow" and spec.route.system is None else []
        )
        problems.append(SystemProblem(
            f"mapping {spec.name}",
            f"written for {_SYSTEM_NAMES[system]} but itsm.kind is {itsm_kind} ({kind_name}): it can never run",
            (f"did you mean the table `{close[0]}`? " if close else "")
            + "set `enabled: false`, fix `route.record_type`, or set `route.system` if the record type was misread",
        ))
    if not runnable(loaded, itsm_kind) and not problems:
        problems.append(SystemProblem(
            "mappings", NO_ENABLED_MAPPING.format(kind=itsm_kind) + ": `bridge run` and `bridge sync` refuse to start",
            f"set `enabled: true` in a mapping whose route is for {kind_name}", "warning",
        ))
    return problems


def require_enabled(mappings: list[Mapping], itsm_kind: str, directory: str, named: tuple[str, ...] = ()) -> None:
    """Refuse to start ``run``/``sync`` with nothing to sync: a daemon idling on zero mappings looks healthy
    to every probe while syncing nothing. Mappings named on the command line are the operator's choice."""
    if named:
        return
    if any(m.enabled and catalog.system_of(m.route.record_type, m.route.system) == itsm_kind for m in mappings):
        return
    listed = ", ".join(
        f"{m.name} ({SYSTEM_NAMES[catalog.system_of(m.route.record_type, m.route.system)]}, "
        f"{'enabled' if m.enabled else 'disabled'})" for m in mappings
    ) or "none"
    raise ConfigError(
        NO_ENABLED_MAPPING.format(kind=itsm_kind) + ": nothing to sync",
        [f"{directory}: mappings found: {listed}",
         f"set `enabled: true` in a mapping whose route is for {SYSTEM_NAMES.get(itsm_kind, itsm_kind)}"],
    )


def runnable(loaded: list[LoadedMapping], itsm_kind: str) -> list[LoadedMapping]:
    """The enabled mappings written for ``itsm_kind``: what ``run`` and ``sync`` would sync."""
    return [m for m in loaded if m.mapping.enabled
            and catalog.system_of(m.mapping.route.record_type, m.mapping.route.system) == itsm_kind]
