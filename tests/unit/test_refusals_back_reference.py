"""A refused back-reference heals: the planner writes one only at escalation or adoption, so a refusal
of it is replayed as it was once a side of the link changes (or ``bridge retry`` asks), never lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import PermanentError
from tests.fixtures.engine import World, mapping_spec

M = "incidents"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def refused() -> PermanentError:
    return PermanentError("refused", side="itsm", status=403, vendor_message="correlation_id: read only")


def test_a_refused_back_reference_is_written_once_the_record_changes(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    world.itsm.fail_next("write_back_reference", refused(), times=50)  # refused while the cause is there
    world.cycle()
    issue = world.issue_of(record)
    world.settle()
    assert not world.itsm.record(record).fields.get("correlation_id")
    [entry] = world.store.errors(M)
    with world.itsm._lock:  # an admin makes the field writable
        world.itsm._faults.pop("write_back_reference", None)

    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Printer on fire (fixed)")
    world.settle()
    assert world.itsm.record(record).fields["correlation_id"] == issue  # without bridge retry
    assert world.store.errors(M) == []
    assert world.store.error(entry.id).resolved  # type: ignore[union-attr]
    for report in world.settle():
        assert report.actions == []


def test_a_refused_back_reference_is_replayed_by_bridge_retry(world: World) -> None:
    record = world.incident("Printer on fire", state="2")
    world.itsm.fail_next("write_back_reference", refused())
    world.cycle()
    issue = world.issue_of(record)
    [entry] = world.store.errors(M)
    world.store.retry_error(entry.id)
    world.settle()
    assert world.itsm.record(record).fields["correlation_id"] == issue
