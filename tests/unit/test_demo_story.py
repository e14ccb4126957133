"""The demo's story formatter: lines from actions and outcomes, named with what the store knows."""

from __future__ import annotations

from bridge.demo.story import Line, Names, Style, describe, indent, story
from bridge.model import Ref, Side
from bridge.sync.actions import AddComment, CreateIssue, SetStatus, WriteBackReference
from bridge.sync.executor import ActionOutcome, Outcome

RECORD = Ref(Side.ITSM, "incident", "a1", "INC0010001", "https://sn/incident.do?sys_id=a1")
ISSUE = Ref(Side.JIRA, "issue", "10002", "DEMO-1", "https://jira/browse/DEMO-1")
PENDING = Ref(Side.JIRA, "issue", "pending-key:a1", "pending-key:a1")


def names() -> Names:
    return Names(
        keys={"a1": "INC0010001", "10002": "DEMO-1"},
        issue_for_record={"a1": "DEMO-1"},
        state_labels={"incident": {"2": "In Progress", "6": "Resolved"}},
        statuses={"a1": "In Progress", "DEMO-1": "Done"},
        summaries={"a1": "Users cannot log in"},
    )


def done(action: object) -> ActionOutcome:
    return ActionOutcome(action, Outcome.DONE)  # type: ignore[arg-type]


def test_create_names_the_new_issue_key_type_and_summary() -> None:
    action = CreateIssue("incident-to-bug", None, RECORD, "DEMO", "Bug", {"summary": "x"}, RECORD.token)
    assert describe(done(action), names()) == Line('INC0010001 → DEMO-1 (Bug)  "Users cannot log in"')


def test_comments_name_their_channel() -> None:
    to_itsm = AddComment("m", 1, RECORD, ISSUE, "10100", "body", "work_notes")
    to_jira = AddComment("m", 1, ISSUE, RECORD, "abc", "body", "comment")
    lines = story([done(to_itsm), done(to_jira)], names())
    assert [line.text for line in lines] == [
        "comment mirrored DEMO-1 → INC0010001 (work note)",
        "comment mirrored INC0010001 → DEMO-1 (comment)",
    ]


def test_status_lines_say_which_side_moved_and_the_close_code() -> None:
    resolve = SetStatus("m", 1, RECORD, "6", {"close_code": "Solved (Permanently)", "close_notes": "n"})
    reopen = SetStatus("m", 1, ISSUE, "In Progress")
    expected = 'DEMO-1 Done → INC0010001 Resolved (close code "Solved (Permanently)")'
    assert describe(done(resolve), names()).text == expected
    assert describe(done(reopen), names()).text == "INC0010001 In Progress → DEMO-1 In Progress"


def test_unknown_state_values_print_as_they_are() -> None:
    action = SetStatus("m", 1, RECORD, "42")
    assert describe(done(action), names()).text == "DEMO-1 Done → INC0010001 42"


def test_failures_are_told_skips_are_not() -> None:
    action = SetStatus("m", 1, PENDING, "To Do")
    failed = describe(ActionOutcome(action, Outcome.FAILED, "Workflow has no path"), names())
    assert failed is not None
    assert failed.kind == "fail"
    assert "DEMO-1" in failed.text
    assert "pending-key" not in failed.text
    assert "Workflow has no path" in failed.text
    assert describe(ActionOutcome(action, Outcome.SKIPPED), names()) is None


def test_back_references_are_details() -> None:
    to_itsm = WriteBackReference("m", 1, RECORD, ISSUE, {"correlation_id": "DEMO-1"})
    to_jira = WriteBackReference("m", 1, ISSUE, RECORD, {"url": "x"})
    assert describe(done(to_itsm), names()) == Line("INC0010001 points at DEMO-1 (correlation_id)", "detail")
    assert describe(done(to_jira), names()) == Line("DEMO-1 points at INC0010001 (remote link)", "detail")
    assert indent(Line("x", "detail")).text == "    x"
    assert indent(Line("x")).text == "  x"


def test_colours_only_when_asked() -> None:
    line = Line("INC0010001 → DEMO-1", "sync")
    assert Style(color=False).paint(line) == "INC0010001 → DEMO-1"
    painted = Style(color=True).paint(line)
    assert painted.startswith("\x1b[32m")
    assert painted.endswith("\x1b[0m")
    assert "INC0010001 → DEMO-1" in painted
