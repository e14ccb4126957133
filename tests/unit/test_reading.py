"""Chunked reading of a change search: only the changed items a cycle can use are held, the rest are
remembered by id, and a link's changes on both sides stay together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bridge.core.state import LinkState
from bridge.model import Item, Record, Ref, Side
from bridge.sync import reading
from bridge.sync.reading import read_side, whole_units

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def record(i: int) -> Item:
    return Record(ref=Ref(Side.ITSM, "incident", f"r{i}", f"INC{i}"), updated=T0 + timedelta(seconds=i),
                  version=f"v{i}", fields={})


def every_other(chunk: list[Item]) -> tuple[list[Item], dict[str, LinkState]]:
    return [i for i in chunk if int(i.ref.id[1:]) % 2 == 0], {}


def test_without_a_limit_every_changed_item_is_kept() -> None:
    read = read_side((record(i) for i in range(1200)), every_other, None)
    assert read.seen == 1200
    assert len(read.changed) == 600
    assert read.dropped == set()
    assert read.newest is not None
    assert read.newest.ref.id == "r1199"


def test_with_a_limit_the_oldest_and_newest_changed_are_held_and_the_rest_remembered() -> None:
    read = read_side((record(i) for i in range(3 * reading.CHUNK)), every_other, 10)
    ids = [i.ref.id for i in read.changed]
    assert ids[:10] == [f"r{i}" for i in range(0, 20, 2)]
    assert ids[10:] == [f"r{i}" for i in range(3 * reading.CHUNK - 20, 3 * reading.CHUNK, 2)]
    assert len(read.dropped) == 3 * reading.CHUNK // 2 - 20
    assert not read.dropped & set(ids)


def test_a_link_is_left_out_whole_when_one_of_its_items_is() -> None:
    kept, dropped = reading.SideRead(), reading.SideRead()
    item = record(1)
    kept.changed = [item]

    link = SimpleNamespace(issue=Ref(Side.JIRA, "issue", "i1", "OPS-1"), records=[item.ref])
    kept.states = {item.ref.id: SimpleNamespace(link=link)}  # type: ignore[dict-item]
    dropped.dropped = {"i1"}
    whole_units([kept, dropped])
    assert kept.changed == []
    assert kept.dropped == {item.ref.id}


def test_a_link_with_a_change_still_carried_is_left_out_whole() -> None:
    """A change an earlier cycle left out and this one does not read yet (carried, bridge/sync/carryover.py)
    holds back its link's other changes, as one left out by this read does."""
    kept = reading.SideRead()
    item = record(1)
    kept.changed = [item]
    link = SimpleNamespace(issue=Ref(Side.JIRA, "issue", "i1", "OPS-1"), records=[item.ref])
    kept.states = {item.ref.id: SimpleNamespace(link=link)}  # type: ignore[dict-item]
    whole_units([kept, reading.SideRead()], waiting={"i1"})
    assert kept.changed == []
    assert kept.dropped == {item.ref.id}
    assert item.ref.id in kept.left
