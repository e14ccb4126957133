"""A processed version never moves backwards: bridge's own writes, proven the only change, are not read
again as a person's change (issue 17: the echo of a new record's back-reference)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.core.state import ItemState
from bridge.model import Record, Ref, Side
from bridge.sync.watermarks import newer
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
JOURNAL = "GET /api/now/table/sys_journal_field"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def prove_writes(world: World) -> None:
    """The memory ITSM side answers as ServiceNow's PATCH does (``sys_mod_count`` in the answer): a write
    is proven the only change when the record's version is exactly one above ``before``."""

    def proven(ref: Ref, before: str) -> tuple[str, datetime] | None:
        now = world.itsm.record(ref)
        return (now.version, now.updated) if int(now.version) == int(before) + 1 else None

    world.itsm.written_version = proven  # type: ignore[method-assign]


def test_a_new_records_back_reference_is_not_read_again(world: World) -> None:
    prove_writes(world)
    record = world.incident("Printer on fire", state="2")
    first = world.cycle()
    assert first.actions_by_kind["create_issue"] == 1
    world.clock.advance(minutes=1)
    second = world.cycle()
    assert not second.actions, second.actions_by_kind
    assert JOURNAL not in second.calls["itsm"], second.calls  # bridge's own PATCH: no journal read
    assert world.itsm.record(record).back_reference == world.issue_of(record)


def test_a_person_changing_the_new_record_meanwhile_is_read(world: World) -> None:
    """Not proven (someone else wrote too): the record is read again and the change flows."""
    prove_writes(world)
    record = world.incident("Printer on fire", state="2")
    world.cycle()
    world.clock.advance(minutes=1)
    world.itsm.edit(record, short_description="Printer on fire, really")
    second = world.cycle()
    assert second.actions_by_kind.get("update_fields") == 1, second.actions_by_kind
    world.settle()
    issue = world.jira.issue(world.issue_of(record))
    assert "really" in str(issue.fields.get("summary"))


def state(version: str, updated: datetime | None) -> ItemState:
    return ItemState(Ref(Side.ITSM, "incident", "r1", "INC1"), {}, None, version, updated)


def item(version: str, updated: datetime) -> Record:
    return Record(ref=Ref(Side.ITSM, "incident", "r1", "INC1"), fields={}, status="2", updated=updated,
                  version=version)


def test_newer_compares_counted_versions_as_numbers_and_others_by_time() -> None:
    assert newer(state("10", T0), item("9", T0))  # same second, one more update
    assert not newer(state("9", T0), item("10", T0))
    assert not newer(state("9", T0), item("9", T0))
    assert not newer(state("", None), item("9", T0))
    later = T0 + timedelta(seconds=1)
    assert newer(state("2026-01-05T09:00:01.000+00:00", later), item("2026-01-05T09:00:00.000+00:00", T0))
    assert not newer(state("a", T0), item("b", T0))  # not provably later: the item's version is recorded
