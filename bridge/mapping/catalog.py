"""What bridge knows about ITSM record types without asking the ITSM: states and common fields.

Used by the loader to check a mapping offline (``bridge check`` without ``--online``): every state the
route can select should have a Jira status, state writes should carry what the ITSM demands, and a
template variable that is not a known field earns a "did you mean" warning. The lists are deliberately
warnings, not errors, for fields: instances add fields (``u_*`` custom fields are always accepted).
The facts themselves live in :mod:`bridge.vendors` (one home per vendor, shared with the connectors,
the fakes and the sandboxes); this module answers the loader's questions from them.
"""

from __future__ import annotations

from bridge.vendors import jsm, rt, servicenow, system_of
from bridge.vendors.facts import StateTable, System

__all__ = [
    "JSM_STATES", "KNOWN_FIELDS", "RT_FIELDS", "RT_STATES", "SERVICENOW_TABLES", "STATE_TABLES", "STATUS_FIELD",
    "StateTable", "System", "is_custom_field", "is_dot_walk", "known_fields", "state_table", "system_of",
]

SERVICENOW_TABLES = servicenow.TABLES
KNOWN_FIELDS = servicenow.KNOWN_FIELDS
RT_FIELDS = rt.FIELDS
STATE_TABLES: dict[tuple[System, str], StateTable] = {
    ("servicenow", table): states for table, states in servicenow.STATES.items()
}
RT_STATES = rt.STATES
JSM_STATES = jsm.STATES

STATUS_FIELD: dict[System, str] = {
    "servicenow": servicenow.STATE_FIELD, "rt": rt.STATE_FIELD, "jsm": jsm.STATE_FIELD,
}
"""The record field that holds the state, per system."""


def state_table(system: System, record_type: str) -> StateTable | None:
    """The known states of ``record_type``, or ``None`` when bridge does not know them (custom tables)."""
    if system == "rt":
        return RT_STATES
    if system == "jsm":
        return JSM_STATES
    return STATE_TABLES.get((system, record_type))


def known_fields(system: System, record_type: str) -> frozenset[str] | None:
    """Fields bridge knows for ``record_type``; ``None`` when it knows none (then nothing is warned about)."""
    if system == "rt":
        return RT_FIELDS
    if system == "servicenow":
        return KNOWN_FIELDS.get(record_type)
    return None


def is_dot_walk(system: System, name: str, known: frozenset[str] | set[str]) -> bool:
    """ServiceNow ``reference.field`` (``assignment_group.name``): the Table API reads through a known
    reference; the referenced table's fields are the instance's business, so any is accepted."""
    head, dot, tail = name.partition(".")
    return system == "servicenow" and bool(dot and tail) and head in known


def is_custom_field(system: System, name: str) -> bool:
    """Instance-specific fields that no list can know: ServiceNow ``u_*``, RT ``CF.*``/``CF_*``."""
    if system == "servicenow":
        return servicenow.is_custom_field(name)
    if system == "rt":
        return rt.is_custom_field(name)
    return True
