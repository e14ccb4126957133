"""Who wins when both sides changed the same thing since the last sync.

Kept apart from the planner so the rule is stated once and tested on its own. A conflict only exists
for values that flow both ways (``direction: both`` fields, and statuses when both a ``to_jira`` and a
``to_itsm`` rule apply): for a one-way field the source side is the owner and always wins.

``newest_wins`` compares the items' ``updated`` timestamps. Vendors give them at different precisions
(Jira minutes in queries, ServiceNow seconds), so a tie is not a guess either way: it is reported.
The comparison is made again on every cycle that sees both values still differing from the synced
ones, so a reported tie is decided by whichever item is updated next (a later edit, or bridge's own
write of another field of that item).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bridge.mapping.schema import ConflictPolicy

Winner = Literal["itsm", "jira", "report"]


def winner(policy: ConflictPolicy, itsm_updated: datetime, jira_updated: datetime | None) -> Winner:
    """The side whose value is kept, or ``"report"`` to change nothing and put it on the error list."""
    if policy == "itsm_wins":
        return "itsm"
    if policy == "jira_wins":
        return "jira"
    if policy == "newest_wins":
        if jira_updated is None or itsm_updated == jira_updated:
            return "report"
        return "itsm" if itsm_updated > jira_updated else "jira"
    return "report"
