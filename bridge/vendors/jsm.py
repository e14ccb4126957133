"""Jira Service Management facts bridge relies on: request statuses, comment channels, limits.

Sources for each fact: docs/connectors/jsm.md, section "Vendor facts bridge relies on".
"""

from __future__ import annotations

from bridge.vendors import jira
from bridge.vendors.facts import Channel, StateTable, channel_names, is_internal

SYSTEM = "jsm"
DISPLAY_NAME = "Jira Service Management"

STATE_FIELD = "status"
KEY_FIELD = "key"
"""Requests are Jira issues, called by their issue key (``SUP-12``)."""
STATES = StateTable(
    names={
        "Waiting for support": "new", "In Progress": "in progress", "Waiting for customer": "in progress",
        "Pending": "in progress", "Resolved": "done", "Closed": "done", "Canceled": "done",
    },
)
"""The statuses of the default service-request workflows, by name, with their category as the label.
Only warnings come of it: service projects often have workflows of their own."""

CHANNELS = (
    Channel("internal", customer_visible=False, label="Internal note"),
    Channel("public", customer_visible=True, label="Reply to customer"),
)
CHANNEL_NAMES = channel_names(CHANNELS)
DEFAULT_CHANNEL = "internal"
PUBLIC_PROPERTY = "sd.public.comment"
"""The comment property that makes a comment internal (``{"internal": true}``) on Cloud and Data Center."""

LIMITS = jira.LIMITS
"""Requests are Jira issues: Jira's text limits apply."""
MARKUP_CLOUD = jira.MARKUP_CLOUD
MARKUP_DATA_CENTER = jira.MARKUP_DATA_CENTER


def channel_is_internal(name: str) -> bool:
    return is_internal(CHANNELS, name)
