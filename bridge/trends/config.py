"""The ``trends:`` section of the configuration (``bridge trends`` and the status page's charts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Record states that count as closed when the config names none: ServiceNow incident/problem Resolved,
#: Closed, Canceled (6, 7, 8; see docs/connectors/servicenow.md), RT's resolved/rejected/deleted and the
#: usual JSM and Jira names.
DEFAULT_CLOSED_STATES = ("6", "7", "8", "resolved", "rejected", "deleted", "closed", "canceled", "cancelled", "done")
#: Jira statuses that count as Done when the config names none.
DEFAULT_DONE_STATUSES = ("done", "closed", "resolved")


class DigestSettings(BaseModel):
    """``trends.digest``: post the top lines of the report to Jira on a schedule of the daemon.

    Either ``issue`` (a comment on that issue) or ``project`` (a new issue of ``issue_type`` each period,
    titled ``summary`` with ``{period}`` filled in). ``schedule`` is a five-field crontab line in UTC
    (``0 8 * * mon``: Mondays 08:00); ``period`` is what "at most once" is counted in.
    """

    model_config = ConfigDict(extra="forbid")

    schedule: str = "0 8 * * mon"
    period: Literal["day", "week", "month"] = "week"
    issue: str | None = None
    project: str | None = None
    issue_type: str = "Task"
    summary: str = "Support escalations, {period}"
    top: int = Field(default=10, ge=1, le=100)
    since_days: int = Field(default=7, ge=1, le=3650)

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a crontab line ({exc}); e.g. '0 8 * * mon'") from None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> DigestSettings:
        if (self.issue is None) == (self.project is None):
            raise ValueError("set exactly one of issue (comment on it) or project (create an issue per period)")
        return self


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
    top: int = Field(default=20, ge=1, le=1000)
    since_days: int = Field(default=30, ge=1, le=3650)
    #: the optional digest the daemon posts to Jira (``None``: off)
    digest: DigestSettings | None = None
