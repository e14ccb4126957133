"""``bridge trends`` over a state store filled by whole cycles of the memory connectors.

The known scenario: a developer's Bug carries five incidents (``link_existing`` fan-in), a second issue
carries two, a third one. The report must rank the five-incident Bug first in every format, count open and
added records, the weekly and per-priority escalations, the developer's first comment, the resolution and
the incident reopened after the Bug was Done.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from bridge.cli import cli
from bridge.commands._common import GlobalOptions
from bridge.connectors.memory import ManualClock
from bridge.store.trends_queries import load_trend_facts
from bridge.trends.formats import render
from bridge.trends.report import StatusPolicy, build_report, week_label
from tests.fixtures.engine import MAPPING, World, mapping_spec

LINKS = {**MAPPING.get("links", {}), "link_existing": "u_jira_key"}
POLICY = StatusPolicy.of(["6", "7", "8"], ["Done"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec(links=LINKS))
    yield w
    w.close()


def fill(world: World) -> dict[str, Any]:
    """The known scenario; returns the refs the assertions name."""
    bug = world.jira.create_issue("OPS", "Bug", "Checkout rejects coupons", labels=["team-payments"])
    five = [
        world.incident(f"Coupon refused #{i}", u_jira_key=bug.key, priority="2" if i < 3 else "3") for i in range(5)
    ]
    single = world.incident("Printer on fire", priority="4")
    pair_first = world.incident("VPN drops every hour", priority="3")
    world.settle()
    pair_issue = world.issue_of(pair_first)
    pair_second = world.incident("VPN disconnects", u_jira_key=pair_issue, priority="3")
    world.settle()

    world.jira.comment(bug, "Looking into it: coupon codes are upper-cased twice", author="Dev One")
    world.settle()
    world.jira.transition_to(bug, "Done")
    world.settle()
    world.itsm.set_state(five[0], "2")  # the caller still cannot apply the coupon
    world.settle()
    return {
        "bug": bug.key,
        "five": [r.key for r in five],
        "single": world.issue_of(single),
        "pair": pair_issue,
        "pair_second": pair_second.key,
    }


def report_for(world: World, **kwargs: Any) -> Any:
    now = datetime.now(UTC) + timedelta(minutes=1)
    return build_report(
        load_trend_facts(world.store.engine),
        now=now,
        since=now - timedelta(days=30),
        policy=POLICY,
        group_by=["priority"],
        issue_types={"incidents": "Bug"},
        **kwargs,
    )


def test_five_incidents_on_one_bug_rank_it_first(world: World) -> None:
    keys = fill(world)
    report = report_for(world)

    ranked = [(x.issue_key, x.linked_total, x.linked_open, x.added_in_period) for x in report.issues]
    assert ranked == [
        (keys["bug"], 5, 1, 5),  # Done resolved all five; one was reopened
        (keys["pair"], 2, 2, 2),
        (keys["single"], 1, 1, 1),
    ]
    assert [x.rank for x in report.issues] == [1, 2, 3]
    assert report.issues[0].issue_type == "Bug"
    assert report.escalated_in_period == 8
    assert [(w.count) for w in report.per_week] == [8]
    assert report.per_week[0].label == week_label(datetime.now(UTC))
    assert {(c.label, c.count) for c in report.per_field["priority"]} == {("High", 3), ("Medium", 4), ("Low", 1)}
    assert [(o.issue_key, o.records) for o in report.reopened] == [(keys["bug"], (keys["five"][0],))]
    (bug_median,) = report.medians
    assert bug_median.issue_type == "Bug"
    assert bug_median.issues == 3
    assert bug_median.first_comment_samples == 1
    assert bug_median.first_comment_hours is not None
    assert bug_median.resolution_samples == 1
    assert bug_median.resolution_hours is not None
    assert report.recurring == ()


def test_every_format_carries_the_numbers(world: World) -> None:
    keys = fill(world)
    report = report_for(world)

    table = render(report, "table")
    first_row = table.split("Jira issues by linked records\n", 1)[1].splitlines()[1].split()
    assert first_row[:7] == ["1", keys["bug"], "Bug", "In", "Progress", "5", "1"] or first_row[:6] == [
        "1",
        keys["bug"],
        "Bug",
        "Done",
        "5",
        "1",
    ]

    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    issue = {r["metric"]: r["value"] for r in rows if r["section"] == "issues" and r["item"] == keys["bug"]}
    assert issue["rank"] == "1"
    assert issue["linked_total"] == "5"
    assert issue["linked_open"] == "1"
    assert {r["item"]: r["value"] for r in rows if r["section"] == "per_priority"} == {
        "Medium": "4",
        "High": "3",
        "Low": "1",
    }

    data = json.loads(render(report, "json"))
    assert [(i["issue_key"], i["linked_total"]) for i in data["issues"]] == [
        (keys["bug"], 5),
        (keys["pair"], 2),
        (keys["single"], 1),
    ]
    assert data["reopened"][0]["records"] == [keys["five"][0]]

    page = render(report, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 3
    assert "<script" not in page.lower()
    assert "src=" not in page
    assert 'href="http' not in page
    body = page.split("Jira issues by linked records</h2>", 1)[1]
    assert body.index(keys["bug"]) < body.index(keys["pair"]) < body.index(keys["single"])


def test_mapping_filter_and_top(world: World) -> None:
    fill(world)
    assert len(report_for(world, top=1).issues) == 1
    assert report_for(world, mapping="other").issues == ()


def configure(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group_by: str = "[priority]") -> str:
    """config.yaml + mappings/ pointing at the world's store (``vendors`` passes the memory connectors)."""
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "mappings").mkdir()
    with (tmp_path / "mappings" / "incidents.yaml").open("w") as out:
        YAML(typ="safe", pure=True).dump({**MAPPING, "links": LINKS}, out)
    (tmp_path / "config.yaml").write_text(
        "jira:\n  url: https://jira.example\n"
        "itsm:\n  kind: servicenow\n  url: https://itsm.example\n"
        f"state:\n  url: {world.url}\n"
        "mappings:\n  directory: mappings\n"
        f"trends:\n  group_by: {group_by}\n"
        "logging:\n  format: json\n  level: WARNING\n"
    )
    return str(tmp_path / "config.yaml")


def vendors(world: World) -> GlobalOptions:
    """The world's memory connectors as the vendors, for the commands that contact them (--online)."""
    return GlobalOptions(
        connector_factories={"servicenow": lambda settings: world.itsm, "jira": lambda settings: world.jira}
    )


def test_the_command_writes_every_format(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = fill(world)
    config = configure(world, tmp_path, monkeypatch)
    runner = CliRunner()

    result = runner.invoke(cli, ["--config", config, "trends", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert "Records escalated per priority" in result.output
    assert keys["bug"] in result.output.split("Jira issues by linked records", 1)[1].splitlines()[2]

    out = tmp_path / "report.html"
    result = runner.invoke(
        cli, ["--config", config, "trends", "--mapping", "incidents", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("<svg") >= 3

    result = runner.invoke(cli, ["--config", config, "trends", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["issues"][0]["issue_key"] == keys["bug"]

    result = runner.invoke(cli, ["--config", config, "trends", "--mapping", "nope"])
    assert result.exit_code == 2, result.output


def test_online_reads_each_side_once_for_unsynced_fields_and_current_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the vendors' clock near the real one: --since is measured from now
    world = World(tmp_path, mapping_spec(links=LINKS), clock=ManualClock(datetime.now(UTC) - timedelta(hours=1)))
    try:
        keys = fill(world)
        config = configure(world, tmp_path, monkeypatch, group_by="[category, priority]")
        runner = CliRunner()

        offline = runner.invoke(cli, ["--config", config, "trends", "--format", "json"])
        assert offline.exit_code == 0, offline.output
        assert json.loads(offline.output)["per_field"]["category"] == [{"label": "(none)", "count": 8}]

        itsm_before, jira_before = world.itsm.calls.total, world.jira.calls.total
        online = runner.invoke(
            cli, ["--config", config, "trends", "--online", "--format", "json"], obj=vendors(world)
        )
        assert online.exit_code == 0, online.output
        data = json.loads(online.output)
        assert data["per_field"]["category"] == [{"label": "software", "count": 8}]
        assert data["issues"][0]["issue_key"] == keys["bug"]
        assert data["issues"][0]["status"] == "In Progress"
        assert world.itsm.calls.total - itsm_before == 1  # one bounded read per side
        assert world.jira.calls.total - jira_before == 1
    finally:
        world.close()
