"""Request Tracker 5 facts bridge relies on: lifecycle states, ticket fields, comment channels.

Sources for each fact: docs/connectors/rt.md, section "Vendor facts bridge relies on".
"""

from __future__ import annotations

from bridge.vendors.facts import Channel, StateTable, TextLimits, channel_names, is_internal

SYSTEM = "rt"
DISPLAY_NAME = "Request Tracker"

FIELDS = frozenset(
    {
        "id", "Subject", "Status", "Queue", "Owner", "Requestor", "Requestors", "Cc", "AdminCc", "Priority",
        "InitialPriority", "FinalPriority", "TimeEstimated", "TimeWorked", "TimeLeft", "Created", "Updated",
        "LastUpdated", "Started", "Resolved", "Due", "Starts", "Creator", "LastUpdatedBy", "Type", "Content",
    }
)
"""Ticket fields; ``CF.{Name}`` / ``CF_*`` custom fields are accepted on top."""

STATE_FIELD = "Status"
KEY_FIELD = "id"
"""A ticket is called by its number (``RT#42`` is ticket 42)."""
STATES = StateTable(
    names={
        "new": "New", "open": "Open", "stalled": "Stalled", "resolved": "Resolved", "rejected": "Rejected",
        "deleted": "Deleted",
    }
)
"""The "default" lifecycle; RT needs no extra field to enter any of them."""

CHANNELS = (
    Channel("comment", customer_visible=False, label="Comment"),
    Channel("correspond", customer_visible=True, label="Reply"),
)
"""``comment`` stays with staff; ``correspond`` is mailed to the requestors."""
CHANNEL_NAMES = channel_names(CHANNELS)
DEFAULT_CHANNEL = "comment"
TRANSACTION_CHANNELS = {"Comment": "comment", "Correspond": "correspond"}
"""History transaction types that carry a message, by the channel they were written on."""

LIMITS = TextLimits(summary=None, rich_text=None, comment=None)
MARKUP = "plain"

NEVER = "1970-01-01T00:00:00Z"
"""How REST2 writes a date that was never set."""

CUSTOM_FIELD_PREFIXES = ("CF.", "CF_", "CustomField")


def is_custom_field(name: str) -> bool:
    return name.startswith(CUSTOM_FIELD_PREFIXES)


def channel_is_internal(name: str) -> bool:
    return is_internal(CHANNELS, name)
