"""ServiceNow field lengths (issue 16, item 4): a text bridge writes back to a ServiceNow field is cut to
the field's ``sys_dictionary.max_length`` with the mapping's notice, read once per table and cached,
and the record's cut value is what bridge remembers, so nothing echoes back to Jira."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.connectors.memory import MemoryItsm
from bridge.connectors.servicenow_dictionary import lengths_of
from bridge.core.state import Changes, PlanInput
from bridge.errors import PermanentError
from bridge.mapping.schema import FieldRule
from bridge.model import Ref, Side
from bridge.sync.actions import SetStatus
from bridge.sync.itsm_limits import itsm_limits_for, written_fields
from bridge.sync.plan_views import within_itsm_limit
from bridge.sync.planner import plan
from tests.fixtures.engine import MAPPING, World, mapping_spec
from tests.fixtures.planning import given, issue, link_state, mapping
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox

NOTICE = "… (truncated by bridge: {{ omitted }} more characters in {{ source.key }})"
ISSUE = Ref(Side.JIRA, "issue", "10001", "OPS-1", "https://jira.example/browse/OPS-1")


def test_only_text_fields_have_a_length_and_the_tables_own_row_wins() -> None:
    rows = [
        {"name": "task", "element": "description", "internal_type": "string", "max_length": "4000"},
        {"name": "incident", "element": "description", "internal_type": "string", "max_length": "8000"},
        {"name": "task", "element": "short_description", "internal_type": "string", "max_length": "160"},
        {"name": "task", "element": "state", "internal_type": "integer", "max_length": "40"},
        {"name": "task", "element": "work_notes", "internal_type": "journal_input", "max_length": "4000"},
        {"name": "task", "element": "u_odd", "internal_type": "string", "max_length": ""},
    ]
    assert lengths_of(rows, "incident") == {"description": 8000, "short_description": 160}
    assert lengths_of(list(reversed(rows)), "incident") == {"description": 8000, "short_description": 160}


def test_a_text_over_the_limit_is_cut_with_the_notice_naming_the_issue() -> None:
    rule = FieldRule(itsm="description", direction="to_itsm")
    text = "\n".join(f"line {n} of a long pasted log" for n in range(400))
    cut = within_itsm_limit(rule, text, {"description": 1000}, NOTICE, ISSUE)
    assert isinstance(cut, str)
    assert len(cut) <= 1000
    assert cut.endswith("more characters in OPS-1)")
    assert cut.splitlines()[-2].startswith("line ")  # cut at a line end
    assert within_itsm_limit(rule, "short", {"description": 1000}, NOTICE, ISSUE) == "short"
    assert within_itsm_limit(rule, text, {}, NOTICE, ISSUE) == text  # no known length: whole
    own = FieldRule(itsm="description", direction="to_itsm", max_length=500)
    assert len(str(within_itsm_limit(own, text, {"description": 1000}, NOTICE, ISSUE))) <= 500
    title = within_itsm_limit(FieldRule(itsm="short_description", direction="to_itsm"), "word " * 40,
                              {"short_description": 60}, NOTICE, ISSUE)
    assert isinstance(title, str)
    assert len(title) <= 60
    assert title.endswith("…")  # the notice would fill the column: just an ellipsis


def test_only_rules_writing_text_back_without_their_own_limit_ask_the_vendor() -> None:
    spec = mapping_spec(fields={
        **MAPPING["fields"],
        "description": {"itsm": "description", "direction": "both"},
        "environment": {"itsm": "u_env", "direction": "to_itsm", "max_length": 300},
        "labels": {"itsm": "category", "direction": "to_jira"},
    })
    assert written_fields(spec) == ["description", "priority"]


# ------------------------------------------------------------------------------- through whole cycles


class WithLengths(MemoryItsm):
    """An ITSM whose dictionary says how long each field is, counting the reads."""

    def __init__(self, lengths: dict[str, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lengths = lengths
        self.reads: list[tuple[str, tuple[str, ...]]] = []
        self.broken = False

    def field_lengths(self, table: str, fields: Sequence[str]) -> dict[str, int]:
        self.reads.append((table, tuple(fields)))
        if self.broken:
            raise PermanentError("no read on sys_dictionary", side="servicenow")
        return {f: self.lengths[f] for f in fields if f in self.lengths}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    spec = mapping_spec(fields={**MAPPING["fields"], "description": {"itsm": "description", "direction": "both"}})
    w = World(tmp_path, spec)
    itsm = WithLengths({"description": 1000}, clock=w.clock)
    w.itsm = itsm
    w.engine.itsm = itsm
    yield w
    w.close()


def test_a_long_jira_text_reaches_the_record_cut_and_never_echoes_back(world: World) -> None:
    record = world.incident("Printer on fire", state="2", description="short")
    world.cycle()
    world.settle()
    [issue] = world.jira.issues()
    long_text = "\n".join(f"{n:05d} the printer log says the fuser is too hot" for n in range(300))
    world.jira.edit(issue.ref, description=long_text)
    world.clock.advance(seconds=60)
    world.cycle()
    world.settle()
    written = str(world.itsm.record(record).fields["description"])
    assert len(written) <= 1000
    assert f"more characters in {issue.ref.key}" in written.splitlines()[-1]
    assert written.startswith("00000 the printer log")
    # nothing came back: Jira keeps the whole text, later cycles plan nothing
    assert world.jira.issue(issue.ref).fields["description"] == long_text
    for _ in range(2):
        world.clock.advance(seconds=60)
        assert world.cycle().actions == []


def test_a_dictionary_that_cannot_be_read_leaves_the_text_whole(world: World) -> None:
    record = world.incident("Printer on fire", state="2", description="short")
    world.cycle()
    world.settle()
    [issue] = world.jira.issues()
    assert isinstance(world.itsm, WithLengths)
    world.itsm.broken = True
    world.jira.edit(issue.ref, description="x " * 800)
    world.clock.advance(seconds=60)
    report = world.cycle()
    assert report.problems == []
    assert world.itsm.record(record).fields["description"] == "x " * 800


def test_limits_are_only_asked_for_when_a_rule_writes_text_back(tmp_path: Path) -> None:
    w = World(tmp_path, mapping_spec(fields={"summary": MAPPING["fields"]["summary"]}))
    try:
        itsm = WithLengths({"description": 1000}, clock=w.clock)
        w.engine.itsm = itsm
        assert itsm_limits_for(w.engine, w.spec) == {}
        assert itsm.reads == []
    finally:
        w.close()


def test_the_planner_uses_the_limits_it_is_given() -> None:
    spec = mapping_spec(fields={"description": {"itsm": "description", "direction": "to_itsm"}})
    assert plan(spec, PlanInput(changes=Changes(), itsm_limits={"description": 10})).actions == []


# ------------------------------------------------------------------------------------ against the sandbox


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


@pytest.mark.slow
def test_the_connector_reads_each_table_once_and_keeps_it_for_the_next_run(snow: Snow) -> None:
    connector = make_connector(snow.url)
    wanted = ["description", "short_description", "close_notes", "category", "state", "work_notes", "u_nope"]
    assert connector.field_lengths("incident", wanted) == {
        "description": 4000, "short_description": 160, "close_notes": 4000, "category": 40,
    }
    calls = connector.calls.total
    assert connector.field_lengths("incident", ["description"]) == {"description": 4000}
    assert connector.calls.total == calls  # answered from memory
    facts = connector.vendor_facts()
    assert facts["field_lengths"]["incident"]["description"] == 4000
    assert connector.facts_key.startswith("servicenow:")
    later = make_connector(snow.url)
    later.prime(facts)
    assert later.field_lengths("incident", ["short_description"]) == {"short_description": 160}
    assert later.calls.total == 0  # the next run answers from the cached facts alone


@pytest.mark.slow
def test_one_shot_runs_keep_the_lengths_in_the_state_store(snow: Snow, tmp_path: Path) -> None:
    from bridge.commands._vendor_cache import keep_vendor_facts, prime_vendor_facts
    from bridge.connectors.memory import MemoryJira
    from bridge.store import Store
    from bridge.sync.engine import Engine

    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        spec = mapping_spec(fields={"description": {"itsm": "description", "direction": "to_itsm"}})
        totals = []
        for _ in range(2):
            connector = make_connector(snow.url)
            engine = Engine(store, connector, MemoryJira(), [spec])
            primed = prime_vendor_facts(engine)
            assert itsm_limits_for(engine, spec) == {"description": 4000}
            keep_vendor_facts(engine, primed)
            totals.append(connector.calls.total)
        assert totals == [1, 0]  # the second run reads no dictionary
        assert store.cached(make_connector(snow.url).facts_key) is not None
    finally:
        store.close()


def test_the_close_notes_an_itsm_state_builds_are_cut_to_the_field_like_field_rules() -> None:
    """A resolve whose ``close_notes`` template copies a long Jira text lands cut with the notice, instead of
    ServiceNow silently dropping the tail."""
    spec = mapping(status={"to_itsm": {"In Progress": "2", "category:done": {"state": "6", "fields": {
        "close_code": "Solution provided", "close_notes": {"template": "{{ issue.fields['Fix notes'] }}"}}}}})
    assert "close_notes" in written_fields(spec)
    long_text = "\n".join(f"step {n}: checked the relay and the queue again" for n in range(300))
    state = link_state(1, 1, {1: ({}, "2")}, issue_fields={"Fix notes": long_text})
    done = issue(1, "Done", updated=5, **{"Fix notes": long_text})
    for limits, whole in (({"close_notes": 4000}, False), ({}, True)):
        result = plan(spec, replace(given(issues=[done], links=[state]), itsm_limits=limits))
        [move] = [a for a in result.actions if isinstance(a, SetStatus)]
        notes = move.fields["close_notes"]
        assert isinstance(notes, str)
        if whole:
            assert notes == long_text  # no known length: written whole
        else:
            assert len(notes) <= 4000
            assert "more characters in OPS-1" in notes
            assert move.fields["close_code"] == "Solution provided"
