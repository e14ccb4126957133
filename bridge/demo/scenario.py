"""The demo's steps: people act in the sandboxes, bridge runs its cycles, the story is told and checked.

Every check compares what the sandboxes hold (and what the cycles reported) with what the step should
have caused; a check that fails prints ``✖`` with what is missing and makes the demo exit non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bridge.demo.environment import DemoEnvironment
from bridge.demo.seed import SUPPORT_AGENT, Seeded, seed
from bridge.demo.story import ARROW, Line, Names, Style, indent, story
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Side
from bridge.sandbox.jira import USERS as JIRA_USERS
from bridge.sandbox.servicenow_schema import CHOICES, REFERENCE, TABLES
from bridge.sync.actions import AddComment, SetStatus
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine
from bridge.sync.executor import ActionOutcome, Outcome

DEVELOPER = "dana"
IDLE_CYCLES = 3
SIDE_NAMES = {Side.ITSM: "ServiceNow", Side.JIRA: "Jira"}


@dataclass
class Scenario:
    """Runs the story once; :attr:`failures` lists every check that did not hold."""

    env: DemoEnvironment
    engine: Engine
    write: Callable[[str], None]
    style: Style = field(default_factory=Style)
    reports: list[CycleReport] = field(default_factory=list)
    rounds: int = 0
    failures: list[str] = field(default_factory=list)
    seeded: list[Seeded] = field(default_factory=list)
    names: Names = field(default_factory=Names)

    def __post_init__(self) -> None:
        self.names.state_labels = {t: dict(CHOICES[(t, "state")]) for t in ("incident", "change_request", "problem")}

    # ---------------------------------------------------------------------------------- output

    def say(self, text: str, kind: str = "note") -> None:
        self.write(self.style.paint(Line(text, kind)))

    def heading(self, text: str) -> None:
        self.write("")
        self.say(text, "heading")

    def person(self, text: str) -> None:
        self.say(f"  {text}", "person")

    def expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.failures.append(problem)
            self.say(f"  ✖ did not happen: {problem}", "fail")
        return ok

    # ---------------------------------------------------------------------------------- state

    def mappings(self) -> list[MappingSpec]:
        return self.engine.enabled_mappings()

    def refresh(self) -> None:
        """Re-read the names the story prints: links from the store, states from the sandboxes."""
        for link in self.engine.store.links():
            self.names.keys[link.issue.id] = link.issue.key
            for record in link.records:
                self.names.issue_for_record[record.id] = link.issue.key
        for item in self.seeded:
            self.names.keys[item.sys_id] = item.number
            self.names.summaries[item.sys_id] = item.short_description
            state = self.env.snow.record(item.table, item.sys_id)["state"]
            self.names.statuses[item.sys_id] = self.names.state(item.table, state)
        for issue in self.env.jira.snapshot():
            self.names.statuses[issue["key"]] = issue["status"]

    def issue_of(self, item: Seeded) -> dict[str, object] | None:
        key = self.names.issue_for_record.get(item.sys_id)
        return next((i for i in self.env.jira.snapshot() if i["key"] == key), None) if key else None

    def field_value(self, table: str, record: dict[str, str], name: str) -> str:
        """A record's value as a route sees it, dot-walking one reference like the connector asks for."""
        head, _, tail = name.partition(".")
        kind, _, ref_table = TABLES[table].get(head, ("", "", None))
        if tail and kind == REFERENCE and ref_table:
            target = record.get(head, "")
            return self.env.snow.record(ref_table, target).get(tail, "") if target else ""
        return record.get(name, "")

    # ---------------------------------------------------------------------------------- cycles

    def cycle(self) -> list[ActionOutcome]:
        """One cycle of every enabled mapping; prints what it did; returns the outcomes."""
        outcomes: list[ActionOutcome] = []
        self.rounds += 1
        for spec in self.mappings():
            report = run_cycle(self.engine, spec)
            self.reports.append(report)
            outcomes.extend([*report.reconciled, *report.outcomes])
            for problem in report.problems:
                self.expect(False, f"{spec.name}: {problem}")
        self.refresh()
        for line in story(outcomes, self.names):
            self.write(self.style.paint(indent(line)))
        if not outcomes:
            self.say("  (no action)", "detail")
        return outcomes

    def applied(self, outcomes: Sequence[ActionOutcome], kind: type, side: Side, target_id: str) -> list[ActionOutcome]:
        return [
            o for o in outcomes
            if o.status == Outcome.DONE and isinstance(o.action, kind) and o.action.side is side
            and getattr(getattr(o.action, "target", None), "id", None) == target_id
        ]

    # ---------------------------------------------------------------------------------- the story

    def run(self) -> None:
        self.step_seed()
        hero = self.step_first_sync()
        if hero is None:
            return
        record, issue = hero
        self.step_developer_comment(record, issue)
        self.step_support_note(record, issue)
        self.step_resolve(record, issue)
        self.step_reopen(record, issue)
        self.step_problem()
        self.step_idle()

    def step_seed(self) -> None:
        self.heading("1. The service desk: Sam Support logs incidents, Chris Change raises a change, "
                     "Pat Problem records a problem")
        self.seeded = seed(self.env.snow)
        for item in self.seeded:
            raw = self.env.snow.record(item.table, item.sys_id)
            group = self.field_value(item.table, raw, "assignment_group.name")
            what = {"incident": "logged", "problem": "recorded"}.get(item.table, "raised")
            parent = self.names.keys.get(raw.get("problem_id", "")) if item.table == "incident" else None
            related = f", related to {parent}" if parent else ""
            self.person(f'{item.author} {what} {item.number} (P{raw["priority"]}, {group}{related})  '
                        f'"{item.short_description}"')
            self.names.keys[item.sys_id] = item.number
        self.refresh()

    def step_first_sync(self) -> tuple[Seeded, str] | None:
        self.heading("2. bridge syncs: the records its mappings select become Jira issues")
        self.cycle()
        hero: tuple[Seeded, str] | None = None
        for item in self.seeded:
            spec = next((m for m in self.mappings() if m.route.record_type == item.table), None)
            if spec is None:
                continue
            raw = self.env.snow.record(item.table, item.sys_id)
            fields = sorted(condition_fields(spec.route.where))
            values = {name: self.field_value(item.table, raw, name) for name in fields}
            issue = self.names.issue_for_record.get(item.sys_id)
            if matches(spec.route.where, values):
                self.expect(issue is not None, f"{item.number} is selected by {spec.name} but has no Jira issue")
                if issue and hero is None and item.table == "incident":
                    hero = (item, issue)
            else:
                why = ", ".join(f"{n.split('.')[0].replace('_', ' ')} {values[n]}" for n in fields)
                self.say(f"  {item.number} not selected by {spec.name} ({why})", "detail")
                self.expect(issue is None, f"{item.number} is not selected by {spec.name} but got {issue}")
        self.expect(hero is not None, "no incident became a Jira issue; the rest of the story needs one")
        return hero

    def step_developer_comment(self, record: Seeded, issue: str) -> None:
        developer = JIRA_USERS[DEVELOPER]["displayName"]
        self.heading(f"3. {developer} asks a question on {issue}")
        text = ("Reproduced in staging: the portal's SP metadata still carries the old signing certificate. "
                "Can you confirm whether mobile app logins fail too?")
        self.env.jira.add_comment(issue, text, as_user=DEVELOPER)
        self.person(f"{developer} commented on {issue} {ARROW} becomes a work note on {record.number}")
        outcomes = self.cycle()
        mirrored = self.applied(outcomes, AddComment, Side.ITSM, record.sys_id)
        notes = [r for r in self.env.snow.journal(record.table, record.sys_id) if text in r["value"]]
        self.expect(bool(mirrored) and bool(notes) and notes[0]["element"] == "work_notes",
                    f"{developer}'s comment on {issue} as a work note on {record.number}")

    def step_support_note(self, record: Seeded, issue: str) -> None:
        self.heading(f"4. {SUPPORT_AGENT} answers in ServiceNow")
        text = "Yes: the iOS and Android apps fail the same way since 08:40. The caller's team is on the bridge call."
        self.env.snow.add_work_note(record.table, record.sys_id, text, author=SUPPORT_AGENT)
        self.person(f"{SUPPORT_AGENT} added a work note on {record.number} {ARROW} becomes a comment on {issue}")
        outcomes = self.cycle()
        mirrored = self.applied(outcomes, AddComment, Side.JIRA, self._issue_id(issue))
        snapshot = self.issue_of(record) or {}
        found = [c for c in snapshot.get("comments", []) if text in c["body"]]  # type: ignore[attr-defined]
        self.expect(bool(mirrored) and bool(found), f"{SUPPORT_AGENT}'s work note as a comment on {issue}")

    def step_resolve(self, record: Seeded, issue: str) -> None:
        developer = JIRA_USERS[DEVELOPER]["displayName"]
        self.heading(f"5. {developer} fixes it: {issue} goes through the workflow to Done")
        steps = self.env.jira.transition(issue, "In Progress", as_user=DEVELOPER)
        self.person(f"{developer} moved {issue} to In Progress ({', '.join(steps)})")
        self.cycle()
        steps = self.env.jira.transition(issue, "Done", as_user=DEVELOPER, resolution="Done")
        self.person(f"{developer} moved {issue} to Done, resolution Done ({', '.join(steps)})")
        outcomes = self.cycle()
        resolved = self.applied(outcomes, SetStatus, Side.ITSM, record.sys_id)
        raw = self.env.snow.record(record.table, record.sys_id)
        wanted = resolved[-1].action.fields.get("close_code") if resolved else None  # type: ignore[attr-defined]
        self.expect(bool(resolved) and raw["state"] == resolved[-1].action.status  # type: ignore[attr-defined]
                    and raw["close_code"] == wanted and bool(raw["close_notes"]),
                    f"{issue} Done resolving {record.number} with its close code and notes")

    def step_reopen(self, record: Seeded, issue: str) -> None:
        self.heading(f"6. The caller still cannot log in: {SUPPORT_AGENT} reopens {record.number}")
        before = self.names.statuses.get(record.sys_id, "?")
        self.env.snow.set_state(record.table, record.sys_id, 2, author=SUPPORT_AGENT)
        self.refresh()
        now = self.names.statuses.get(record.sys_id, "?")
        self.person(f"{SUPPORT_AGENT} reopened {record.number} ({before} {ARROW} {now}) {ARROW} {issue} back to work")
        outcomes = self.cycle()
        moved = self.applied(outcomes, SetStatus, Side.JIRA, self._issue_id(issue))
        status = (self.issue_of(record) or {}).get("status")
        self.expect(bool(moved) and status not in (None, "Done"), f"{record.number} reopened reopening {issue}")

    def step_problem(self) -> None:
        problem = next((s for s in self.seeded if s.table == "problem"), None)
        if problem is None or not any(m.route.record_type == "problem" for m in self.mappings()):
            return
        issue = self.names.issue_for_record.get(problem.sys_id)
        if not self.expect(issue is not None, f"{problem.number} is selected by a problem mapping but has no issue"):
            return
        assert issue is not None
        developer = JIRA_USERS[DEVELOPER]["displayName"]
        related = [s.number for s in self.seeded
                   if s.table == "incident" and self.env.snow.record("incident", s.sys_id).get("problem_id")
                   == problem.sys_id]
        self.heading(f"7. Problem management: {problem.number} carries {len(related)} incidents; "
                     f"{developer} fixes {issue}")
        self.say(f"  {', '.join(related)} are related to {problem.number} (not escalated one by one): "
                 f"`bridge trends --online` counts them towards {issue}", "detail")
        steps = self.env.jira.transition(issue, "Done", as_user=DEVELOPER, resolution="Done")
        self.person(f"{developer} moved {issue} to Done, resolution Done ({', '.join(steps)})")
        outcomes = self.cycle()
        resolved = self.applied(outcomes, SetStatus, Side.ITSM, problem.sys_id)
        raw = self.env.snow.record("problem", problem.sys_id)
        self.expect(bool(resolved) and raw["state"] == "106" and raw["resolution_code"] == "fix_applied"
                    and bool(raw["fix_notes"]) and bool(raw["cause_notes"]),
                    f"{issue} Done resolving {problem.number} with its resolution code and notes")

    def step_idle(self) -> None:
        mappings = self.mappings()
        self.heading("8. Nobody does anything: bridge must not echo its own writes, and idling must be cheap")
        outcomes = self.cycle()
        self.say(f"  reading back its own last writes: {len(outcomes)} action(s)", "detail")
        self.expect(not outcomes, f"no echo of bridge's own writes (got {len(outcomes)} action(s))")
        promised = len(mappings)
        for n in range(1, IDLE_CYCLES + 1):
            first = len(self.reports)
            outcomes = self.cycle_quiet()
            reports = self.reports[first:]
            counts = {side: sum(r.calls_total(side) for r in reports) for side in Side}
            ok = not outcomes and all(counts[side] == promised for side in Side)
            calls = ", ".join(f"{SIDE_NAMES[side]} {counts[side]}" for side in Side)
            mark = "✔" if ok else "✖"
            self.say(
                f"  idle cycle {n}: {len(outcomes)} action(s); vendor calls: {calls} "
                f"(promised: 1 search per side per mapping = {promised} + {promised}) {mark}",
                "sync" if ok else "fail",
            )
            self.expect(ok, f"idle cycle {n} costing exactly {promised} search(es) per side and doing nothing")

    def cycle_quiet(self) -> list[ActionOutcome]:
        outcomes: list[ActionOutcome] = []
        self.rounds += 1
        for spec in self.mappings():
            report = run_cycle(self.engine, spec)
            self.reports.append(report)
            outcomes.extend([*report.reconciled, *report.outcomes])
        for line in story(outcomes, self.names):
            self.write(self.style.paint(indent(line)))
        return outcomes

    def _issue_id(self, key: str) -> str:
        return next((i for i, k in self.names.keys.items() if k == key), key)

    # ---------------------------------------------------------------------------------- summary

    def links_table(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        issues = {i["key"]: i for i in self.env.jira.snapshot()}
        by_id = {s.sys_id: s for s in self.seeded}
        for link in self.engine.store.links():
            issue = issues.get(link.issue.key, {})
            for ref in link.records:
                item = by_id.get(ref.id)
                table = item.table if item else ref.kind
                raw = self.env.snow.record(table, ref.id)
                journal = self.env.snow.journal(table, ref.id)
                rows.append((
                    ref.key,
                    link.issue.key,
                    str(issue.get("issuetype", "?")),
                    self.names.state(table, raw["state"]),
                    str(issue.get("status", "?")),
                    str(len(journal)),
                    str(len(issue.get("comments", []))),
                ))
        return rows

    def calls(self) -> dict[Side, int]:
        return {side: sum(r.calls_total(side) for r in self.reports) for side in Side}

    def mirrored_changes(self) -> int:
        return sum(1 for r in self.reports for o in [*r.reconciled, *r.outcomes] if o.status == Outcome.DONE)
