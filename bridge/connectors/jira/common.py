"""Jira facts and parsers every part of the connector shares: constants, timestamps, JQL, error text.

Kept free of the connector class so the search, the codec and the JSM connector can use them without
importing each other (docs/connectors/jira.md, "Vendor facts bridge relies on").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from bridge.connectors.http import plain_message
from bridge.errors import ConfigError

Deployment = Literal["cloud", "datacenter"]

#: The comment property bridge stores its marker in (invisible in the Jira UI, readable with
#: ``expand=properties``; Cloud and DC both accept ``properties`` on POST comment — pycontribs#313/#1011).
MARKER_PROPERTY = "bridge.origin"
#: Label prefix of the record marker token (``Ref.token`` of an ITSM record).
MARKER_LABEL_PREFIX = "itsm-"
#: Permissions the account needs in each mapped project (docs/connectors/jira.md explains each).
REQUIRED_PERMISSIONS = (
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
    "LINK_ISSUES",
)
#: Fields every issue read asks for: the state, the version and the markers.
#: ``issuetype`` and ``project`` name the workflow a status belongs to: with them an issue read by a search
#: can be moved by set_status without reading it again (docs/connectors/jira.md, "Transitions").
BASE_FIELDS = ("status", "updated", "labels", "issuetype", "project")
#: Jira's system fields and their schemas (the same on every site, Cloud and DC: OpenAPI v3 getFields).
SYSTEM_FIELDS: dict[str, dict[str, str]] = {
    "summary": {"type": "string"},
    "description": {"type": "string"},
    "environment": {"type": "string"},
    "labels": {"type": "array", "items": "string"},
    "components": {"type": "array", "items": "component"},
    "fixVersions": {"type": "array", "items": "version"},
    "versions": {"type": "array", "items": "version"},
    "priority": {"type": "priority"},
    "resolution": {"type": "resolution"},
    "status": {"type": "status"},
    "issuetype": {"type": "issuetype"},
    "project": {"type": "project"},
    "assignee": {"type": "user"},
    "reporter": {"type": "user"},
    "creator": {"type": "user"},
    "duedate": {"type": "date"},
    "created": {"type": "datetime"},
    "updated": {"type": "datetime"},
    "resolutiondate": {"type": "datetime"},
}
#: System fields holding rich text (ADF on Cloud, wiki markup on DC).
RICH_TEXT_SYSTEM_FIELDS = {"description", "environment"}


def parse_jira_datetime(value: str) -> datetime:
    """Jira's ``2024-01-02T03:04:05.000+0100`` (millis optional, offset with or without colon) → aware UTC."""
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a Jira timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"Jira timestamp without offset: {value!r}")
    return parsed.astimezone(UTC)


def jira_message(response: requests.Response) -> str | None:
    """Jira's ErrorCollection (``errorMessages`` + ``errors`` by field) as one line; plain text otherwise."""
    try:
        data = response.json()
    except ValueError:
        return plain_message(response)
    if not isinstance(data, dict):
        return plain_message(response)
    messages = [str(m) for m in data.get("errorMessages") or [] if m]
    errors = data.get("errors")
    if isinstance(errors, dict):
        messages += [f"{field}: {text}" for field, text in errors.items()]
    for key in ("message", "errorMessage"):
        if isinstance(data.get(key), str) and data[key]:
            messages.append(data[key])
    return "; ".join(messages) or None


def jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def zone_info(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a configuration error (not a crash) when Python does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


def name_of(value: dict[str, Any]) -> str:
    """The human name of a Jira object value (option, user, version…), so comparisons see what people see."""
    for key in ("name", "value", "displayName", "key", "id"):
        if key in value and value[key] is not None:
            return str(value[key])
    return json.dumps(value, sort_keys=True)

