"""The sandbox site's fixed catalogue: accounts, projects, issue types, fields, statuses, permissions.

Plain data and pure look-ups only, so every other module of the package (and :mod:`bridge.sandbox.jsm`,
which extends the catalogue with a service project) can import it without importing any behaviour.
The numbers and names copy the shapes of Jira Cloud's defaults; where a value is what a vendor document
prescribes, the comment names the document (docs/connectors/jira.md, "What the Jira sandbox reproduces").
"""

from __future__ import annotations

from typing import Any

#: Credentials the sandbox accepts. Cloud: Basic email:API token; DC: Bearer PAT or Basic user:password
#: (https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/; docs/connectors/jira.md,
#: "What the Jira sandbox reproduces").
BRIDGE_EMAIL = "bridge@example.com"
BRIDGE_TOKEN = "sandbox-api-token"
BRIDGE_PAT = "sandbox-personal-access-token"
BRIDGE_USERNAME = "bridge"
BRIDGE_PASSWORD = "sandbox-password"

USERS: dict[str, dict[str, Any]] = {
    "bridge": {
        "accountId": "5b10ac8d82e05b22cc7d4ef5",
        "name": "bridge",
        "emailAddress": BRIDGE_EMAIL,
        "displayName": "Bridge Integration",
        "timeZone": "Europe/Berlin",
    },
    "dana": {
        "accountId": "5b10a2844c20165700ede21g",
        "name": "dana",
        "emailAddress": "dana@example.com",
        "displayName": "Dana Developer",
        "timeZone": "America/New_York",
    },
    "sam": {
        "accountId": "5b109f2e9729b51b54dc274d",
        "name": "sam",
        "emailAddress": "sam@example.com",
        "displayName": "Sam Lead",
        "timeZone": "Asia/Kolkata",
    },
}
ROLES = {"Developers": ("10002", ["bridge", "dana"]), "Administrators": ("10003", ["sam"])}
GROUPS = {"jira-software-users": ["bridge", "dana", "sam"], "jira-administrators": ["sam"]}

STATUSES = {
    "10000": ("To Do", "new"),
    "10001": ("In Progress", "indeterminate"),
    "10002": ("In Review", "indeterminate"),
    "10003": ("Done", "done"),
}
CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
#: A workflow step: (base transition id, name, from status, to status, screen fields {field: required}).
Step = tuple[int, str, str, str, dict[str, bool]]
#: The software projects' workflow; the id a project sees is base + the project's offset: transition ids
#: belong to a project's workflow (OpenAPI v3 getTransitions; docs/connectors/jira.md, "What the Jira
#: sandbox reproduces").
WORKFLOW: list[Step] = [
    (11, "Start progress", "10000", "10001", {}),
    (21, "Review", "10001", "10002", {}),
    (31, "Stop progress", "10001", "10000", {}),
    (41, "Done", "10002", "10003", {"resolution": True}),
    (51, "Back to progress", "10002", "10001", {}),
    (61, "Reopen", "10003", "10001", {}),
]
RESOLUTIONS = {"10000": "Done", "10001": "Won't Do", "10002": "Duplicate", "10003": "Cannot Reproduce"}
PRIORITIES = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low", "5": "Lowest"}
ISSUE_TYPES = {"10001": "Story", "10002": "Task", "10004": "Bug"}
PROJECTS = {
    "OPS": {"id": "10000", "name": "Operations", "offset": 0, "components": {"10100": "Backend", "10101": "Frontend"}},
    "DEV": {"id": "10001", "name": "Development", "offset": 700, "components": {"10200": "API", "10201": "Web"}},
    # the project of the shipped mappings (mappings/*.yaml) and of ``bridge demo``
    "DEMO": {"id": "10002", "name": "Demo", "offset": 1400, "components": {"10300": "Service", "10301": "Portal"}},
}
#: (id, name, schema type, custom type) — system fields first, then the custom fields bridge maps.
FIELDS: list[tuple[str, str, str, str | None]] = [
    ("summary", "Summary", "string", None),
    ("description", "Description", "string", None),
    ("environment", "Environment", "string", None),
    ("issuetype", "Issue Type", "issuetype", None),
    ("project", "Project", "project", None),
    ("priority", "Priority", "priority", None),
    ("labels", "Labels", "array", None),
    ("components", "Component/s", "array", None),
    ("fixVersions", "Fix Version/s", "array", None),
    ("status", "Status", "status", None),
    ("resolution", "Resolution", "resolution", None),
    ("resolutiondate", "Resolved", "datetime", None),
    ("created", "Created", "datetime", None),
    ("updated", "Updated", "datetime", None),
    ("reporter", "Reporter", "user", None),
    ("creator", "Creator", "user", None),
    ("assignee", "Assignee", "user", None),
    ("customfield_10050", "ServiceNow Number", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
    ("customfield_10051", "Linked records", "number", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
    ("customfield_10052", "ITSM Reference", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
    ("customfield_10053", "Customer Impact", "string", "com.atlassian.jira.plugin.system.customfieldtypes:textarea"),
]
RICH_TEXT_FIELDS = {"description", "environment", "customfield_10053"}
EDITABLE = {
    "summary",
    "description",
    "environment",
    "priority",
    "labels",
    "components",
    "assignee",
    "customfield_10050",
    "customfield_10051",
    "customfield_10052",
    "customfield_10053",
}
CREATABLE = EDITABLE | {"project", "issuetype", "reporter"}
PERMISSIONS = {
    "BROWSE_PROJECTS": "Browse Projects",
    "CREATE_ISSUES": "Create Issues",
    "EDIT_ISSUES": "Edit Issues",
    "TRANSITION_ISSUES": "Transition Issues",
    "ADD_COMMENTS": "Add Comments",
    "LINK_ISSUES": "Link Issues",
    "ASSIGN_ISSUES": "Assign Issues",
    "RESOLVE_ISSUES": "Resolve Issues",
}


def user_by(field: str, value: str) -> str | None:
    """The handle of the user whose ``field`` equals ``value`` (case-insensitively, as Jira matches logins)."""
    for handle, user in USERS.items():
        if str(user.get(field, "")).lower() == value.lower():
            return handle
    return None


def named(value: Any, table: dict[str, str]) -> str | None:
    """The id an ``{"id": …}`` or ``{"name": …}`` reference picks in ``table`` (names case-insensitive)."""
    if not isinstance(value, dict):
        return None
    if "id" in value and str(value["id"]) in table:
        return str(value["id"])
    for tid, name in table.items():
        if "name" in value and str(value["name"]).lower() == name.lower():
            return tid
    return None
