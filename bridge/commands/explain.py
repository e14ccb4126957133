"""``bridge explain REF``: everything bridge knows and would do about one record, issue or link.

The operator's question is "why?": why was this incident not escalated, why did this Bug not move,
what is bridge waiting for. The answer gathers what is otherwise spread over the route, the state
store and a dry run: the route's verdict condition by condition, the link and its mapping, the values
last synced on both sides, pending journal entries, the error list, and the action the next cycle
would plan for this item (planned now from both sides' current values, written nowhere).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_settings_for, when
from bridge.errors import BridgeError, StoreError
from bridge.exitcodes import ExitCode
from bridge.mapping.catalog import system_of
from bridge.mapping.schema import AllOf, AnyOf, Condition, FieldCondition, NotOf
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Issue, Link, Record
from bridge.store import PENDING, Store
from bridge.sync.actions import Action, CreateIssue, SetStatus, UpdateFields
from bridge.sync.engine import Engine
from bridge.sync.pending import PENDING_KEY_PREFIX, pending_issue
from bridge.sync.state import ItemState, LinkState
from bridge.vendors import jsm as jsm_facts
from bridge.vendors import rt as rt_facts
from bridge.vendors import servicenow as sn_facts

#: How a condition reads when it holds, and when it does not (so "priority 4 > 3: not selected").
_RELATIONS: dict[str, tuple[str, str]] = {
    "equals": ("=", "≠"), "not_equals": ("≠", "="), "in": ("in", "not in"), "not_in": ("not in", "in"),
    "matches": ("matches", "does not match"), "lt": ("<", "≥"), "lte": ("≤", ">"), "gt": (">", "≤"),
    "gte": ("≥", "<"),
}
#: Longest value shown in a line; longer ones (descriptions) are cut with "…".
SHOWN_VALUE_LENGTH = 60


def shown(value: Any) -> str:
    """A value as one short line: lists joined, long text cut, nothing as ``(empty)``."""
    if value is None or value == "" or value == []:
        return "(empty)"
    text = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_VALUE_LENGTH else text[: SHOWN_VALUE_LENGTH - 1] + "…"


# ------------------------------------------------------------------------------------- route verdict


def verdict_lines(condition: Condition | None, values: Mapping[str, Any], indent: str = "  ") -> Iterator[str]:
    """One line per condition of a route with the record's value and whether it holds."""
    if condition is None:
        yield f"{indent}✔ no condition: every record is selected"
        return
    ok = matches(condition, values)
    mark = "✔" if ok else "✖"
    if isinstance(condition, AllOf | AnyOf):
        group = condition.all if isinstance(condition, AllOf) else condition.any
        yield f"{indent}{mark} {'all' if isinstance(condition, AllOf) else 'any'} of:"
        for child in group:
            yield from verdict_lines(child, values, indent + "  ")
        return
    if isinstance(condition, NotOf):
        yield f"{indent}{mark} not:"
        yield from verdict_lines(condition.not_, values, indent + "  ")
        return
    assert isinstance(condition, FieldCondition)
    actual = shown(values.get(condition.field))
    if condition.operator == "is_empty":
        empty = ok == bool(condition.operand)
        relation = "is empty" if empty else "is not empty"
        yield f"{indent}{mark} {condition.field} {relation}: {'selected' if ok else 'not selected'}"
        return
    holds, fails = _RELATIONS[condition.operator]
    operand = condition.operand
    operand_text = f"[{', '.join(str(v) for v in operand)}]" if isinstance(operand, list) else str(operand)
    relation = holds if ok else fails
    yield f"{indent}{mark} {condition.field} {actual} {relation} {operand_text}: {'selected' if ok else 'not selected'}"


# ------------------------------------------------------------------------------------ actions shown


def new_issue_labels(actions: Sequence[Action]) -> dict[str, str]:
    """Placeholder keys of issues a plan creates → ``(new Bug)``: what an operator can read."""
    return {
        pending_issue(a.record).key: f"(new {a.issue_type})" for a in actions if isinstance(a, CreateIssue)
    }


def _item_state(store: Store | None, action: Action, target_id: str) -> ItemState | None:
    if store is None or action.link_id is None:
        return None
    try:
        state = store.link_state(action.link_id)
    except StoreError:
        return None
    if state is None:
        return None
    if state.issue.ref.id == target_id:
        return state.issue
    return state.record_state(target_id)


def describe_action(action: Action, store: Store | None = None, labels: Mapping[str, str] | None = None) -> str:
    """An action as a sentence with old → new where the last synced value is known, and real keys
    (``(new Bug)`` for an issue this plan creates) instead of placeholders."""
    if isinstance(action, UpdateFields):
        before = _item_state(store, action, action.target.id)
        changes = ", ".join(
            f"{name}: {shown(before.fields.get(name))} → {shown(value)}" if before and name in before.fields
            else f"{name} to {shown(value)}"
            for name, value in sorted(action.values.items())
        )
        text = f"set {changes} on {action.target.key}"
    elif isinstance(action, SetStatus):
        before = _item_state(store, action, action.target.id)
        extra = f" ({', '.join(f'{k}={shown(v)}' for k, v in sorted(action.fields.items()))})" if action.fields else ""
        if before is not None and before.status:
            text = f"move {action.target.key}: {before.status} → {action.status}{extra}"
        else:
            text = f"move {action.target.key} to {action.status}{extra}"
    else:
        text = action.describe()
    for placeholder, label in (labels or {}).items():
        text = text.replace(placeholder, label)
    while PENDING_KEY_PREFIX in text:  # an issue created by an earlier, still pending action
        start = text.index(PENDING_KEY_PREFIX)
        end = start + len(PENDING_KEY_PREFIX)
        while end < len(text) and not text[end].isspace() and text[end] not in ",:;)":
            end += 1
        text = text[:start] + "(its new issue)" + text[end:]
    return text


# -------------------------------------------------------------------------------------- explanation


@dataclass
class Explanation:
    """What ``explain`` found; :meth:`lines` renders it."""

    ref: str
    mapping: MappingSpec | None = None
    link: Link | None = None
    state: LinkState | None = None
    record: Record | None = None
    issue: Issue | None = None
    pending: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    next_actions: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out: list[str] = []
        spec = self.mapping
        if self.link is not None:
            records = ", ".join(r.key for r in self.link.records)
            out.append(f"link {self.link.id} ({self.link.mapping}): {self.link.issue.key} ↔ {records}, "
                       f"created {when(self.link.created)}")
        elif self.record is not None:
            out.append(f"{self.record.ref.key}: not linked to any issue")
        if spec is not None and self.record is not None:
            selected = matches(spec.route.where, self.record.fields)
            out.append(f"route of {spec.name} ({spec.route.record_type}): "
                       + ("selected" if selected else "not selected"))
            out.extend(verdict_lines(spec.route.where, self.record.fields))
        if self.state is not None:
            out.append("last synced values:")
            for item in (*self.state.records.values(), self.state.issue):
                values = "; ".join(f"{k} {shown(v)}" for k, v in sorted(item.fields.items()))
                status = f"status {item.status}" if item.status else "status (none yet)"
                synced = f" (as of {when(item.updated)})" if item.updated else ""
                out.append(f"  {item.ref.key}: {status}" + (f"; {values}" if values else "") + synced)
        out.append("pending actions: " + ("none" if not self.pending else ""))
        out.extend(f"  {line}" for line in self.pending)
        out.append("error list: " + ("none" if not self.errors else ""))
        out.extend(f"  {line}" for line in self.errors)
        if self.next_actions is not None:
            if self.next_actions:
                out.append("next cycle would:")
                out.extend(f"  {line}" for line in self.next_actions)
            else:
                waiting = " new: the entries above wait for an operator" if self.errors or self.pending else ""
                out.append("next cycle would: nothing" + (waiting or " (both sides agree with what was last synced)"))
        out.extend(self.notes)
        return out


def _store_parts(explanation: Explanation, store: Store, link: Link) -> None:
    explanation.state = store.link_state(link.id)
    for entry in store.journal_for_link(link.id):
        if entry.state == PENDING:
            retry = f", next attempt {when(entry.next_attempt_at)}" if entry.next_attempt_at else ""
            reason = f": {entry.last_error}" if entry.last_error else ""
            explanation.pending.append(
                f"#{entry.id} {describe_action(entry.action, store)} ({entry.attempts} attempt(s){retry}){reason}"
            )
    keys = {link.issue.key, *(r.key for r in link.records)}
    for error in store.errors(link.mapping):
        if error.link_id == link.id or error.item_ref in keys:
            explanation.errors.append(f"#{error.id} {error.kind} ×{error.count}, last {when(error.last_seen)}: "
                                      f"{error.message}  (`bridge retry {error.id}` once fixed)")


def _find_record(engine: Engine, ref: str) -> tuple[MappingSpec, Record] | None:
    """An unlinked record, looked up by its key through each mapping's route: the key as the one condition."""
    from bridge.sync.cycle import itsm_fields

    key_field = {"servicenow": sn_facts.KEY_FIELD, "rt": rt_facts.KEY_FIELD, "jsm": jsm_facts.KEY_FIELD}
    for spec in engine.enabled_mappings() or engine.mappings:
        system = system_of(spec.route.record_type, spec.route.system)
        name = key_field.get(system)
        if name is None:
            continue
        value = ref.removeprefix("RT#").removeprefix("#") if system == "rt" else ref
        probe = spec.model_copy(update={"route": spec.route.model_copy(
            update={"where": FieldCondition.model_validate({"field": name, "equals": value})})})
        try:
            for item in engine.itsm.search_changed(probe, None, itsm_fields(spec)):
                if item.ref.key == ref or item.ref.id == ref or str(item.fields.get(name)) == value:
                    assert isinstance(item, Record)
                    return spec, item
        except BridgeError:
            continue
    return None


def _next_actions(engine: Engine, spec: MappingSpec, explanation: Explanation) -> list[str]:
    """What a cycle would plan now for this item, from both sides' current values (a dry run)."""
    from bridge.sync.cycle import jira_fields, unplannable_keys
    from bridge.sync.planner import plan
    from bridge.sync.state import Changes, PlanInput, index_links

    records = [explanation.record] if explanation.record is not None else []
    issues = [explanation.issue] if explanation.issue is not None else []
    if explanation.link is not None and explanation.issue is None:
        issues = [engine.jira.get(explanation.link.issue, jira_fields(spec))]  # type: ignore[list-item]
    refs = [item.ref for item in (*records, *issues)]
    comments = engine.itsm.comments_since([r for r in refs if r.side.value == "itsm"], None)
    comments.update(engine.jira.comments_since([r for r in refs if r.side.value == "jira"], None))
    states = [explanation.state] if explanation.state is not None else []
    by_record, by_issue = index_links(states)
    the_plan = plan(spec, PlanInput(
        changes=Changes(records=records, issues=issues, comments=comments),
        links_by_record=by_record,
        links_by_issue=by_issue,
        pending_keys=unplannable_keys(engine.store, spec.name),
        jira_system=engine.jira.display_name,
        itsm_system=engine.itsm.display_name,
    ))
    labels = new_issue_labels(the_plan.actions)
    lines = [describe_action(a, engine.store, labels) for a in the_plan.actions]
    lines += [f"⚠ cannot plan {p.item.key}: {p.message}" for p in the_plan.problems]
    return lines


def explain_ref(engine: Engine, ref: str, *, online: bool = True) -> Explanation | None:
    """Everything about ``ref`` (link id, issue key or record key); ``None`` when nothing has that name."""
    from bridge.sync.cycle import itsm_fields, jira_fields

    explanation = Explanation(ref)
    store = engine.store
    link = store.find_link(ref)
    if link is not None:
        explanation.link = link
        _store_parts(explanation, store, link)
        try:
            explanation.mapping = engine.mapping(link.mapping)
        except BridgeError:
            explanation.notes.append(f"⚠ mapping {link.mapping} is not configured any more: nothing syncs this link")
            return explanation
        if not online:
            return explanation
        spec = explanation.mapping
        record_ref = next((r for r in link.records if r.key == ref or r.id == ref), link.records[0])
        try:
            explanation.record = engine.itsm.get(record_ref, itsm_fields(spec))  # type: ignore[assignment]
            explanation.issue = engine.jira.get(link.issue, jira_fields(spec))  # type: ignore[assignment]
            explanation.next_actions = _next_actions(engine, spec, explanation)
        except BridgeError as exc:
            explanation.notes.append(f"⚠ could not read both sides now ({exc}): the parts above are from the store")
        return explanation
    if not online:
        return None
    found = _find_record(engine, ref)
    if found is None:
        return None
    explanation.mapping, explanation.record = found
    for error in store.errors(explanation.mapping.name):
        if error.item_ref == explanation.record.ref.key:
            explanation.errors.append(f"#{error.id} {error.kind} ×{error.count}: {error.message}")
    if matches(explanation.mapping.route.where, explanation.record.fields):
        explanation.next_actions = _next_actions(engine, explanation.mapping, explanation)
    return explanation


def print_explanation(explanation: Explanation) -> None:
    for line in explanation.lines():
        click.echo(line)


@click.command()
@click.argument("ref")
@click.option("--offline", is_flag=True, help="Only what the state store knows (no vendor call).")
@click.pass_obj
@bridge_command
def explain(opts: GlobalOptions, ref: str, offline: bool) -> int:
    """Why bridge did or did not sync REF (record key, issue key or link id), and what it would do next.

    Prints the route's verdict per condition, the link and mapping, the values last synced on both
    sides, pending actions, error-list entries and the next planned action. Writes nothing.
    Exit codes: 0 explained; 3 nothing is called REF (or a side or the database is unreachable).
    """
    from bridge.bootstrap import build_engine
    from bridge.commands._common import load_mappings
    from bridge.store.existing import require_state

    settings = load_settings_for(opts)
    assert settings.state.url is not None  # the settings resolve a default
    require_state(settings.state.url.get_secret_value())
    engine = build_engine(settings, load_mappings(settings), factories=opts.connector_factories)
    try:
        explanation = explain_ref(engine, ref, online=not offline)
    finally:
        engine.close()
    if explanation is None:
        raise StoreError(f"nothing called {ref!r}: no link, no linked issue or record"
                         + ("" if offline else ", and no record of a configured mapping has that key"))
    print_explanation(explanation)
    return ExitCode.OK
