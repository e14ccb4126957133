"""Files both ways through whole cycles (memory connectors, real SQLite store): exactly once, never echoed,
over-limit files noted once, a lost store adopts copies by name and hash, temp files cleaned up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.core.actions import from_json, to_json
from bridge.core.attachments import CopyAttachment
from bridge.model import Ref, Side
from bridge.store import Store
from bridge.sync.attachment_exec import write_attachment
from tests.fixtures.engine import World, mapping_spec


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(attachments={"max_size": 1000, "deny": ["*.exe"]}))
    yield w
    w.close()


def linked(world: World) -> tuple[Ref, Ref]:
    record = world.incident("Printer on fire", state="2")
    world.cycle()
    world.settle()
    [issue] = world.jira.issues()
    return record, issue.ref


def test_files_go_both_ways_once_with_identical_bytes(world: World) -> None:
    record, issue = linked(world)
    world.itsm.attach(record, "error.log", b"boom\n" * 50, mime_type="text/plain")
    world.itsm.edit(record, short_description="Printer on fire, log attached")
    world.jira.attach(issue, "screenshot.png", b"\x89PNG" + bytes(range(200)), mime_type="image/png")
    world.clock.advance(minutes=1)
    report = world.cycle()
    assert report.actions_by_kind.get("copy_attachment") == 2
    world.settle()
    jira_files = {a.filename: data for a, data in world.jira.files(issue)}
    itsm_files = {a.filename: data for a, data in world.itsm.files(record)}
    assert sha(jira_files["error.log"]) == sha(b"boom\n" * 50)
    assert sha(itsm_files["screenshot.png"]) == sha(b"\x89PNG" + bytes(range(200)))
    assert sorted(jira_files) == ["error.log", "screenshot.png"]
    assert sorted(itsm_files) == ["error.log", "screenshot.png"]
    # nothing echoed, nothing copied twice
    for _ in range(3):
        world.clock.advance(minutes=1)
        world.itsm.edit(record, short_description=f"again {_}")
        assert "copy_attachment" not in world.cycle().actions_by_kind
    assert len(world.jira.files(issue)) == 2
    assert len(world.itsm.files(record)) == 2


def test_an_oversize_file_is_noted_once_and_never_retried(world: World) -> None:
    record, issue = linked(world)
    world.itsm.attach(record, "core.dump", b"x" * 5000)
    world.itsm.attach(record, "setup.exe", b"MZ")
    world.itsm.edit(record, short_description="dump attached")
    world.clock.advance(minutes=1)
    world.cycle()
    world.settle()
    notes = [c for c in world.jira.comments(issue) if "core.dump" in c.body]
    assert len(notes) == 1
    assert "4.9 KB" in notes[0].body
    assert "1000 bytes" in notes[0].body
    assert world.jira.files(issue) == []
    world.clock.advance(minutes=1)
    world.itsm.edit(record, short_description="dump attached again")
    world.cycle()
    world.settle()
    assert len([c for c in world.jira.comments(issue) if "core.dump" in c.body]) == 1
    # the note is bridge's own comment: it is not mirrored back to the record
    assert not [c for c in world.itsm.comments(record) if "core.dump" in c.body]


def test_a_lost_store_adopts_the_copies_by_name_and_hash(world: World) -> None:
    record, issue = linked(world)
    world.itsm.attach(record, "error.log", b"the log")
    world.itsm.edit(record, short_description="log attached")
    world.clock.advance(minutes=1)
    world.cycle()
    world.settle()
    assert len(world.jira.files(issue)) == 1
    # the state database is lost: a fresh one adopts the link, then the file by name and hash
    world.store.close()
    (world.path / "bridge.sqlite3").unlink()
    world._open()
    world.clock.advance(minutes=1)
    world.itsm.edit(record, short_description="after the restore")
    world.jira.edit(issue, summary="after the restore")
    world.cycle()
    world.settle()
    assert len(world.jira.files(issue)) == 1
    assert len(world.itsm.files(record)) == 1


def test_an_upload_over_the_vendor_limit_becomes_a_note(world: World) -> None:
    record, issue = linked(world)
    world.jira.max_upload_size = 10
    world.itsm.attach(record, "big.log", b"y" * 100)
    world.itsm.edit(record, short_description="log attached")
    world.clock.advance(minutes=1)
    world.cycle()
    world.settle()
    assert world.jira.files(issue) == []
    assert len([c for c in world.jira.comments(issue) if "big.log" in c.body and "too large" in c.body]) == 1


def test_direction_to_jira_leaves_jira_files_alone(tmp_path: Path) -> None:
    w = World(tmp_path, mapping_spec(attachments={"direction": "to_jira"}))
    try:
        record, issue = linked(w)
        w.jira.attach(issue, "design.pdf", b"%PDF")
        w.clock.advance(minutes=1)
        w.cycle()
        w.settle()
        assert w.itsm.files(record) == []
    finally:
        w.close()


def test_the_copy_action_round_trips_through_the_journal_codec() -> None:
    action = CopyAttachment("m", 3, target=Ref(Side.JIRA, "issue", "1", "OPS-1"),
                            origin=Ref(Side.ITSM, "incident", "a", "INC1"), attachment_id="f1", filename="x.log",
                            size=12, url="https://x")
    assert from_json(to_json(action)) == action


def test_store_keeps_pairs_per_link(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    assert "attachment_map" in store.dump()
    store.close()


def test_the_temporary_file_is_made_in_the_work_directory_and_removed(tmp_path: Path) -> None:
    w = World(tmp_path, mapping_spec(attachments={}))
    try:
        record, issue = linked(w)
        w.itsm.attach(record, "error.log", b"log")
        seen: list[list[Path]] = []
        w.jira.after_write = lambda op, ref: seen.append(list((tmp_path / "files").glob("*")))
        file_id = w.itsm.files(record)[0][0].id
        action = CopyAttachment(w.spec.name, 1, target=issue, origin=record, attachment_id=file_id,
                                filename="error.log", size=3)
        result = write_attachment({Side.ITSM: w.itsm, Side.JIRA: w.jira}, w.spec, action, str(tmp_path / "files"))
        assert result.attachment is not None
        assert result.attachment.sha256 == sha(b"log")
        assert [p.parent for p in seen[0]] == [tmp_path / "files"]
        assert list((tmp_path / "files").glob("*")) == []
    finally:
        w.close()


def test_a_servicenow_file_alone_is_found_although_the_record_does_not_change(world: World) -> None:
    record, issue = linked(world)
    world.clock.advance(minutes=5)
    world.itsm.attach(record, "error.log", b"only a file")  # ServiceNow: the record's sys_updated_on stays
    world.clock.advance(minutes=1)
    report = world.cycle()
    assert report.actions_by_kind == {"copy_attachment": 1}
    assert [data for _, data in world.jira.files(issue)] == [b"only a file"]
    world.clock.advance(minutes=1)
    assert world.cycle().actions == []
