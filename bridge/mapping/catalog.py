"""What bridge knows about ITSM record types without asking the ITSM: states and common fields.

Used by the loader to check a mapping offline (``bridge check`` without ``--online``): every state the
route can select should have a Jira status, state writes should carry what the ITSM demands, and a
template variable that is not a known field earns a "did you mean" warning. The lists are deliberately
warnings, not errors, for fields: instances add fields (``u_*`` custom fields are always accepted).
Sources: ServiceNow out-of-box incident, change_request and problem tables (docs/connectors/servicenow.md,
"Problem records"); Request Tracker 5 lifecycle "default".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

System = Literal["servicenow", "rt", "jsm"]

SERVICENOW_TABLES = frozenset({"incident", "change_request", "problem"})

_TASK_FIELDS = frozenset(
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

KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "incident": _TASK_FIELDS
    | {
        "caller_id", "category", "subcategory", "close_code", "hold_reason", "resolved_at", "resolved_by",
        "incident_state", "severity", "problem_id", "rfc", "caused_by", "child_incidents", "parent_incident",
        "reopen_count", "reopened_by", "reopened_time", "notify", "origin_id", "origin_table", "business_impact",
        "business_stc", "calendar_stc", "major_incident_state", "u_jira_key",
    },
    "change_request": _TASK_FIELDS
    | {
        "type", "category", "close_code", "risk", "implementation_plan", "backout_plan", "test_plan",
        "justification", "start_date", "end_date", "requested_by", "change_plan", "on_hold", "on_hold_reason",
        "phase", "phase_state", "review_status", "review_comments", "scope", "cab_required", "cab_date",
        "chg_model", "conflict_status", "outside_maintenance_schedule", "production_system",
        "std_change_producer_version",
    },
    "problem": _TASK_FIELDS
    | {
        "category", "subcategory", "problem_state", "resolution_code", "cause_notes", "fix_notes", "workaround",
        "known_error", "major_problem", "duplicate_of", "related_incidents", "first_reported_by_task",
        "resolved_at", "resolved_by", "reopen_count", "reopened_at", "reopened_by", "rfc", "confirmed_at",
        "confirmed_by", "fix_communicated_at", "fix_communicated_by", "workaround_applied", "u_jira_key",
    },
}
"""Common fields per ServiceNow table; ``u_*`` custom fields are accepted on top."""

RT_FIELDS = frozenset(
    {
        "id", "Subject", "Status", "Queue", "Owner", "Requestor", "Requestors", "Cc", "AdminCc", "Priority",
        "InitialPriority", "FinalPriority", "TimeEstimated", "TimeWorked", "TimeLeft", "Created", "Updated",
        "LastUpdated", "Started", "Resolved", "Due", "Starts", "Creator", "LastUpdatedBy", "Type", "Content",
    }
)
"""Request Tracker ticket fields; ``CF.{Name}`` / ``CF_*`` custom fields are accepted on top."""


@dataclass(frozen=True)
class StateTable:
    """The states of one record type, by value, with the fields a write to each of them needs."""

    names: dict[str, str]
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Fields the ITSM refuses a write to that state without (an error when missing)."""
    recommends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Fields a write to that state should carry (a warning when missing)."""

    def label(self, state: str) -> str:
        name = self.names.get(state)
        return f"{state} ({name})" if name else state

    def describe(self) -> str:
        return ", ".join(self.label(s) for s in self.names)


STATE_TABLES: dict[tuple[System, str], StateTable] = {
    ("servicenow", "incident"): StateTable(
        names={"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"},
        requires={"6": ("close_code", "close_notes"), "7": ("close_code", "close_notes")},
        recommends={"3": ("hold_reason",)},
    ),
    ("servicenow", "change_request"): StateTable(
        names={
            "-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement", "0": "Review",
            "3": "Closed", "4": "Canceled",
        },
        recommends={"3": ("close_code", "close_notes")},
    ),
    # Problem management (Madrid and later): resolving or closing needs a resolution code; which notes it
    # needs besides depends on the code (fix_applied: cause_notes + fix_notes, risk_accepted: cause_notes +
    # close_notes, canceled: close_notes, duplicate: duplicate_of), so the notes of the usual fix_applied
    # are recommended. See docs/connectors/servicenow.md, "Problem records".
    ("servicenow", "problem"): StateTable(
        names={
            "101": "New", "102": "Assess", "103": "Root Cause Analysis", "104": "Fix in Progress",
            "106": "Resolved", "107": "Closed",
        },
        requires={"106": ("resolution_code",), "107": ("resolution_code",)},
        recommends={"104": ("cause_notes", "fix_notes"), "106": ("cause_notes", "fix_notes"),
                    "107": ("cause_notes", "fix_notes")},
    ),
}

RT_STATES = StateTable(
    names={
        "new": "New", "open": "Open", "stalled": "Stalled", "resolved": "Resolved", "rejected": "Rejected",
        "deleted": "Deleted",
    }
)

JSM_STATES = StateTable(
    names={
        "Waiting for support": "new", "In Progress": "in progress", "Waiting for customer": "in progress",
        "Pending": "in progress", "Resolved": "done", "Closed": "done", "Canceled": "done",
    },
)
"""The statuses of Jira Service Management's default service-request workflows, by name, with their
category as the label. Only warnings come of it: service projects often have workflows of their own."""

STATUS_FIELD: dict[System, str] = {"servicenow": "state", "rt": "Status", "jsm": "status"}
"""The record field that holds the state, per system."""


def system_of(record_type: str, declared: System | None) -> System:
    """Which ITSM a route talks to: as declared, else ServiceNow for its tables and RT for a queue name."""
    if declared is not None:
        return declared
    return "servicenow" if record_type in SERVICENOW_TABLES else "rt"


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
        return name.startswith("u_")
    if system == "rt":
        return name.startswith(("CF.", "CF_", "CustomField"))
    return True
