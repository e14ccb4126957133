"""Jira facts bridge relies on: text limits, markup per deployment, the comment channel.

Sources for each fact: docs/connectors/jira.md and docs/connectors/jsm.md ("Vendor facts bridge relies on").
"""

from __future__ import annotations

from bridge.vendors.facts import Channel, TextLimits

SYSTEM = "jira"

LIMITS = TextLimits(summary=255, rich_text=32767, comment=32767)
"""Summary over 255 → 400 "Summary must be less than 255 characters."; description, environment, textarea
fields and comment bodies over 32,767 characters (counted after conversion to ADF/wiki) → 400."""
MAX_SUMMARY_LENGTH = 255
MAX_SHORT_TEXT_LENGTH = 255
"""Single-line text custom fields hold at most 255 characters."""
MAX_LABEL_LENGTH = 255
"""A label over 255 characters → 400 "The label must not exceed 255 characters."."""
MAX_GLOBAL_ID_LENGTH = 255
"""A remote link's ``globalId`` holds at most 255 characters."""
MAX_PROPERTY_VALUE_LENGTH = 32768
"""An entity property's JSON value holds at most 32,768 characters."""
MAX_TEXT_LENGTH = 32767
MAX_COMMENT_LENGTH = 32767

MARKUP_CLOUD = "adf"
"""REST v3 takes Atlassian Document Format for description and comment bodies (400 for strings)."""
MARKUP_DATA_CENTER = "wiki"
"""REST v2 (Data Center) takes wiki-markup strings."""

CHANNELS = (Channel("comment", customer_visible=False, label="Comment"),)
"""Jira has one comment channel; a ``visibility`` (role or group) narrows who sees it."""
DEFAULT_CHANNEL = "comment"
STATUS_CATEGORIES = ("new", "indeterminate", "done")
PROJECT_KEY_PATTERN = r"^[A-Z][A-Z0-9_]{0,254}$"
"""Project keys: an upper-case letter, then upper-case letters, digits and underscores (the default
project-key format of Cloud and Data Center)."""
DEFAULT_STATUSES = ("To Do", "In Progress", "In Review", "Done")
"""The statuses of the workflow Jira gives a new software project (the "In Review" step included):
names a mapping may use in ``status.to_itsm`` without naming them in ``status.to_jira``."""


def markup(cloud: bool) -> str:
    return MARKUP_CLOUD if cloud else MARKUP_DATA_CENTER
