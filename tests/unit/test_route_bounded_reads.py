"""Reads bounded by the route, not by the instance: on a ServiceNow table of 100,000 records none of which
the routes select, a dot-walked route and an empty route each cost ONE search call per cycle.

The records are written straight into the sandbox's state (creating them through the API would take
minutes); they are a month old, in another assignment group, and carry no back-reference.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.connectors.memory import ManualClock, MemoryJira
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.sandbox import servicenow_query as eq
from bridge.store import Store
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox

pytestmark = pytest.mark.slow  # ~25 s: the sandbox filters 100,000 rows per search

RECORDS = 100_000
SEARCH = "GET /api/now/table/incident"
#: a windowed search's first page goes with the journal read as one Batch API call (docs/connectors/servicenow.md)
BATCH = "POST /api/now/v1/batch"


def spec(name: str, where: dict[str, Any]) -> MappingSpec:
    return MappingSpec.model_validate({
        "name": name,
        "route": {"record_type": "incident", "where": where},
        "target": {"project": "OPS", "issue_type": "Bug"},
        "fields": {"summary": {"template": "{{ record.key }}: {{ short_description }}"}},
    })


#: the shipped mappings' kind of route: a group by name (dot-walked) and open states
DOT_WALKED = spec("dot-walked", {"all": [{"field": "assignment_group.name", "equals": "Network"},
                                         {"field": "state", "in": [1, 2, 3]}]})
#: a route nothing in the instance matches, and one ServiceNow cannot evaluate (alternation stays local)
EMPTY = spec("empty", {"field": "assignment_group.name", "equals": "Change Advisory Board"})
LOCAL_EMPTY = spec("local-empty", {"field": "short_description", "matches": "^(Payroll|Ledger) outage"})


@pytest.fixture(scope="module")
def snow() -> Iterator[Snow]:
    with running_sandbox(clock=ManualClock()) as running:  # type: ignore[arg-type]
        template = running.app.create_incident("Printer on floor 2 jams", assignment_group="Service Desk")
        table = running.app.state["tables"]["incident"]
        old = (running.clock() - timedelta(days=30)).strftime(eq.DATE_FORMAT)
        for n in range(RECORDS):
            row = copy.copy(template)
            row.update(sys_id=f"{n:032x}", number=f"INC{n + 1_000_000}", sys_updated_on=old, sys_created_on=old,
                       short_description=f"Printer {n} jams")
            table[row["sys_id"]] = row
        del table[template["sys_id"]]
        yield running


def searches_per_cycle(snow: Snow, tmp_path: Path, mapping: MappingSpec, *, known: bool = False) -> list[int]:
    clock = snow.clock
    store = Store.open(f"sqlite:///{tmp_path / f'{mapping.name}.sqlite3'}")
    # a first cycle's full scan of 100,000 rows can outlast the usual 5 s on a loaded CI machine; a timeout
    # would be retried and counted as a second search
    itsm = make_connector(snow.url, read_timeout=120.0)
    engine = Engine(store, itsm, MemoryJira(clock=clock), [mapping], clock=clock)  # type: ignore[arg-type]
    if known:  # the mapping's first cycle (the first start's full read) is long past
        store.see_mapping(mapping.name, clock() - timedelta(days=60))  # type: ignore[operator]
    counts = []
    try:
        for _ in range(3):
            clock.advance(30)  # type: ignore[call-arg]
            report = run_cycle(engine, mapping.name)
            assert report.errors == 0
            counts.append(report.calls["itsm"].get(SEARCH, 0) + report.calls["itsm"].get(BATCH, 0))
        return counts
    finally:
        itsm.close()
        store.close()


def test_a_dot_walked_route_costs_one_search_per_cycle(snow: Snow, tmp_path: Path) -> None:
    made = snow.app.create_incident("Core switch down", assignment_group="Network")
    try:
        assert searches_per_cycle(snow, tmp_path, DOT_WALKED) == [1, 1, 1]
    finally:
        snow.app.state["tables"]["incident"].pop(made["sys_id"])


def test_an_empty_route_costs_one_search_per_cycle(snow: Snow, tmp_path: Path) -> None:
    assert searches_per_cycle(snow, tmp_path, EMPTY) == [1, 1, 1]


def test_a_known_mapping_without_a_cursor_reads_from_the_backfill_window(snow: Snow, tmp_path: Path) -> None:
    """The route cannot be compiled, so only the window keeps the read from paging through the table."""
    assert searches_per_cycle(snow, tmp_path, LOCAL_EMPTY, known=True) == [1, 1, 1]

