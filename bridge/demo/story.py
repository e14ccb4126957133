"""Turning what a cycle did into lines a person reads: ``INC0010001 → DEMO-1 (Bug)  "…"``.

Pure: it reads actions and their outcomes (from :class:`~bridge.sync.cycle.CycleReport`) and a
:class:`Names` book the caller fills from the store and the sandboxes after the cycle (a new issue's
key is only known once it exists). Nothing here knows what the demo expected to happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bridge.model import Ref, Side
from bridge.sync.actions import (
    AddComment,
    CreateIssue,
    LinkExisting,
    ReportConflict,
    SetStatus,
    UpdateFields,
    WriteBackReference,
)
from bridge.sync.executor import ActionOutcome, Outcome

ARROW = "→"

#: how the ITSM journal channels read in a sentence
CHANNELS = {"work_notes": "work note", "comments": "customer comment"}


@dataclass
class Names:
    """What the story needs to name things: keys by item id (new issues get theirs after the create),
    the ITSM state labels, and each item's current status label (by record id, by issue key)."""

    keys: dict[str, str] = field(default_factory=dict)
    issue_for_record: dict[str, str] = field(default_factory=dict)
    state_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)

    def key(self, ref: Ref) -> str:
        return self.keys.get(ref.id, ref.key)

    def state(self, kind: str, value: str) -> str:
        return self.state_labels.get(kind, {}).get(value, value)


@dataclass(frozen=True, slots=True)
class Line:
    """One story line: ``kind`` picks the style (``sync``, ``detail``, ``person``, ``fail``, ``note``)."""

    text: str
    kind: str = "sync"


def describe(outcome: ActionOutcome, names: Names) -> Line | None:
    """The line for one outcome; ``None`` for outcomes not worth a line (already done before)."""
    action = outcome.action
    if outcome.status == Outcome.SKIPPED:
        return None
    if outcome.status != Outcome.DONE:
        why = f": {outcome.message}" if outcome.message else ""
        return Line(f"✖ {outcome.status}: {_plain(action.describe(), names, action)}{why}", "fail")
    if isinstance(action, CreateIssue):
        issue = names.issue_for_record.get(action.record.id, "?")
        summary = names.summaries.get(action.record.id, "")
        quoted = f'  "{summary}"' if summary else ""
        return Line(f"{action.record.key} {ARROW} {issue} ({action.issue_type}){quoted}")
    if isinstance(action, LinkExisting):
        return Line(f"{action.record.key} {ARROW} {action.issue_key} (linked to the existing issue)")
    if isinstance(action, AddComment):
        channel = CHANNELS.get(action.channel, "comment") if action.target.side is Side.ITSM else "comment"
        return Line(f"comment mirrored {names.key(action.origin)} {ARROW} {names.key(action.target)} ({channel})")
    if isinstance(action, SetStatus):
        return Line(_status_line(action, names))
    if isinstance(action, WriteBackReference):
        fields = ", ".join(sorted(action.values)) or "reference"
        what = "remote link" if action.target.side is Side.JIRA else fields
        return Line(f"{names.key(action.target)} points at {names.key(action.other)} ({what})", "detail")
    if isinstance(action, UpdateFields):
        return Line(f"{names.key(action.target)} updated: {', '.join(sorted(action.values))}", "detail")
    if isinstance(action, ReportConflict):
        return Line(f"conflict reported: {action.describe()}", "fail")
    return Line(action.describe(), "detail")


def _status_line(action: SetStatus, names: Names) -> str:
    """``DEMO-1 Done → INC0010001 Resolved (close code "…")`` or ``INC0010001 In Progress → DEMO-1 In Progress``:
    the side that moved, as it is now, then the side bridge moved."""
    target = names.key(action.target)
    if action.target.side is Side.ITSM:
        label = names.state(action.target.kind, action.status)
        issue = names.issue_for_record.get(action.target.id)
        source = f"{issue} {names.statuses.get(issue, '')}".rstrip() if issue else "Jira"
        close = action.fields.get("close_code")
        extra = f' (close code "{close}")' if close else ""
        return f"{source} {ARROW} {target} {label}{extra}"
    record = next((rid for rid, issue in names.issue_for_record.items() if issue == target), None)
    if record is None:
        return f"{target} {ARROW} {action.status}"
    source = f"{names.keys.get(record, record)} {names.statuses.get(record, '')}".rstrip()
    return f"{source} {ARROW} {target} {action.status}"


def _plain(text: str, names: Names, action: object) -> str:
    """``describe()`` texts name a new issue by its pending key; use the real key when it is known."""
    ref = getattr(action, "record", None) or getattr(action, "target", None)
    if isinstance(ref, Ref):
        record_id = ref.id.removeprefix("pending-key:")
        issue = names.issue_for_record.get(record_id)
        if issue:
            text = text.replace(f"pending-key:{record_id}", issue)
    return text


def story(outcomes: Iterable[ActionOutcome], names: Names) -> list[Line]:
    """The lines of one cycle's outcomes, in the order they were applied."""
    return [line for line in (describe(o, names) for o in outcomes) if line is not None]


@dataclass(frozen=True, slots=True)
class Style:
    """Colours for a terminal, nothing otherwise (a pipe, a CI log, a test)."""

    color: bool = False

    def paint(self, line: Line) -> str:
        codes = {"sync": "32", "detail": "2", "person": "36", "fail": "31", "note": "0", "heading": "1"}
        if not self.color or codes.get(line.kind, "0") == "0":
            return line.text
        return f"\x1b[{codes[line.kind]}m{line.text}\x1b[0m"


Printer = Callable[[Line], None]


def indent(line: Line) -> Line:
    """Lines of what bridge did sit under the person's action that caused them."""
    return Line(("    " if line.kind == "detail" else "  ") + line.text, line.kind)
