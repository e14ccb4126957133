"""The trends digest: top lines to a Jira issue (or a new issue per period), at most once per period."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bridge.daemon import Daemon
from bridge.store.trends_queries import DIGEST_MAPPING, digest_state
from bridge.trends.config import DigestSettings, TrendsSettings
from bridge.trends.digest import period_label, post_digest, schedule_digest
from tests.fixtures.engine import World, mapping_spec
from tests.unit.test_trends_store import LINKS, fill

MONDAY = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(links=LINKS))
    yield w
    w.close()


def test_a_comment_once_per_week_with_the_bug_first(world: World) -> None:
    keys = fill(world)
    planning = world.jira.create_issue("OPS", "Task", "Planning notes")
    settings = DigestSettings(issue=planning.key, top=2)
    trends = TrendsSettings(group_by=["priority"])

    written = post_digest(settings, trends, world.store, world.jira, now=MONDAY, issue_types={"incidents": "Bug"})
    assert written is not None
    (comment,) = [c for c in world.jira.comments(planning) if "escalated" in c.body]
    first, second = comment.body.splitlines()[1:3]
    assert first.startswith(f"1. {keys['bug']} (Bug, ")
    assert "5 record(s), 1 open, 5 new" in first
    assert second.startswith(f"2. {keys['pair']} ")
    assert f"3. {keys['single']}" not in comment.body  # top 2

    assert post_digest(settings, trends, world.store, world.jira, now=MONDAY + timedelta(hours=1)) is None
    assert len(world.jira.comments(planning)) == 1  # never twice in a period
    assert digest_state(world.store.engine, f"digest:{planning.key}:{period_label(MONDAY, 'week')}") == "done"

    assert post_digest(settings, trends, world.store, world.jira, now=MONDAY + timedelta(days=7)) is not None
    assert len(world.jira.comments(planning)) == 2  # next week: the next digest
    assert world.store.pending_entries(DIGEST_MAPPING) == []  # invisible to the executor


def test_an_issue_per_period_in_a_project(world: World) -> None:
    fill(world)
    settings = DigestSettings(project="OPS", issue_type="Task", summary="Support escalations, {period}")
    key = post_digest(settings, TrendsSettings(), world.store, world.jira, now=MONDAY)
    assert key is not None
    issue = world.jira.issue(key)
    assert issue.fields["summary"] == f"Support escalations, {period_label(MONDAY, 'week')}"
    assert post_digest(settings, TrendsSettings(), world.store, world.jira, now=MONDAY) is None
    assert sum(1 for i in world.jira.issues() if i.fields.get("summary", "").startswith("Support")) == 1


def test_a_failed_post_is_journaled_and_not_repeated_in_the_period(world: World) -> None:
    settings = DigestSettings(issue="NOPE-1")
    assert post_digest(settings, TrendsSettings(), world.store, world.jira, now=MONDAY) is None
    key = f"digest:NOPE-1:{period_label(MONDAY, 'week')}"
    assert digest_state(world.store.engine, key) == "failed"
    assert post_digest(settings, TrendsSettings(), world.store, world.jira, now=MONDAY) is None


def test_settings_validate_schedule_and_target() -> None:
    with pytest.raises(ValidationError, match="crontab"):
        DigestSettings(issue="OPS-1", schedule="every monday")
    with pytest.raises(ValidationError, match="exactly one"):
        DigestSettings()
    with pytest.raises(ValidationError, match="exactly one"):
        DigestSettings(issue="OPS-1", project="OPS")
    assert period_label(datetime(2026, 3, 2, tzinfo=UTC), "month") == "2026-03"
    assert period_label(datetime(2026, 3, 2, tzinfo=UTC), "day") == "2026-03-02"


def test_the_daemon_schedules_the_digest(world: World) -> None:
    daemon = Daemon(world.engine, interval_seconds=60, mappings=["incidents"])
    trends = TrendsSettings(digest=DigestSettings(issue="OPS-1", schedule="0 8 * * mon"))
    schedule_digest(daemon, trends, world.engine)
    job = daemon._scheduler.get_job("bridge-trends-digest")
    assert job is not None
    assert "day_of_week='mon'" in str(job.trigger)
    assert "hour='8'" in str(job.trigger)
