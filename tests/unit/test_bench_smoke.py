"""Every benchmark under bench/ runs end to end with tiny sizes, so none can rot unnoticed.

These are smoke runs, not measurements: they assert that each benchmark completes, prints its table,
writes its JSON and that the figures it reports are consistent (counts, no duplicates) — never a time.
The real runs are made by hand (bench/README.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bench import backlog, change_cost, idle_cost, latency, memory

#: Each run starts sandbox subprocesses (and a daemon, for latency): seconds each, so the slow tier.
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The benchmarks configure logging for a process of their own; give the test process its own back."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


def figures(path: Path) -> dict:
    return json.loads(path.read_text())


def test_idle_cost_is_one_search_per_side_whatever_the_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "idle.json"
    assert idle_cost.main(["--links", "3", "40", "--cycles", "1", "--json", str(out)]) == 0
    assert "Idle cycle" in capsys.readouterr().out
    results = figures(out)["results"]
    assert [r["links"] for r in results] == [3, 40]
    assert all(r["calls_itsm"] == 1 and r["calls_jira"] == 1 for r in results)
    assert [r["naive_calls_per_cycle"] for r in results] == [6, 80]


def test_change_cost_charges_every_kind_and_beats_the_naive_baseline(tmp_path: Path) -> None:
    out = tmp_path / "change.json"
    assert change_cost.main(["--changes", "12", "--batch", "2", "--json", str(out)]) == 0
    result = figures(out)
    assert set(result["by_kind"]) == set(change_cost.KINDS)
    assert result["changes"] == 12
    assert all(r["calls_itsm"] + r["calls_jira"] > 0 for r in result["by_kind"].values())
    assert result["links_at_end"] == 12  # 10 seeded + 2 made by new incidents
    assert result["calls_per_change"] < result["naive_calls_per_change"]


def test_backlog_syncs_everything_once(tmp_path: Path) -> None:
    out = tmp_path / "backlog.json"
    args = ["--records", "8", "--latency", "0.01", "--rate", "50", "--json", str(out)]
    assert backlog.main(args) == 0
    result = figures(out)
    assert result["issues"] == result["links"] == 8
    assert result["duplicate_issues"] == 0
    assert result["records_without_issue"] == 0
    assert result["wrong_back_references_in_sample"] == 0
    assert result["pending_at_end"] == 0
    assert result["error_list"] == 0
    assert result["calls_by_endpoint"]["jira"]["POST /rest/api/3/issue/bulk"] == 1


def test_memory_reports_both_cycles(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    assert memory.main(["--links", "30", "--json", str(out)]) == 0
    result = figures(out)
    assert result["full_read_calls"]["itsm"] >= 1
    assert result["peak_rss_mb_full_read_cycle"] >= result["peak_rss_mb_idle_cycle"] > 0


def test_latency_mirrors_each_probe(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    assert latency.main(["--interval", "0.5", "--samples", "2", "--json", str(out)]) == 0
    result = figures(out)
    assert result["missed"] == 0
    assert [s["direction"] for s in result["samples"]] == ["itsm → jira", "jira → itsm"]


def test_latency_with_hints_mirrors_each_probe(tmp_path: Path) -> None:
    out = tmp_path / "latency-hints.json"
    assert latency.main(["--interval", "2", "--samples", "2", "--hints", "--json", str(out)]) == 0
    result = figures(out)
    assert result["hints"] is True
    assert result["missed"] == 0
    assert result["p95_seconds"] is not None
