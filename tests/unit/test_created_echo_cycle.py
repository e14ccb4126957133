"""A predicted create through the engine (bridge/connectors/jira/created.py, bridge/sync/executor.py): the
Jira sandbox over real HTTP, the memory ITSM, a real SQLite store, one shared clock.

The new issue's version is unknown after its create; the next cycle's change search returns it (bridge's own
remote link touched it), plans nothing from it, and records its version, so the cycle after that skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.memory import MemoryItsm
from bridge.model import Side
from bridge.store import Store
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine
from tests.fixtures.engine import mapping_spec

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()


def jira_calls(report: CycleReport) -> dict[str, int]:
    return report.calls.get("jira", {})


def test_a_predicted_create_is_settled_by_the_next_search_without_a_write(jira_env: JiraEnv, store: Store) -> None:
    spec = mapping_spec()
    jira = jira_env.connector()
    itsm = MemoryItsm(clock=jira_env.clock)
    engine = Engine(store, itsm, jira, [spec], clock=jira_env.clock)
    first = itsm.create_record("incident", {"category": "software", "short_description": "Printer down",
                                            "priority": "2"})
    run_cycle(engine, spec.name)  # the first create of OPS/Bug is read back: its initial status is learnt
    jira_env.clock.advance(5)
    assert run_cycle(engine, spec.name).actions == []  # its echo; the Jira side now has a cursor
    jira_env.clock.advance(5)
    itsm.create_record("incident", {"category": "software", "short_description": "Toner low", "priority": "3"})
    jira_env.clock.advance(5)
    created = run_cycle(engine, spec.name)
    assert created.actions_by_kind.get("create_issue") == 1
    assert not any(k.startswith("GET ") and "/issue/{id}" in k for k in jira_calls(created))  # no read back
    # the marker check before the create is answered from the cycle's change search: one search, no other
    assert sum(n for k, n in jira_calls(created).items() if "/search" in k) == 1
    link = store.link_for_record(spec.name, itsm.records()[-1].ref.id)
    assert link is not None
    state = store.load_link_states(spec.name, [], [link.issue.id])[0]
    assert state.issue.status == "To Do"
    assert state.issue.version == ""
    assert state.issue.updated is None  # unknown: the next change search records both
    jira_env.clock.advance(5)
    echo = run_cycle(engine, spec.name)  # the search returns the new issue: nothing to write
    assert echo.actions == []
    state = store.load_link_states(spec.name, [], [link.issue.id])[0]
    assert state.issue.version  # its version is recorded as processed
    jira_env.clock.advance(5)
    assert run_cycle(engine, spec.name).actions == []
    assert itsm.record(first).fields.get("priority") == "2"
    assert {r.ref.side for r in itsm.records()} == {Side.ITSM}


def test_an_unpredicted_normalisation_is_read_and_not_written_back(jira_env: JiraEnv, store: Store) -> None:
    """The sandbox stores summaries trimmed (``trim_summary``); a record whose summary would be trimmed
    makes bridge read the new issue, and no cycle after writes anything to either side."""
    jira_env.sandbox.configure(trim_summary=True)
    spec = mapping_spec()
    jira = jira_env.connector()
    itsm = MemoryItsm(clock=jira_env.clock)
    engine = Engine(store, itsm, jira, [spec], clock=jira_env.clock)
    itsm.create_record("incident", {"category": "software", "short_description": "Printer down", "priority": "2"})
    run_cycle(engine, spec.name)
    jira_env.clock.advance(5)
    itsm.create_record("incident", {"category": "software", "short_description": "Toner low  ", "priority": "3"})
    created = run_cycle(engine, spec.name)
    assert created.actions_by_kind.get("create_issue") == 1
    assert any(k.startswith("GET ") and k.endswith("/issue/{id}") for k in jira_calls(created))  # read back
    assert [i["summary"] for i in jira_env.sandbox.snapshot()][-1].endswith("Toner low")
    for _ in range(2):
        jira_env.clock.advance(5)
        after = run_cycle(engine, spec.name)
        assert after.actions == [], after.actions_by_kind
