"""docs/operations.md documents every metric bridge exports, and its alert rules use only real ones."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from bridge.callcount import CallCounter
from bridge.health import HealthState
from bridge.metrics import Metrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exported_families() -> set[str]:
    """Family names of a Metrics on which every method has been called once."""
    m = Metrics(interval_seconds=60)
    m.cycle_started("a")
    m.cycle_finished("a", 1.0, ok=True)
    m.action("a", "CreateIssue", "done")
    counter = CallCounter()
    counter.count("GET /x", 200)
    m.record_calls("jira", counter)
    m.rate_limited("jira")
    m.retried("itsm")
    m.error_list({("a", "conflict"): 1})
    m.oldest_pending("a", 1.0)
    m.links("a", 1)
    m.pending_actions("a", 1)
    m.leader("a", True)
    names = set()
    for family in text_string_to_metric_families(m.exposition().decode()):
        if not family.samples or family.name.endswith("_created"):
            continue
        names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def documented_metrics() -> set[str]:
    return set(re.findall(r"^\| `(bridge_[a-z_]+)` \|", DOC, re.MULTILINE))


def test_every_exported_metric_is_documented_and_nothing_else() -> None:
    assert exported_families() == documented_metrics()


def alert_rules() -> list[dict[str, str]]:
    block = re.search(r"```yaml\n(groups:.*?)```", DOC, re.DOTALL)
    assert block, "no alert rules block"
    data = YAML(typ="safe").load(block.group(1))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_alert_rules_parse_and_cover_the_promised_alerts() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {"BridgeCycleStale", "BridgeErrorListGrowing", "BridgeRateLimited", "BridgeNoLeader"} <= names


def test_alert_rules_only_use_exported_metrics() -> None:
    exported = exported_families()
    for rule in alert_rules():
        for name in re.findall(r"\bbridge_[a-z_]+", rule["expr"]):
            assert name in exported, f"{rule['alert']} uses {name}, which bridge does not export"


def test_documented_staleness_matches_the_health_default() -> None:
    n = HealthState(60, ["a"]).stale_after
    text = " ".join(DOC.split())
    assert f"finished at most {n} intervals ago" in text
    assert f"grace period of {n} intervals" in text
    assert f"{n} intervals, as /healthz" in text
