"""The slice of a ServiceNow instance's dictionary the sandbox serves: tables, field types, choices, users.

Only what bridge reads, writes or checks (``bridge doctor``) is here, with the types the real dictionary
gives those fields, because the type decides how an encoded query compares values (integers as numbers,
date-times as instants, the rest as text). Sources: the ServiceNow ITSM data model as the
ansible-collections/servicenow.itsm modules use it ([ITSM] ``plugins/module_utils/incident.py``,
``change_request.py``), the Table API docs [SN-T]; states, hold reasons and close codes come from
:mod:`bridge.vendors.servicenow` (sources in docs/connectors/servicenow.md, "Vendor facts bridge relies on").
"""

from __future__ import annotations

from bridge.vendors import servicenow as facts

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
DATETIME = "glide_date_time"
REFERENCE = "reference"
JOURNAL = "journal_input"
GUID = "GUID"

# field -> (internal_type, column_label, referenced table)
FieldDef = tuple[str, str, str | None]

_SYS: dict[str, FieldDef] = {
    "sys_id": (GUID, "Sys ID", None),
    "sys_created_on": (DATETIME, "Created", None),
    "sys_created_by": (STRING, "Created by", None),
    "sys_updated_on": (DATETIME, "Updated", None),
    "sys_updated_by": (STRING, "Updated by", None),
    "sys_mod_count": (INTEGER, "Updates", None),
}

_TASK: dict[str, FieldDef] = {
    **_SYS,
    "sys_class_name": (STRING, "Task type", None),
    "number": (STRING, "Number", None),
    "short_description": (STRING, "Short description", None),
    "description": (STRING, "Description", None),
    "state": (INTEGER, "State", None),
    "priority": (INTEGER, "Priority", None),
    "impact": (INTEGER, "Impact", None),
    "urgency": (INTEGER, "Urgency", None),
    "active": (BOOLEAN, "Active", None),
    "assignment_group": (REFERENCE, "Assignment group", "sys_user_group"),
    "assigned_to": (REFERENCE, "Assigned to", "sys_user"),
    "opened_at": (DATETIME, "Opened", None),
    "opened_by": (REFERENCE, "Opened by", "sys_user"),
    "closed_at": (DATETIME, "Closed", None),
    "close_notes": (STRING, "Close notes", None),
    "comments": (JOURNAL, "Additional comments", None),
    "work_notes": (JOURNAL, "Work notes", None),
    "correlation_id": (STRING, "Correlation ID", None),
    "correlation_display": (STRING, "Correlation display", None),
}

TABLES: dict[str, dict[str, FieldDef]] = {
    "incident": {
        **_TASK,
        "caller_id": (REFERENCE, "Caller", "sys_user"),
        "category": (STRING, "Category", None),
        "subcategory": (STRING, "Subcategory", None),
        "incident_state": (INTEGER, "Incident state", None),
        "severity": (INTEGER, "Severity", None),
        "hold_reason": (INTEGER, "On hold reason", None),
        "close_code": (STRING, "Resolution code", None),
        "resolved_at": (DATETIME, "Resolved", None),
        "resolved_by": (REFERENCE, "Resolved by", "sys_user"),
        "reopen_count": (INTEGER, "Reopen count", None),
        "problem_id": (REFERENCE, "Problem", "problem"),
    },
    # problem management (Madrid and later); states and close fields: docs/connectors/servicenow.md,
    # "Problem records"
    "problem": {
        **_TASK,
        "category": (STRING, "Category", None),
        "problem_state": (INTEGER, "Problem state", None),
        "resolution_code": (STRING, "Resolution code", None),
        "cause_notes": (STRING, "Cause notes", None),
        "fix_notes": (STRING, "Fix notes", None),
        "workaround": (STRING, "Workaround", None),
        "duplicate_of": (REFERENCE, "Duplicate of", "problem"),
        "resolved_at": (DATETIME, "Resolved", None),
        "resolved_by": (REFERENCE, "Resolved by", "sys_user"),
        "reopen_count": (INTEGER, "Reopen count", None),
    },
    "change_request": {
        **_TASK,
        "type": (STRING, "Type", None),
        "risk": (INTEGER, "Risk", None),
        "requested_by": (REFERENCE, "Requested by", "sys_user"),
        "start_date": (DATETIME, "Planned start date", None),
        "end_date": (DATETIME, "Planned end date", None),
        "close_code": (STRING, "Close code", None),
        "on_hold": (BOOLEAN, "On hold", None),
        "on_hold_reason": (STRING, "On hold reason", None),
        "implementation_plan": (STRING, "Implementation plan", None),
        # a custom checkbox like the ones instances add (custom fields start with u_); the shipped
        # change-to-story mapping selects changes by it
        "u_needs_dev": (BOOLEAN, "Needs development", None),
    },
    "sys_journal_field": {
        "sys_id": (GUID, "Sys ID", None),
        "element": (STRING, "Element", None),
        "element_id": (STRING, "Element ID", None),
        "name": (STRING, "Name", None),
        "value": (STRING, "Value", None),
        "sys_created_on": (DATETIME, "Created", None),
        "sys_created_by": (STRING, "Created by", None),
    },
    "sys_user": {
        **_SYS,
        "user_name": (STRING, "User ID", None),
        "name": (STRING, "Name", None),
        "first_name": (STRING, "First name", None),
        "last_name": (STRING, "Last name", None),
        "email": (STRING, "Email", None),
        "active": (BOOLEAN, "Active", None),
        "time_zone": (STRING, "Time zone", None),
    },
    "sys_user_group": {
        **_SYS,
        "name": (STRING, "Name", None),
        "description": (STRING, "Description", None),
        "active": (BOOLEAN, "Active", None),
    },
    "sys_choice": {
        **_SYS,
        "name": (STRING, "Table", None),
        "element": (STRING, "Element", None),
        "value": (STRING, "Value", None),
        "label": (STRING, "Label", None),
        "sequence": (INTEGER, "Sequence", None),
        "inactive": (BOOLEAN, "Inactive", None),
        "language": (STRING, "Language", None),
    },
    "sys_dictionary": {
        **_SYS,
        "name": (STRING, "Table", None),
        "element": (STRING, "Column name", None),
        "column_label": (STRING, "Column label", None),
        "internal_type": (STRING, "Type", None),
        "reference": (STRING, "Reference", None),
        "max_length": (INTEGER, "Max length", None),
        "mandatory": (BOOLEAN, "Mandatory", None),
        "active": (BOOLEAN, "Active", None),
    },
}

#: ``sys_dictionary.max_length`` of the text fields, as a base instance's dictionary declares them (the
#: Table API serves it as a string: ``"max_length": "4000"``). Every other field has the platform's
#: default for its type (:func:`max_length`). The sandbox, like an instance (KB0685779, "Fields in
#: ServiceNow accept string inputs greater than the sys_dictionary max_length value"), stores a longer
#: value whole: keeping within the length is the writer's job (docs/connectors/servicenow.md, "Field lengths").
MAX_LENGTHS: dict[str, int] = {
    "short_description": 160,
    "description": 4000,
    "close_notes": 4000,
    "comments": 4000,
    "work_notes": 4000,
    "correlation_id": 100,
    "correlation_display": 100,
    "sys_class_name": 80,
    "cause_notes": 4000,
    "fix_notes": 4000,
    "workaround": 4000,
    "implementation_plan": 4000,
    "value": 4000,
    "name": 100,
    "email": 100,
    "label": 100,
    "column_label": 80,
}
#: the platform's default ``max_length`` per internal type (a string column is 40 unless made longer)
DEFAULT_MAX_LENGTH = {GUID: 32, REFERENCE: 32, JOURNAL: 4000}


def max_length(element: str, kind: str) -> int:
    """``sys_dictionary.max_length`` of a field of the sandbox (the same for every table it is on)."""
    return MAX_LENGTHS.get(element, DEFAULT_MAX_LENGTH.get(kind, 40))


#: the field whose value stands for a record when another record references it
DISPLAY_FIELD = {
    "sys_user": "name",
    "sys_user_group": "name",
    "incident": "number",
    "change_request": "number",
    "problem": "number",
    "sys_journal_field": "value",
    "sys_choice": "label",
    "sys_dictionary": "column_label",
}

NUMBER_PREFIX = {"incident": (facts.NUMBER_PREFIXES["incident"], 10000),
                 "change_request": (facts.NUMBER_PREFIXES["change_request"], 30000),
                 "problem": (facts.NUMBER_PREFIXES["problem"], 40000)}

# (table, element) -> [(value, label)] — the vendor's choice lists (bridge.vendors.servicenow)
CHOICES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("incident", "state"): list(facts.INCIDENT_STATES.names.items()),
    ("incident", "hold_reason"): list(facts.HOLD_REASONS),
    ("incident", "close_code"): [(code, code) for code in facts.INCIDENT_CLOSE_CODES],
    ("change_request", "state"): list(facts.CHANGE_STATES.names.items()),
    ("change_request", "close_code"): list(zip(
        facts.CHANGE_CLOSE_CODES, ("Successful", "Successful with issues", "Unsuccessful"), strict=True
    )),
    ("change_request", "type"): [("standard", "Standard"), ("normal", "Normal"), ("emergency", "Emergency")],
    ("problem", "state"): list(facts.PROBLEM_STATES.names.items()),
    ("problem", "resolution_code"): list(facts.PROBLEM_RESOLUTION_CODES),
    ("change_request", "on_hold_reason"): [
        ("awaiting_info", "Awaiting Information"), ("awaiting_approval", "Awaiting Approval"),
    ],
}
for _table in ("incident", "change_request", "problem"):
    for _element in ("priority", "impact", "urgency"):
        CHOICES[(_table, _element)] = [("1", "1 - Critical" if _element == "priority" else "1 - High"),
                                       ("2", "2 - High" if _element == "priority" else "2 - Medium"),
                                       ("3", "3 - Moderate" if _element == "priority" else "3 - Low")]
        if _element == "priority":
            CHOICES[(_table, _element)] += [("4", "4 - Low"), ("5", "5 - Planning")]
CHOICES[("change_request", "risk")] = [("1", "Very High"), ("2", "High"), ("3", "Moderate"), ("4", "Low")]

#: seeded people: user_name -> display name
USERS = {
    "svc.bridge": "Bridge Integration",
    "admin": "System Administrator",
    "sam.support": "Sam Support",
    "carol.caller": "Carol Caller",
    "chris.change": "Chris Change",
}
GROUPS = ("Application Support L3", "Service Desk", "Change Advisory Board", "Network")


def field_type(table: str, field: str) -> str | None:
    """The internal type of ``table.field``, ``None`` when the field does not exist."""
    return TABLES.get(table, {}).get(field, (None, "", None))[0]
