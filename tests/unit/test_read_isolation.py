"""Read isolation (issue 15): one record or issue that cannot be parsed goes on the error list with its
id, and the cycle goes on with the others — it used to stop the whole mapping's cycle."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
import responses

from bridge.connectors.memory import MemoryItsm
from bridge.connectors.unreadable import Unreadable, readable
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Ref, Side
from bridge.sync.cycle import plan_cycle
from tests.fixtures.engine import World, mapping_spec
from tests.unit.test_servicenow_connector import MAPPING, TABLE, connector, row

BAD_ID = "0" * 31 + "b"


class OneUnreadableRow(MemoryItsm):
    """A vendor whose every answer carries, besides the good records, one row nobody can parse."""

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        yield from super().search_changed(mapping, since, fields)
        yield readable(lambda: int("not a number"), Side.ITSM, "incident", {"value": BAD_ID}, "INC0099999")  # type: ignore[arg-type, return-value]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    broken = OneUnreadableRow(clock=w.clock)
    w.itsm = broken
    w.engine.itsm = broken
    yield w
    w.close()


def test_the_marker_names_the_row_and_the_reason() -> None:
    marker = readable(lambda: {}["sys_updated_on"], Side.ITSM, "incident", {"value": BAD_ID}, None)  # type: ignore[return-value]
    assert isinstance(marker, Unreadable)
    assert marker.ref == Ref(Side.ITSM, "incident", BAD_ID, BAD_ID)
    assert marker.reason == "KeyError: 'sys_updated_on'"


def test_an_unreadable_record_goes_on_the_error_list_and_the_others_sync(world: World) -> None:
    good = world.incident("Printer on fire", state="2")
    report = world.cycle()
    assert report.actions_by_kind.get("create_issue") == 1  # the good record went on
    assert world.issue_of(good).startswith("OPS-")
    assert report.problems == ["INC0099999: cannot be read: ValueError: invalid literal for int() with base 10: "
                               "'not a number'"]
    (entry,) = world.store.errors("incidents")
    assert entry.item_ref == "INC0099999"
    assert BAD_ID in entry.message
    assert entry.kind == "unreadable"
    world.cycle()
    assert len(world.store.errors("incidents")) == 1  # counted again, not duplicated


def test_a_dry_run_reports_the_unreadable_item_and_writes_nothing(world: World) -> None:
    world.incident("Printer on fire", state="2")
    before = world.store.dump()
    report = plan_cycle(world.engine, "incidents")
    assert any(p.startswith("INC0099999: cannot be read") for p in report.problems)
    assert world.store.dump() == before


@responses.activate
def test_the_servicenow_connector_marks_a_bad_row_and_reads_on() -> None:
    bad = row(2, sys_updated_on="yesterday-ish")
    responses.get(TABLE, json={"result": [row(1), bad, row(3)]}, headers={"X-Total-Count": "3"})
    items = list(connector().search_changed(MAPPING, None, ["short_description"]))
    assert [type(i).__name__ for i in items] == ["Record", "Unreadable", "Record"]
    assert items[1].ref.key == "INC0000002"
    assert items[1].ref.id == f"{2:032x}"
    assert isinstance(items[1], Unreadable)
    assert "ValueError" in items[1].reason
