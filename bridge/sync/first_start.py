"""First start: installing bridge never floods Jira with closed history.

A mapping's first cycle has no cursor and reads everything its route selects, years of it on a real
instance. Of the records without a link, it escalates only those that are **open** (not in a
resolved/closed/cancelled state of their system, read from :mod:`bridge.vendors`) or that **changed
after bridge first saw the mapping** (stored per mapping, :meth:`~bridge.store.Store.see_mapping`). An
older closed record is left out, counted and named in the cycle's notes; it is reached only through an
explicit backfill, ``bridge sync --since DATE`` (shown first by ``bridge plan --since DATE``), which moves
the line back to DATE for that run.

The same line holds on every later cycle (a cursor reset, a replayed window): a closed record last
changed before the mapping's first start is history, not work. A record that changes afterwards (it is
reopened, or commented) is escalated like any other. Records already linked are never affected.

The planner stays pure: the cycle passes a :class:`~bridge.core.state.FirstStart` in the plan input.
"""

from __future__ import annotations

from datetime import datetime

from bridge.core.state import FirstStart
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.vendors import jsm, rt, servicenow, system_of

#: state labels (their names in the vendor facts; JSM: the status category) that mean "finished"
FINISHED_LABELS = frozenset({"resolved", "closed", "canceled", "cancelled", "rejected", "deleted", "done"})


def finished_states(mapping: MappingSpec) -> frozenset[str]:
    """The states of the mapping's record type in which a record is finished (resolved, closed, cancelled)."""
    system = system_of(mapping.route.record_type, getattr(mapping.route, "system", None))
    if system == "servicenow":
        table = servicenow.states(mapping.route.record_type)
    elif system == "rt":
        table = rt.STATES
    else:
        table = jsm.STATES
    if table is None:
        return frozenset()
    return frozenset(state for state, label in table.names.items() if label.lower() in FINISHED_LABELS)


def first_start(mapping: MappingSpec, first_seen: datetime, since: datetime | None) -> FirstStart:
    """The line for this cycle: the mapping's first-seen time, or the backfill's start when earlier."""
    line = first_seen if since is None else min(first_seen, since)
    return FirstStart(finished_states(mapping), line)


def left_out_note(count: int) -> str:
    """What a cycle says about the records it left out (printed and logged)."""
    noun = "record" if count == 1 else "records"
    return (
        f"{count} closed {noun} older than the first start: not escalated; "
        "use `bridge sync --since DATE` to backfill (`bridge plan --since DATE` shows them first)"
    )


def backfill_note(count: int, since: datetime) -> str:
    """What a backfill run says about the closed history it escalates."""
    noun = "record" if count == 1 else "records"
    return f"backfill since {since.isoformat()}: {count} closed {noun} older than the first start escalated"


__all__ = ["FINISHED_LABELS", "backfill_note", "finished_states", "first_start", "left_out_note"]
