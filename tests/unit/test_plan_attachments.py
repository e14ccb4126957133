"""The pure attachment planner: direction, patterns, size, Jira's 2,000 per issue, stored pairs, own files."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.core.attachments import Attachment, AttachmentPair, CopyAttachment, NoteAttachment
from bridge.model import Ref, Side
from bridge.sync.plan_attachments import plan_attachments
from tests.fixtures.engine import mapping_spec

REC = Ref(Side.ITSM, "incident", "sys1", "INC1")
ISS = Ref(Side.JIRA, "issue", "10001", "OPS-1")
T = datetime(2026, 12, 3, tzinfo=UTC)


def file(fid: str, name: str, size: int | None = 10, mime: str = "text/plain", parent: str = "sys1",
         **kw: object) -> Attachment:
    return Attachment(fid, parent, name, size, mime, T, **kw)  # type: ignore[arg-type]


def plan(rules: dict[str, object] | None, record_files: list[Attachment], issue_files: list[Attachment],
         pairs: tuple[AttachmentPair, ...] = ()) -> list[object]:
    spec = mapping_spec(attachments=rules) if rules is not None else mapping_spec()
    return list(plan_attachments(spec, 1, ISS, issue_files, [(REC, record_files)], pairs))


def test_without_the_section_nothing_is_copied() -> None:
    assert plan(None, [file("a", "x.log")], [file("j", "y.png", parent="10001")]) == []


def test_both_ways_by_default_and_one_way_when_asked() -> None:
    both = plan({}, [file("a", "x.log")], [file("j", "y.png", parent="10001")])
    assert [(type(a).__name__, a.target.key) for a in both] == [  # type: ignore[attr-defined]
        ("CopyAttachment", "OPS-1"), ("CopyAttachment", "INC1")]
    only = plan({"direction": "to_jira"}, [file("a", "x.log")], [file("j", "y.png", parent="10001")])
    assert [a.target.key for a in only] == ["OPS-1"]  # type: ignore[attr-defined]
    assert plan({"direction": "none"}, [file("a", "x.log")], []) == []


def test_patterns_match_names_and_mime_types_and_deny_wins() -> None:
    files = [file("a", "x.log"), file("b", "shot.PNG", mime="image/png"), file("c", "setup.exe", mime="image/png")]
    chosen = plan({"allow": ["*.log", "image/*"], "deny": ["*.exe"], "direction": "to_jira"}, files, [])
    assert [a.filename for a in chosen] == ["x.log", "shot.PNG"]  # type: ignore[attr-defined]


def test_a_file_over_the_limit_gets_a_note_naming_it_and_its_size() -> None:
    [note] = plan({"max_size": 1024, "direction": "to_jira"}, [file("a", "core.dump", size=3 * 1024 * 1024)], [])
    assert isinstance(note, NoteAttachment)
    assert "core.dump (3.0 MB)" in note.body
    assert "1.0 KB" in note.body
    assert plan({"max_size": 1024, "on_oversize": "skip", "direction": "to_jira"},
                [file("a", "core.dump", size=5000)], []) == []


def test_known_files_and_bridges_own_are_never_planned() -> None:
    pairs = (AttachmentPair(Side.ITSM, "a", "sys1", "10001", "j1", "h", "x.log"),)
    issue_files = [file("j1", "x.log", parent="10001")]
    assert plan({}, [file("a", "x.log"), file("b", "mine.log", by_bridge=True)], issue_files, pairs) == []


def test_jiras_limit_of_2000_files_per_issue() -> None:
    full = [file(f"j{i}", f"f{i}.txt", parent="10001") for i in range(1999)]
    pairs = tuple(AttachmentPair(Side.JIRA, f"j{i}", "10001", "sys1", f"r{i}", "h", f"f{i}.txt") for i in range(1999))
    actions = plan({"direction": "to_jira"}, [file("a", "one.log"), file("b", "two.log")], full, pairs)
    assert isinstance(actions[0], CopyAttachment)
    assert isinstance(actions[1], NoteAttachment)
    assert "2,000" in actions[1].body
