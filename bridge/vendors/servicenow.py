"""ServiceNow facts bridge relies on: tables, states and their data policies, journals, value encoding.

The connector, the mapping checks, the in-memory fake and the sandbox read these instead of keeping
lists of their own, so they cannot disagree. Sources for each fact: docs/connectors/servicenow.md,
section "Vendor facts bridge relies on".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.vendors.facts import Channel, StateTable, TextLimits, channel_names, is_internal

SYSTEM = "servicenow"
DISPLAY_NAME = "ServiceNow"

TABLES = frozenset(
    {
        "incident", "change_request", "problem", "sc_req_item", "sc_task", "sc_request", "task", "incident_task",
        "change_task", "problem_task", "sn_customerservice_case",
    }
)
"""Tables a route names without ``route.system`` that are ServiceNow's (the task tables bridge may sync)."""

NUMBER_PREFIXES: dict[str, str] = {
    "incident": "INC", "change_request": "CHG", "problem": "PRB", "sc_req_item": "RITM", "sc_task": "SCTASK",
    "sc_request": "REQ", "change_task": "CTASK", "problem_task": "PTASK",
}
"""Out-of-box ``number`` prefixes (System Definition › Number Maintenance)."""

TASK_FIELDS = frozenset(
    {
        "sys_id", "number", "short_description", "description", "state", "priority", "urgency", "impact",
        "assignment_group", "assigned_to", "opened_at", "opened_by", "closed_at", "closed_by", "sys_created_on",
        "sys_created_by", "sys_updated_on", "sys_updated_by", "sys_mod_count", "correlation_id",
        "correlation_display", "close_notes", "work_notes", "comments", "active", "company", "location",
        "cmdb_ci", "business_service", "service_offering", "contact_type", "due_date", "watch_list",
        "work_notes_list", "sys_class_name", "sys_domain", "upon_approval", "upon_reject", "approval",
        "escalation", "made_sla", "knowledge", "order", "parent", "expected_start", "work_start", "work_end",
        "time_worked", "activity_due", "follow_up", "reassignment_count", "rejection_goto", "additional_assignee_list",
    }
)
"""Fields every table extending ``task`` has."""

KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "incident": TASK_FIELDS
    | {
        "caller_id", "category", "subcategory", "close_code", "hold_reason", "resolved_at", "resolved_by",
        "incident_state", "severity", "problem_id", "rfc", "caused_by", "child_incidents", "parent_incident",
        "reopen_count", "reopened_by", "reopened_time", "notify", "origin_id", "origin_table", "business_impact",
        "business_stc", "calendar_stc", "major_incident_state", "u_jira_key",
    },
    "change_request": TASK_FIELDS
    | {
        "type", "category", "close_code", "risk", "implementation_plan", "backout_plan", "test_plan",
        "justification", "start_date", "end_date", "requested_by", "change_plan", "on_hold", "on_hold_reason",
        "phase", "phase_state", "review_status", "review_comments", "scope", "cab_required", "cab_date",
        "chg_model", "conflict_status", "outside_maintenance_schedule", "production_system",
        "std_change_producer_version",
    },
    "problem": TASK_FIELDS
    | {
        "category", "subcategory", "problem_state", "resolution_code", "cause_notes", "fix_notes", "workaround",
        "known_error", "major_problem", "duplicate_of", "related_incidents", "first_reported_by_task",
        "resolved_at", "resolved_by", "reopen_count", "reopened_at", "reopened_by", "rfc", "confirmed_at",
        "confirmed_by", "fix_communicated_at", "fix_communicated_by", "workaround_applied", "u_jira_key",
    },
}
"""Common fields per table; ``u_*`` custom fields are accepted on top."""

INTEGER_FIELDS = frozenset({
    "state", "priority", "impact", "urgency", "severity", "hold_reason", "incident_state", "sys_mod_count",
    "reassignment_count", "reopen_count", "escalation", "risk", "child_incidents", "problem_state",
})
"""Task fields stored as integers (choice lists with numeric values): queries compare them as numbers."""

STATE_FIELD = "state"
KEY_FIELD = "number"
"""The field holding what people call a record (``INC0010001``)."""

INCIDENT_STATES = StateTable(
    names={"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"},
    requires={"6": ("close_code", "close_notes"), "7": ("close_code", "close_notes"), "3": ("hold_reason",)},
)
"""Resolving/closing needs ``close_code`` + ``close_notes`` in the same write, On Hold needs ``hold_reason``;
an instance enforcing this answers 403 "Data Policy Exception"."""

CHANGE_STATES = StateTable(
    names={
        "-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement", "0": "Review",
        "3": "Closed", "4": "Canceled",
    },
    requires={"3": ("close_code", "close_notes")},
)
"""Closing a change needs ``close_code`` (one of :data:`CHANGE_CLOSE_CODES`) and ``close_notes``."""

PROBLEM_STATES = StateTable(
    names={
        "101": "New", "102": "Assess", "103": "Root Cause Analysis", "104": "Fix in Progress", "106": "Resolved",
        "107": "Closed",
    },
    requires={"106": ("resolution_code",), "107": ("resolution_code",)},
    recommends={"104": ("cause_notes", "fix_notes"), "106": ("cause_notes", "fix_notes"),
                "107": ("cause_notes", "fix_notes")},
)
"""Problem management (Madrid and later): resolving or closing needs a resolution code; which notes it
needs besides depends on the code (:data:`PROBLEM_RESOLUTION_NEEDS`), so the notes of the usual
``fix_applied`` are recommended. See docs/connectors/servicenow.md, "Problem records"."""

RELATED_RECORDS: dict[str, tuple[str, str]] = {"problem": ("incident", "problem_id")}
"""Records that hang off a routed record by a reference field: ``table -> (related table, its field)``.

An incident's ``problem_id`` names the problem it is an instance of (Problem Management, "Relate an
incident to a problem"): ``bridge trends --online`` counts such incidents towards the Jira issue of the
problem they point at, so "incident → problem → Jira Bug" ranks the Bug by every incident behind it.
"""

STATES: dict[str, StateTable] = {
    "incident": INCIDENT_STATES, "change_request": CHANGE_STATES, "problem": PROBLEM_STATES,
}

FIELD_LABELS = {
    ("incident", "close_code"): "Resolution code", ("incident", "close_notes"): "Resolution notes",
    ("incident", "hold_reason"): "On hold reason", ("change_request", "close_code"): "Close code",
    ("change_request", "close_notes"): "Close notes", ("change_request", "on_hold_reason"): "On hold reason",
    ("problem", "resolution_code"): "Resolution code", ("problem", "cause_notes"): "Cause notes",
    ("problem", "fix_notes"): "Fix notes", ("problem", "close_notes"): "Close notes",
    ("problem", "duplicate_of"): "Duplicate of",
}
"""The column labels a data-policy refusal names instead of the field names."""

HOLD_REASONS = (("1", "Awaiting Caller"), ("3", "Awaiting Problem"), ("4", "Awaiting Vendor"), ("5", "Awaiting Change"))
INCIDENT_CLOSE_CODES = (
    # current out-of-box values (Tokyo and later) …
    "Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
    "Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided", "User error",
    # … and the legacy ones older instances still carry
    "Solved (Work Around)", "Solved (Permanently)", "Solved Remotely (Work Around)", "Solved Remotely (Permanently)",
    "Not Solved (Not Reproducible)", "Not Solved (Too Costly)", "Closed/Resolved by Caller",
)
CHANGE_CLOSE_CODES = ("successful", "successful_issues", "unsuccessful")
PROBLEM_RESOLUTION_CODES = (
    ("fix_applied", "Fix Applied"), ("risk_accepted", "Risk Accepted"), ("duplicate", "Duplicate"),
    ("canceled", "Canceled"),
)
PROBLEM_RESOLUTION_NEEDS: dict[str, tuple[str, ...]] = {
    "fix_applied": ("cause_notes", "fix_notes"), "risk_accepted": ("cause_notes", "close_notes"),
    "canceled": ("close_notes",), "duplicate": ("duplicate_of",),
}
"""The fields resolving/closing a problem needs besides its ``resolution_code``, per code."""

JOURNALS = (
    Channel("work_notes", customer_visible=False, label="Work notes"),
    Channel("comments", customer_visible=True, label="Additional comments"),
)
"""The journal fields: ``work_notes`` stay with agents, ``comments`` reach the caller."""
JOURNAL_NAMES = channel_names(JOURNALS)
DEFAULT_CHANNEL = "work_notes"
JOURNAL_TABLE = "sys_journal_field"

BACK_REFERENCE_FIELD = "correlation_id"
BACK_REFERENCE_URL_FIELD = "correlation_display"

LIMITS = TextLimits(summary=None, rich_text=None, comment=None)
"""ServiceNow limits text per field (``sys_dictionary.max_length``), per instance: bridge assumes none."""
MARKUP = "plain"

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

BATCH_API_PATH = "/api/now/v1/batch"
"""The Batch API: several REST requests in one call; the version segment is required (docs "Batch API")."""
BATCH_TIME_LIMIT_SECONDS = 30.0
"""The "REST Batch API request timeout" quota rule: items not reached by then come back unserviced."""
"""``sys_updated_on`` and every date with ``sysparm_display_value=false``: UTC, second precision."""


def is_table(record_type: str) -> bool:
    return record_type in TABLES


def states(table: str) -> StateTable | None:
    return STATES.get(table)


def closed_states(table: str) -> frozenset[str]:
    """States that need the close fields (resolved/closed)."""
    table_states = STATES.get(table)
    if table_states is None:
        return frozenset()
    return frozenset(s for s, f in table_states.requires.items() if "close_code" in f)


def missing_for_state(table: str, state: str, values: Mapping[str, Any]) -> list[str]:
    """The fields the data policy demands for moving ``table`` to ``state`` that ``values`` lacks."""
    table_states = STATES.get(table)
    return table_states.missing(state, values) if table_states is not None else []


def is_journal(name: str) -> bool:
    return name in JOURNAL_NAMES


def journal_is_internal(name: str) -> bool:
    return is_internal(JOURNALS, name)


def encode(value: Any) -> str:
    """A value as the Table API stores and sends it: everything is a string.

    ``None`` → ``""``, booleans lower-case, a whole float without its ``.0`` (``3.0`` → ``"3"``: the
    instance stores integers and echoes ``"3"``), a list comma-joined (a glide list), a ``{"value": …}``
    object (a reference a client echoed back) its value.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return encode(value.get("value"))
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(encode(v) for v in value)
    return str(value)


def is_custom_table(name: str) -> bool:
    """Tables an instance adds: ``u_*`` (global scope) and ``x_<vendor>_*`` (scoped applications)."""
    return name.startswith(("u_", "x_"))


def is_custom_field(name: str) -> bool:
    """Instance fields no list can know start with ``u_``."""
    return name.startswith("u_")
