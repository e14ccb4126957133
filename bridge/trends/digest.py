"""The trends digest: the top lines of the report posted to Jira by the daemon, at most once per period.

"At most once" rests on the journal (:func:`bridge.store.trends_queries.digest_begin`): the period's key is
claimed before the write, so a second replica, a restart or a misfired schedule finds it taken and posts
nothing. A crash between the claim and the write leaves the period without a digest rather than with two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bridge.connectors.base import Connector, CreateSpec
from bridge.logging import get_logger
from bridge.model import Marker, Ref, Side
from bridge.store import Store
from bridge.store.trends_queries import digest_begin, digest_finish, load_trend_facts
from bridge.trends.config import DigestSettings, TrendsSettings
from bridge.trends.report import StatusPolicy, TrendReport, build_report, week_label

if TYPE_CHECKING:
    from bridge.daemon import Daemon
    from bridge.sync.engine import Engine

log = get_logger(__name__)


def period_label(now: datetime, period: str) -> str:
    if period == "day":
        return f"{now:%Y-%m-%d}"
    if period == "month":
        return f"{now:%Y-%m}"
    return week_label(now)


def digest_text(report: TrendReport, top: int) -> str:
    """Plain text (the connector converts it to ADF or wiki markup): the ranked issues, then the counts."""
    lines = [
        f"What support escalated since {report.since:%Y-%m-%d} ({report.escalated_in_period} record(s)), "
        "by linked records:"
    ]
    for x in report.issues[:top]:
        lines.append(
            f"{x.rank}. {x.issue_key} ({x.issue_type}, {x.status}): {x.linked_total} record(s), "
            f"{x.linked_open} open, {x.added_in_period} new"
        )
    if not report.issues:
        lines.append("(no linked issue)")
    for m in report.medians:
        first = "-" if m.first_comment_hours is None else f"{m.first_comment_hours:g} h"
        resolved = "-" if m.resolution_hours is None else f"{m.resolution_hours:g} h"
        lines.append(f"{m.issue_type}: median to first developer comment {first}, to resolution {resolved}")
    if report.reopened:
        lines.append("Reopened after Done: " + ", ".join(o.issue_key for o in report.reopened[:top]))
    lines.append("Full report: bridge trends --format html --out report.html")
    return "\n".join(lines)


def post_digest(
    settings: DigestSettings,
    trends: TrendsSettings,
    store: Store,
    jira: Connector,
    *,
    now: datetime | None = None,
    issue_types: dict[str, str] | None = None,
) -> str | None:
    """Post this period's digest unless it was posted (or attempted) already. Returns what was written
    (comment id or issue key), ``None`` when the period was done already."""
    now = now or datetime.now(UTC)
    period = period_label(now, settings.period)
    target = settings.issue or f"project {settings.project}"
    key = f"digest:{target}:{period}"
    if not digest_begin(store.engine, key, f"trends digest {period} to {target}", now):
        log.info("trends digest already posted this period", period=period, target=target)
        return None
    report = build_report(
        load_trend_facts(store.engine),
        now=now,
        since=now - timedelta(days=settings.since_days),
        policy=StatusPolicy.of(trends.closed_states, trends.done_statuses),
        group_by=trends.group_by,
        issue_types=issue_types,
        top=settings.top,
    )
    body = digest_text(report, settings.top)
    marker = Marker(Side.JIRA, f"trends-digest-{period}")
    try:
        if settings.issue is not None:
            comment = jira.add_comment(
                Ref(Side.JIRA, "issue", settings.issue, settings.issue), body, channel="comment", marker=marker
            )
            written = comment.id
        else:
            assert settings.project is not None  # the settings demand issue or project
            item = jira.create(
                CreateSpec(
                    project=settings.project,
                    issue_type=settings.issue_type,
                    fields={"summary": settings.summary.format(period=period), "description": body},
                    marker=f"bridge-trends-digest-{period}",
                    labels=("bridge-trends",),
                )
            )
            written = item.ref.key
    except Exception as exc:
        digest_finish(store.engine, key, now, error=f"{type(exc).__name__}: {exc}")
        log.warning("trends digest failed; not retried this period", period=period, error_type=type(exc).__name__)
        return None
    digest_finish(store.engine, key, now, remote_id=written)
    log.info("trends digest posted", period=period, target=target, written=written)
    return written


def digest_job(
    settings: DigestSettings,
    trends: TrendsSettings,
    store: Store,
    jira: Connector,
    issue_types: dict[str, str] | None = None,
) -> Callable[[], None]:
    """The daemon's scheduled job (never raises: the sync goes on)."""

    def job() -> None:
        try:
            post_digest(settings, trends, store, jira, issue_types=issue_types)
        except Exception:
            log.exception("trends digest job failed")

    return job


def schedule_digest(daemon: Daemon, trends: TrendsSettings, engine: Engine) -> None:
    """Add the digest's cron job to the daemon (``trends.digest`` set)."""
    from apscheduler.triggers.cron import CronTrigger

    settings = trends.digest
    assert settings is not None
    trigger = CronTrigger.from_crontab(settings.schedule, timezone="UTC")
    issue_types = {spec.name: spec.target.issue_type for spec in engine.enabled_mappings()}
    job = digest_job(settings, trends, engine.store, engine.jira, issue_types)
    daemon.schedule(job, trigger, "bridge-trends-digest")
    log.info("trends digest scheduled", schedule=settings.schedule, period=settings.period)
