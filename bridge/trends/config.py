"""The ``trends:`` section of the configuration (``bridge trends`` and the status page's charts)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Record states that count as closed when the config names none: ServiceNow incident/problem Resolved,
#: Closed, Canceled (6, 7, 8; see docs/connectors/servicenow.md), RT's resolved/rejected/deleted and the
#: usual JSM and Jira names.
DEFAULT_CLOSED_STATES = ("6", "7", "8", "resolved", "rejected", "deleted", "closed", "canceled", "cancelled", "done")
#: Jira statuses that count as Done when the config names none.
DEFAULT_DONE_STATUSES = ("done", "closed", "resolved")


class TrendsSettings(BaseModel):
    """What the trend report groups by and which statuses count as finished.

    ``group_by`` names record fields (as the mappings sync them, e.g. ``category``, ``assignment_group``,
    ``cmdb_ci``): escalations are counted per value of each. ``closed_states`` / ``done_statuses`` are
    compared case-insensitively with the last status bridge synced.
    """

    model_config = ConfigDict(extra="forbid")

    group_by: list[str] = Field(default_factory=lambda: ["category", "assignment_group", "cmdb_ci"])
    closed_states: list[str] = Field(default_factory=lambda: list(DEFAULT_CLOSED_STATES))
    done_statuses: list[str] = Field(default_factory=lambda: list(DEFAULT_DONE_STATUSES))
    top: int = Field(20, ge=1, le=1000)
    since_days: int = Field(30, ge=1, le=3650)
