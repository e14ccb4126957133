"""The author as the carrier: a reply bridge wrote on a channel the customer reads carries no marker, yet
after the state store is lost or restored from a backup it is neither mirrored back nor written again,
when bridge's ITSM account is dedicated to it (``itsm.dedicated_account``; docs/mappings.md, "comments")."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.model import Comment, Marker, Ref, Side
from bridge.sync.adoption import MirrorIndex, same_text
from tests.fixtures.engine import World, mapping_spec

CUSTOMER = {"to_itsm_channel": "comments"}


def lose_database(world: World) -> None:
    world.store.close()
    (world.path / "bridge.sqlite3").unlink()
    world._open()


def bodies(world: World) -> tuple[list[str], list[str]]:
    [issue] = world.jira.issues()
    [record] = world.itsm.records()
    return ([c.body for c in world.jira.comments(issue.ref)], [c.body for c in world.itsm.comments(record.ref)])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(comments=CUSTOMER))
    w.itsm.dedicated_account = True
    yield w
    w.close()


def test_a_lost_store_neither_mirrors_a_customer_reply_back_nor_writes_it_again(world: World) -> None:
    record = world.incident("Portal down", state="2")
    world.settle()
    [issue] = world.jira.issues()
    world.jira.comment(issue.ref, "Please clear the browser cache.", author="Dana Developer")
    world.jira.comment(issue.ref, "thanks", author="Dana Developer")
    world.settle()
    replies = world.itsm.comments(record)
    assert [c.body for c in replies] == ["Dana Developer\nPlease clear the browser cache.", "Dana Developer\nthanks"]
    assert all(c.marker is None and c.own for c in replies)  # no marker text: the author carries it
    before = bodies(world)

    lose_database(world)
    for _ in range(3):
        world.clock.advance(minutes=1)
        report = world.cycle()
        assert "add_comment" not in report.actions_by_kind, report.actions_by_kind
    assert bodies(world) == before
    # the adopted pairs work: a new Jira comment goes once, an edit of nothing mirrors nothing back
    world.jira.comment(issue.ref, "Fixed now.", author="Dana Developer")
    world.settle()
    jira_after, itsm_after = bodies(world)
    assert jira_after == [*before[0], "Fixed now."]
    assert itsm_after == [*before[1], "Dana Developer\nFixed now."]


def test_a_restored_backup_adopts_the_replies_written_after_it(world: World, tmp_path: Path) -> None:
    world.incident("Portal down", state="2")
    world.settle()
    shutil.copy(world.path / "bridge.sqlite3", tmp_path / "backup.sqlite3")
    [issue] = world.jira.issues()
    world.clock.advance(minutes=3)
    world.jira.comment(issue.ref, "Please clear the browser cache.", author="Dana Developer")
    world.settle()
    before = bodies(world)

    world.store.close()
    shutil.copy(tmp_path / "backup.sqlite3", world.path / "bridge.sqlite3")
    world._open()
    for _ in range(3):
        world.clock.advance(minutes=1)
        report = world.cycle()
        assert "add_comment" not in report.actions_by_kind, report.actions_by_kind
    assert bodies(world) == before


def test_without_a_dedicated_account_the_documented_residual_remains(world: World) -> None:
    """The default: bridge's account may be a person's too, so its unmarked replies count as theirs."""
    world.itsm.dedicated_account = False
    record = world.incident("Portal down", state="2")
    world.settle()
    [issue] = world.jira.issues()
    world.jira.comment(issue.ref, "Please clear the browser cache.", author="Dana Developer")
    world.settle()
    assert not any(c.own for c in world.itsm.comments(record))
    lose_database(world)
    world.settle()
    jira_bodies, _ = bodies(world)
    assert len(jira_bodies) == 2  # mirrored back once: what itsm.dedicated_account closes


def test_a_human_reply_by_another_account_is_still_mirrored(world: World) -> None:
    record = world.incident("Portal down", state="2")
    world.settle()
    world.itsm.comment(record, "It works again", channel="comments", author="Carol Caller")
    world.settle()
    jira_bodies, _ = bodies(world)
    assert any("It works again" in b for b in jira_bodies)


# ----------------------------------------------------------------------------- the pure rules

def _own(item: str, cid: str, body: str, second: int) -> Comment:
    ref = Ref(Side.ITSM, "incident", item, "INC1")
    return Comment(cid, ref, "svc.bridge", body, datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC), "comments",
                   internal=False, own=True)


def test_same_text_needs_the_whole_body_after_the_attribution() -> None:
    assert same_text("thanks", "Dana Developer\nthanks")
    assert same_text("thanks", "thanks")  # an empty customer_attribution
    assert same_text("a  b\n c", "Dana\na b c")  # vendors re-wrap whitespace
    assert not same_text("thanks", "Dana Developer\nno thanks, really")
    assert not same_text("", "Dana")
    long = "word " * 100
    assert same_text(long, "Dana\n" + long[:250] + "… (truncated by bridge: 250 more characters in OPS-1)")


def test_identical_origins_claim_one_unmarked_mirror_each() -> None:
    mirrors = [_own("r1", "j1", "Dana\nthanks", 1), _own("r1", "j2", "Dana\nthanks", 2)]
    index = MirrorIndex({"r1": mirrors})
    assert index.mirror_of(Side.JIRA, "100", "r1", ("thanks",)) == "j1"
    assert index.mirror_of(Side.JIRA, "100", "r1", ("thanks",)) == "j1"  # asked again: the same one
    assert index.mirror_of(Side.JIRA, "101", "r1", ("thanks",)) == "j2"
    assert index.mirror_of(Side.JIRA, "102", "r1", ("thanks",)) is None  # a third needs writing
    assert index.mirror_of(Side.JIRA, "103", "r2", ("thanks",)) is None  # only on the target item


def test_a_marker_wins_over_the_text() -> None:
    marked = Comment("n1", Ref(Side.ITSM, "incident", "r1", "INC1"), "svc.bridge", "Dana\nthanks",
                     datetime(2026, 1, 1, tzinfo=UTC), "work_notes", marker=Marker(Side.JIRA, "100"))
    index = MirrorIndex({"r1": [marked, _own("r1", "j1", "Dana\nthanks", 3)]})
    assert index.mirror_of(Side.JIRA, "100", "r1", ("thanks",)) == "n1"
    assert index.mirror_of(Side.JIRA, "101", "r1", ("thanks",)) == "j1"


def test_a_mirror_the_store_knows_is_not_claimed_by_another_origin_with_the_same_text() -> None:
    index = MirrorIndex({"r1": [_own("r1", "j1", "Dana\nok", 1), _own("r1", "j2", "Dana\nok", 2)]})
    index.stored(["j1"])  # the restored backup pairs j1 with the first "ok"
    assert index.mirror_of(Side.JIRA, "101", "r1", ("ok",)) == "j2"
