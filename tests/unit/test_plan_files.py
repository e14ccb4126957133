"""``bridge plan`` shows the files the next sync would copy or note (issue 16): the dry run lists them
like any other action, with name, size and direction, and one over the limit with the note it gets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.commands.plan import describe_file
from bridge.core.attachments import CopyAttachment, NoteAttachment
from bridge.model import Ref, Side
from bridge.sync.cycle import plan_cycle
from tests.fixtures.engine import World, mapping_spec

SYSTEMS = {Side.JIRA: "Jira", Side.ITSM: "ServiceNow"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(attachments={"max_size": 1000}))
    yield w
    w.close()


def linked(world: World) -> tuple[Ref, Ref]:
    record = world.incident("Printer on fire", state="2")
    world.cycle()
    world.settle()
    [issue] = world.jira.issues()
    return record, issue.ref


def test_the_dry_run_lists_copies_and_notes_and_writes_nothing(world: World) -> None:
    record, issue = linked(world)
    world.itsm.attach(record, "error.log", b"boom\n" * 50, mime_type="text/plain")
    world.itsm.attach(record, "core.dump", b"x" * 5000)
    world.jira.attach(issue, "screenshot.png", b"\x89PNG" + bytes(range(200)), mime_type="image/png")
    world.itsm.edit(record, short_description="log attached")
    world.clock.advance(minutes=1)
    before = world.store.dump()
    report = plan_cycle(world.engine, "incidents")
    assert world.store.dump() == before
    assert [a.filename for a, _ in world.jira.files(issue)] == ["screenshot.png"]  # nothing copied
    assert sorted(a.filename for a, _ in world.itsm.files(record)) == ["core.dump", "error.log"]
    files = sorted((a.kind, a.filename) for a in report.actions if isinstance(a, CopyAttachment | NoteAttachment))
    assert files == [("attachment_note", "core.dump"), ("copy_attachment", "error.log"),
                     ("copy_attachment", "screenshot.png")]
    # the sync that follows does what the plan said
    assert world.cycle().actions_by_kind.get("copy_attachment") == 2


def test_a_file_reads_with_name_size_and_direction() -> None:
    record = Ref(Side.ITSM, "incident", "a" * 32, "INC0010001")
    issue = Ref(Side.JIRA, "issue", "10001", "OPS-1")
    copy = CopyAttachment("incidents", 1, target=issue, origin=record, attachment_id="f1", filename="error.log",
                          size=1234)
    assert describe_file(copy, SYSTEMS) == "copy error.log (1.2 KB) ServiceNow → Jira: INC0010001 → OPS-1"
    back = CopyAttachment("incidents", 1, target=record, origin=issue, attachment_id="j1", filename="shot.png",
                          size=812)
    assert describe_file(back, SYSTEMS) == "copy shot.png (812 bytes) Jira → ServiceNow: OPS-1 → INC0010001"
    note = NoteAttachment("incidents", 1, target=issue, origin=record, attachment_id="f2", filename="core.dump",
                          body="bridge did not copy core.dump (4.9 KB). It stays on INC0010001.", channel="comment",
                          size=5000)
    assert describe_file(note, SYSTEMS) == (
        'core.dump (4.9 KB) ServiceNow → Jira: over the limit: note on OPS-1 '
        '"bridge did not copy core.dump (4.9 KB). It stays on INC0010001."'
    )


def test_other_actions_keep_their_description() -> None:
    from bridge.core.actions import LinkExisting

    record = Ref(Side.ITSM, "incident", "a" * 32, "INC0010001")
    assert describe_file(LinkExisting("incidents", None, record=record, issue_key="OPS-9"), SYSTEMS) is None
