"""The same vendor cases through every place that models the vendor: they must agree.

bridge knows ServiceNow in four places: the mapping checks (``bridge check``), the real connector, the
in-memory fake the engine tests run against, and the sandbox the connector tests run against. Each reads
its facts from :mod:`bridge.vendors`; these table-driven cases prove that the behaviour they derive from
those facts is the same: which state writes are refused, how values are encoded, which comment
channels exist and who sees them, and which record types are ServiceNow's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from bridge.connectors import jsm as jsm_connector
from bridge.connectors import rt as rt_connector
from bridge.connectors import rt_parse
from bridge.connectors.memory import MemoryItsm
from bridge.connectors.servicenow import JOURNAL_FIELDS, to_servicenow
from bridge.errors import PermanentError
from bridge.mapping import catalog
from bridge.mapping.loader import load_mapping_text
from bridge.model import Marker, Ref, Side
from bridge.sandbox import servicenow_schema
from bridge.sandbox.servicenow import CHANGE_CLOSE_CODES, _as_text
from bridge.vendors import jira, jsm, rt, servicenow
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox


@pytest.fixture(scope="module")
def snow() -> Iterator[Snow]:
    with running_sandbox() as running:
        yield running


# ------------------------------------------------------------------------------ state writes


@dataclass(frozen=True)
class StateCase:
    name: str
    table: str
    state: str
    fields: dict[str, Any]
    refused: tuple[str, ...]  # the fields the vendor demands that the write lacks; () when it is accepted


STATE_CASES = [
    StateCase("resolve an incident without close_code", "incident", "6", {"close_notes": "done"}, ("close_code",)),
    StateCase("resolve an incident with close fields", "incident", "6",
              {"close_code": "Solved (Permanently)", "close_notes": "Fixed"}, ()),
    StateCase("close an incident without close fields", "incident", "7", {}, ("close_code", "close_notes")),
    StateCase("put an incident on hold without a reason", "incident", "3", {}, ("hold_reason",)),
    StateCase("put an incident on hold with a reason", "incident", "3", {"hold_reason": 1}, ()),
    StateCase("move an incident to In Progress", "incident", "2", {}, ()),
    StateCase("close a change without close_code", "change_request", "3", {"close_notes": "went well"},
              ("close_code",)),
    StateCase("close a change with close fields", "change_request", "3",
              {"close_code": "successful", "close_notes": "went well"}, ()),
]
START = {"incident": "1", "change_request": "0"}  # a change closes from Review (its model allows only that)


def _mapping_problems(table: str, state: str, fields: dict[str, Any]) -> list[str]:
    """Errors ``bridge check`` reports for a mapping writing ``state`` + ``fields`` on Done."""
    states = catalog.state_table("servicenow", table)
    assert states is not None
    document = {
        "name": "parity",
        "route": {"record_type": table},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "fields": {"summary": {"template": "{{ number }}"}},
        "status": {
            "to_jira": {s: "Done" for s in states.names},
            "to_itsm": {"Done": {"state": state, "fields": fields}},
        },
    }
    result = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "parity.yaml")
    return [f"{p.message}" for p in result.problems if p.severity == "error"]


def _memory_refusal(case: StateCase) -> str | None:
    itsm = MemoryItsm(record_types=tuple(START))
    ref = itsm.create_record(case.table, {"short_description": "parity"}, state=START[case.table])
    try:
        itsm.set_status(ref, case.state, case.fields)
    except PermanentError as exc:
        return f"{exc.status} {exc.vendor_message}"
    assert itsm.record(ref).status == case.state
    return None


def _sandbox_refusal(snow: Snow, case: StateCase) -> str | None:
    if case.table == "incident":
        made = snow.app.create_incident("parity")
    else:
        made = snow.app.create_change("parity")
        for step in ("-4", "-3", "-2", "-1", "0"):
            snow.app.set_state("change_request", made["sys_id"], step)
    ref = Ref(Side.ITSM, case.table, made["sys_id"], made["number"])
    try:
        make_connector(snow.url).set_status(ref, case.state, case.fields)
    except PermanentError as exc:
        return f"{exc.status} {exc}"
    assert snow.app.record(case.table, made["sys_id"])["state"] == case.state
    return None


@pytest.mark.parametrize("case", STATE_CASES, ids=[c.name for c in STATE_CASES])
def test_state_writes_are_refused_alike(snow: Snow, case: StateCase) -> None:
    assert servicenow.missing_for_state(case.table, case.state, {k: _as_text(v) for k, v in case.fields.items()}) \
        == list(case.refused)

    errors = _mapping_problems(case.table, case.state, case.fields)
    memory = _memory_refusal(case)
    sandbox = _sandbox_refusal(snow, case)
    if not case.refused:
        assert (errors, memory, sandbox) == ([], None, None)
        return
    assert errors, "bridge check lets the write through"
    assert all(f"`{f}`" in errors[0] for f in case.refused), errors
    assert memory is not None, "the memory fake accepts the write"
    assert memory.startswith("403 ")
    assert all(f in memory for f in case.refused), memory
    assert sandbox is not None, "the sandbox accepts the write"
    assert sandbox.startswith("403 ")
    assert "Data Policy Exception" in sandbox
    for field in case.refused:  # the instance names the column label, not the field
        assert servicenow.FIELD_LABELS[(case.table, field)] in sandbox


def test_every_state_the_checks_know_is_a_choice_of_the_sandbox() -> None:
    for table, states in servicenow.STATES.items():
        choices = dict(servicenow_schema.CHOICES[(table, "state")])
        assert choices == states.names
        assert catalog.state_table("servicenow", table) is states
    assert dict(servicenow_schema.CHOICES[("incident", "hold_reason")]) == dict(servicenow.HOLD_REASONS)
    assert [v for v, _ in servicenow_schema.CHOICES[("incident", "close_code")]] == list(
        servicenow.INCIDENT_CLOSE_CODES
    )
    assert CHANGE_CLOSE_CODES == servicenow.CHANGE_CLOSE_CODES
    assert MemoryItsm().back_reference_field == servicenow.BACK_REFERENCE_FIELD


# ------------------------------------------------------------------------------ value encoding


ENCODING_CASES = [
    ("write 3.0 to a number field", "priority", 3.0, "3"),
    ("write an int to a number field", "priority", 2, "2"),
    ("write a fraction to a text field", "short_description", 2.5, "2.5"),
    ("write true to a text field", "short_description", True, "true"),
    ("write a list to a text field", "short_description", ("a", "b"), "a,b"),
    ("write nothing", "description", None, ""),
]


@pytest.mark.parametrize(("field", "value", "stored"), [c[1:] for c in ENCODING_CASES],
                         ids=[c[0] for c in ENCODING_CASES])
def test_values_are_encoded_alike(snow: Snow, field: str, value: Any, stored: str) -> None:
    assert servicenow.encode(value) == to_servicenow(value) == _as_text(value) == stored

    itsm = MemoryItsm()
    ref = itsm.create_record("incident", {"short_description": "parity", "description": "x"})
    itsm.update_fields(ref, {field: value})
    assert itsm.record(ref).fields[field] == stored

    made = snow.app.create_incident("parity", description="x")
    make_connector(snow.url).update_fields(Ref(Side.ITSM, "incident", made["sys_id"], made["number"]), {field: value})
    assert snow.app.record("incident", made["sys_id"])[field] == stored


# ------------------------------------------------------------------------------ comment channels


@pytest.mark.parametrize("journal", servicenow.JOURNALS, ids=[j.name for j in servicenow.JOURNALS])
def test_journal_visibility_agrees(snow: Snow, journal: Any) -> None:
    internal = not journal.customer_visible
    assert servicenow.journal_is_internal(journal.name) is internal
    marker = Marker(Side.JIRA, f"c-{journal.name}")

    itsm = MemoryItsm()
    ref = itsm.create_record("incident", {"short_description": "parity"})
    assert itsm.add_comment(ref, "hello", channel=journal.name, marker=marker).internal is internal
    assert itsm.comment(ref, "person", channel=journal.name).internal is internal

    made = snow.app.create_incident("parity")
    snow_ref = Ref(Side.ITSM, "incident", made["sys_id"], made["number"])
    connector = make_connector(snow.url)
    written = connector.add_comment(snow_ref, "hello", channel=journal.name, marker=marker)
    assert written.internal is internal
    snow.app.add_journal("incident", made["sys_id"], journal.name, "a person writes")
    read = connector.comments_since([snow_ref], datetime(2000, 1, 1, tzinfo=UTC))[snow_ref.id]
    assert {c.internal for c in read} == {internal}

    assert _comment_errors(journal.name) == []


def test_an_unknown_channel_is_refused_everywhere(snow: Snow) -> None:
    channel = "internal"  # JSM's name, not a ServiceNow journal
    assert not servicenow.is_journal(channel)
    marker = Marker(Side.JIRA, "c-unknown")
    itsm = MemoryItsm()
    ref = itsm.create_record("incident", {"short_description": "parity"})
    with pytest.raises(PermanentError):
        itsm.add_comment(ref, "hello", channel=channel, marker=marker)
    made = snow.app.create_incident("parity")
    with pytest.raises(PermanentError):
        make_connector(snow.url).add_comment(Ref(Side.ITSM, "incident", made["sys_id"], made["number"]), "hello",
                                             channel=channel, marker=marker)
    with pytest.raises(ValueError, match="journal"):
        snow.app.add_journal("incident", made["sys_id"], channel, "hello")
    assert _comment_errors(channel)


def _comment_errors(channel: str) -> list[str]:
    document = {
        "name": "parity",
        "route": {"record_type": "incident"},
        "target": {"project": "DEMO", "issue_type": "Bug"},
        "fields": {"summary": {"template": "{{ number }}"}},
        "comments": {"direction": "both", "to_itsm_channel": channel, "from_itsm_channels": [channel]},
    }
    result = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "parity.yaml")
    return [p.message for p in result.problems if p.severity == "error"]


def test_the_connectors_channels_are_the_vendor_facts() -> None:
    assert set(JOURNAL_FIELDS) == set(servicenow.JOURNAL_NAMES)
    assert jsm_connector.CHANNELS == jsm.CHANNEL_NAMES
    assert jsm_connector.INTERNAL == jsm.DEFAULT_CHANNEL
    assert jsm.channel_is_internal(jsm_connector.INTERNAL)
    assert not jsm.channel_is_internal(jsm_connector.PUBLIC)
    assert jsm_connector.PUBLIC_PROPERTY == jsm.PUBLIC_PROPERTY
    # RT: `comment` stays with staff, `correspond` reaches the requestors (rt.py keeps its own copy for now)
    assert set(rt_connector.CHANNELS) == set(rt.CHANNEL_NAMES)
    assert rt_connector.COMMENT_TYPES == rt.TRANSACTION_CHANNELS
    assert rt.channel_is_internal("comment")
    assert not rt.channel_is_internal("correspond")
    assert rt_parse.NEVER == rt.NEVER


# ------------------------------------------------------------------------------ record types


@pytest.mark.parametrize("table", sorted(servicenow.TABLES))
def test_every_servicenow_table_routes_to_servicenow(table: str) -> None:
    """A route naming a ServiceNow table without ``route.system`` talks to ServiceNow (it once went to RT)."""
    assert catalog.system_of(table, None) == "servicenow"
    assert catalog.system_of(table, "rt") == "rt"  # a declared system always wins


def test_unknown_record_types(snow: Snow) -> None:
    """A queue name is RT's; a ServiceNow table the sandbox lacks is refused by the fake's and the
    sandbox's doctor checks alike, and the checks claim no states for it."""
    assert catalog.system_of("General", None) == "rt"
    assert catalog.state_table("servicenow", "sc_task") is None
    assert catalog.known_fields("servicenow", "sc_task") is None
    assert _mapping_problems_for_unknown_table("sc_task") == []

    spec = load_mapping_text(yaml.safe_dump({
        "name": "parity", "route": {"record_type": "u_nonexistent", "system": "servicenow"},
        "target": {"project": "DEMO", "issue_type": "Bug"}, "fields": {"summary": {"template": "x"}},
    }), "p.yaml").mappings[0].mapping
    memory = [r for r in MemoryItsm().check([spec]) if not r.ok]
    sandbox = [r for r in make_connector(snow.url).check([spec]) if not r.ok]
    assert memory
    assert sandbox


def _mapping_problems_for_unknown_table(table: str) -> list[str]:
    document = {
        "name": "parity", "route": {"record_type": table},
        "target": {"project": "DEMO", "issue_type": "Bug"}, "fields": {"summary": {"template": "{{ number }}"}},
        "status": {"to_itsm": {"Done": {"state": "3"}}},
    }
    result = load_mapping_text(yaml.safe_dump(document, sort_keys=False), "parity.yaml")
    return [p.message for p in result.problems if p.severity == "error"]


# ------------------------------------------------------------------------------ limits and markup


def test_text_limits_and_markup() -> None:
    assert (jira.LIMITS.summary, jira.LIMITS.rich_text, jira.LIMITS.comment) == (255, 32767, 32767)
    assert jsm.LIMITS == jira.LIMITS
    assert rt.LIMITS.comment is None
    assert servicenow.LIMITS.comment is None
    assert (jira.markup(cloud=True), jira.markup(cloud=False)) == ("adf", "wiki")
    assert rt.MARKUP == servicenow.MARKUP == "plain"
    from bridge.connectors.memory import MAX_COMMENT_LENGTH

    assert MAX_COMMENT_LENGTH == jira.MAX_COMMENT_LENGTH
