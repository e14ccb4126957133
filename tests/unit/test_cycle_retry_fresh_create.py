"""A create Jira refused is retried with the record's data as it is NOW, not as it was when refused.

The support agent fixes the record that Jira rejected (the usual cause: a value of the record), then runs
``bridge retry``; re-sending the journaled payload would be refused again forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.errors import PermanentError
from tests.fixtures.engine import World, mapping_spec


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def refuse_create(world: World) -> None:
    refusal = PermanentError("refused", side="jira", status=400, vendor_message="summary: too long")
    world.jira.fail_next("create", refusal)


def test_a_retried_create_sends_the_fixed_record_data(world: World) -> None:
    record = world.incident("Broken " + "x" * 20)
    refuse_create(world)
    first = world.cycle()
    assert first.errors == 1
    assert world.jira.issues() == []

    world.clock.advance(seconds=30)
    world.itsm.edit(record, short_description="Broken checkout")
    [entry] = world.store.errors("incidents")
    world.store.retry_error(entry.id)
    created_with: list[object] = []
    world.jira.after_write = lambda op, ref: (
        created_with.append(world.jira.issue(ref).fields["summary"]) if (op == "create") else None
    )
    world.clock.advance(seconds=5)
    world.cycle()

    # created with the fixed summary (not created with the refused one and corrected by an update after)
    assert created_with == [f"{record.key}: Broken checkout"]
    [issue] = world.jira.issues()
    assert issue.fields["summary"] == f"{record.key}: Broken checkout"
    assert world.issue_of(record) == issue.ref.key
    assert world.store.errors("incidents") == []


def test_a_retried_create_of_an_unchanged_record_sends_the_same_data(world: World) -> None:
    record = world.incident("Refused for a reason outside the record")
    refuse_create(world)
    world.cycle()
    [entry] = world.store.errors("incidents")
    world.store.retry_error(entry.id)  # e.g. the Jira admin fixed the field configuration
    world.clock.advance(seconds=5)
    world.cycle()
    [issue] = world.jira.issues()
    assert issue.fields["summary"] == f"{record.key}: Refused for a reason outside the record"
