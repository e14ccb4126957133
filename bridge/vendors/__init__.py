"""One home for each vendor's facts: what ServiceNow, Request Tracker, JSM and Jira accept and refuse.

Pure data and tiny pure helpers. The mapping checks, the connectors, the in-memory fakes and the
sandboxes import these instead of keeping lists of their own; ``tests/unit/test_vendor_parity.py``
runs the same cases through all of them. Each fact's public source is in docs/connectors/<vendor>.md.
"""

from __future__ import annotations

from bridge.vendors import jira, jsm, rt, servicenow
from bridge.vendors.facts import Channel, Markup, StateTable, System, TextLimits

__all__ = ["Channel", "Markup", "StateTable", "System", "TextLimits", "jira", "jsm", "rt", "servicenow", "system_of"]


def system_of(record_type: str, declared: System | None) -> System:
    """Which ITSM a route talks to: as declared, else ServiceNow for its tables and RT for a queue name."""
    if declared is not None:
        return declared
    return "servicenow" if servicenow.is_table(record_type) else "rt"
