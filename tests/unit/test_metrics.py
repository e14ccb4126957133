"""Metrics: what the engine records is what an operator scrapes, parsed by Prometheus' own parser."""

from __future__ import annotations

import gc
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bridge.callcount import CallCounter
from bridge.metrics import CallSnapshot, Metrics, write_textfile


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def samples(text: str | bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by (sample name, labels)."""
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics.exposition()).get((name, frozenset(labels.items())))


def test_cycles_are_counted_by_mapping_and_outcome_with_durations() -> None:
    m = Metrics(interval_seconds=60, clock=Clock())
    for ok, duration in ((True, 1.5), (True, 0.2), (False, 42.0)):
        m.cycle_started("incident-to-bug")
        assert value(m, "bridge_cycle_running", mapping="incident-to-bug") == 1
        m.cycle_finished("incident-to-bug", duration, ok)
    assert value(m, "bridge_cycle_running", mapping="incident-to-bug") == 0
    assert value(m, "bridge_cycles_total", mapping="incident-to-bug", outcome="ok") == 2
    assert value(m, "bridge_cycles_total", mapping="incident-to-bug", outcome="failed") == 1
    assert value(m, "bridge_cycle_duration_seconds_count", mapping="incident-to-bug") == 3
    assert value(m, "bridge_cycle_duration_seconds_sum", mapping="incident-to-bug") == pytest.approx(43.7)
    assert value(m, "bridge_cycle_duration_seconds_bucket", mapping="incident-to-bug", le="1.0") == 1
    assert value(m, "bridge_cycle_duration_seconds_bucket", mapping="incident-to-bug", le="2.5") == 2
    assert value(m, "bridge_schedule_interval_seconds") == 60


def test_failed_series_exists_from_the_first_cycle() -> None:
    """So that increase(bridge_cycles_total{outcome="failed"}) sees the very first failure."""
    m = Metrics()
    m.cycle_started("change-to-story")
    assert value(m, "bridge_cycles_total", mapping="change-to-story", outcome="failed") == 0


def test_seconds_since_last_success_grows_at_scrape_time() -> None:
    clock = Clock()
    m = Metrics(clock=clock)
    m.cycle_started("a")
    clock.now += 5
    m.cycle_finished("a", 5.0, ok=True)
    success_at = clock.now
    assert value(m, "bridge_last_success_timestamp_seconds", mapping="a") == success_at
    clock.now += 30
    assert value(m, "bridge_seconds_since_last_success", mapping="a") == pytest.approx(30)
    m.cycle_finished("a", 1.0, ok=False)  # a failure does not move the last success
    clock.now += 100
    assert value(m, "bridge_seconds_since_last_success", mapping="a") == pytest.approx(130)
    assert value(m, "bridge_last_cycle_timestamp_seconds", mapping="a") == success_at + 30


def test_a_mapping_that_never_succeeded_ages_from_first_sight() -> None:
    clock = Clock()
    m = Metrics(clock=clock)
    m.cycle_started("broken")
    clock.now += 10
    m.cycle_finished("broken", 10.0, ok=False)
    clock.now += 200
    assert value(m, "bridge_seconds_since_last_success", mapping="broken") == pytest.approx(210)
    assert value(m, "bridge_last_success_timestamp_seconds", mapping="broken") is None


def test_restore_last_success_keeps_the_later_timestamp() -> None:
    clock = Clock(10_000.0)
    m = Metrics(clock=clock)
    m.restore_last_success("a", 9_000.0)
    assert value(m, "bridge_seconds_since_last_success", mapping="a") == pytest.approx(1_000)
    m.cycle_finished("a", 1.0, ok=True)
    m.restore_last_success("a", 8_000.0)
    assert m.last_success("a") == 10_000.0
    assert value(m, "bridge_last_success_timestamp_seconds", mapping="a") == 10_000.0


def test_actions_and_gauges() -> None:
    m = Metrics()
    m.action("incident-to-bug", "CreateIssue", "done")
    m.action("incident-to-bug", "CreateIssue", "done")
    m.action("incident-to-bug", "AddComment", "failed")
    m.action("incident-to-bug", "SetStatus", "skipped")
    m.action("incident-to-bug", "UpdateFields", "pending")
    m.error_list({("incident-to-bug", "action_failed"): 7}, ["incident-to-bug", "change-to-story"])
    m.links("incident-to-bug", 120)
    m.pending_actions("incident-to-bug", 3)
    m.leader("incident-to-bug", True)
    m.leader("change-to-story", False)
    got = samples(m.exposition())
    key = "bridge_actions_total"
    assert got[(key, frozenset({("mapping", "incident-to-bug"), ("kind", "CreateIssue"), ("outcome", "done")}))] == 2
    assert got[(key, frozenset({("mapping", "incident-to-bug"), ("kind", "AddComment"), ("outcome", "failed")}))] == 1
    assert got[(key, frozenset({("mapping", "incident-to-bug"), ("kind", "SetStatus"), ("outcome", "skipped")}))] == 1
    assert value(m, "bridge_error_list_size", mapping="incident-to-bug", kind="action_failed") == 7
    assert value(m, "bridge_error_list_size", mapping="incident-to-bug", kind="conflict") == 0
    assert value(m, "bridge_error_list_size", mapping="change-to-story", kind="plan_problem") == 0
    m.error_list({}, [])  # the entries were retried away: the series drop to 0, they do not keep 7
    assert value(m, "bridge_error_list_size", mapping="incident-to-bug", kind="action_failed") == 0
    assert value(m, "bridge_links", mapping="incident-to-bug") == 120
    assert value(m, "bridge_pending_actions", mapping="incident-to-bug") == 3
    assert value(m, "bridge_leader", mapping="incident-to-bug") == 1
    assert value(m, "bridge_leader", mapping="change-to-story") == 0


def test_side_and_outcome_labels_are_closed_sets() -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="unknown action outcome"):
        m.action("a", "CreateIssue", "ok")
    with pytest.raises(ValueError, match="unknown side"):
        m.rate_limited("servicenow")
    with pytest.raises(ValueError, match="unknown side"):
        m.vendor_calls("JIRA", "GET /x", 200)
    with pytest.raises(ValueError, match="negative"):
        m.cycle_finished("a", -1.0, ok=True)


def test_rate_limits_retries_and_vendor_calls() -> None:
    m = Metrics()
    m.rate_limited("jira")
    m.rate_limited("jira", 2)
    m.retried("itsm")
    m.vendor_calls("jira", "GET /rest/api/3/search/jql", 200, count=4)
    m.vendor_calls("jira", "GET /rest/api/3/search/jql", None)
    assert value(m, "bridge_rate_limited_total", side="jira") == 3
    assert value(m, "bridge_retries_total", side="itsm") == 1
    search = "GET /rest/api/3/search/jql"
    assert value(m, "bridge_vendor_calls_total", side="jira", endpoint=search, status="200") == 4
    assert value(m, "bridge_vendor_calls_total", side="jira", endpoint=search, status="error") == 1


def test_record_calls_counts_only_the_delta_and_calls_without_response() -> None:
    m = Metrics()
    counter = CallCounter()
    counter.count("GET /api/now/table/{table}", 200)
    counter.count("GET /api/now/table/{table}", 200)
    counter.count("GET /api/now/table/{table}", 429)
    counter.count("POST /api/now/table/{table}", None)  # connection refused: no status
    m.record_calls("itsm", counter)
    counter.count("GET /api/now/table/{table}", 200)
    m.record_calls("itsm", counter)
    m.record_calls("itsm", counter)  # nothing new: nothing added
    endpoint = "GET /api/now/table/{table}"
    assert value(m, "bridge_vendor_calls_total", side="itsm", endpoint=endpoint, status="200") == 3
    assert value(m, "bridge_vendor_calls_total", side="itsm", endpoint=endpoint, status="429") == 1
    assert value(m, "bridge_vendor_calls_total", side="itsm", endpoint=endpoint, status="error") is None
    assert value(m, "bridge_vendor_calls_total", side="itsm", endpoint="POST /api/now/table/{table}",
                 status="error") == 1


def test_record_calls_with_an_explicit_baseline() -> None:
    m = Metrics()
    counter = CallCounter()
    counter.count("GET /rest/api/3/myself", 200)
    before = CallSnapshot.take(counter)
    counter.count("GET /rest/api/3/myself", 401)
    after = m.record_calls("jira", counter, before)
    assert after == CallSnapshot.take(counter)
    assert value(m, "bridge_vendor_calls_total", side="jira", endpoint="GET /rest/api/3/myself", status="401") == 1
    assert value(m, "bridge_vendor_calls_total", side="jira", endpoint="GET /rest/api/3/myself", status="200") is None


def test_record_calls_baselines_are_per_counter_and_forgotten_with_it() -> None:
    m = Metrics()
    first, second = CallCounter(), CallCounter()
    first.count("GET /a", 200)
    second.count("GET /a", 200)
    m.record_calls("jira", first)
    m.record_calls("jira", second)
    assert value(m, "bridge_vendor_calls_total", side="jira", endpoint="GET /a", status="200") == 2
    del first
    gc.collect()
    assert len(m._call_baselines) == 1


@given(st.lists(st.lists(st.tuples(st.sampled_from(["GET /a", "POST /b"]),
                                   st.sampled_from([200, 201, 404, 429, None])), max_size=8), max_size=6))
def test_record_calls_after_each_cycle_totals_every_call_once(cycles: list[list[tuple[str, int | None]]]) -> None:
    """However calls fall between cycles, the exported totals equal the counter's totals."""
    m = Metrics()
    counter = CallCounter()
    for cycle in cycles:
        for endpoint, status in cycle:
            counter.count(endpoint, status)
        m.record_calls("jira", counter)
    got = samples(m.exposition())
    exported = sum(v for (name, _), v in got.items() if name == "bridge_vendor_calls_total")
    assert exported == counter.total
    for (endpoint, status), n in counter.statuses().items():
        key = ("bridge_vendor_calls_total",
               frozenset({("side", "jira"), ("endpoint", endpoint), ("status", str(status))}))
        assert got[key] == n


def test_two_engines_do_not_share_counters_nor_the_global_registry() -> None:
    one, two = Metrics(), Metrics()
    one.cycle_finished("a", 1.0, ok=True)
    assert value(one, "bridge_cycles_total", mapping="a", outcome="ok") == 1
    assert value(two, "bridge_cycles_total", mapping="a", outcome="ok") is None
    assert REGISTRY.get_sample_value("bridge_cycles_total", {"mapping": "a", "outcome": "ok"}) is None


def test_write_textfile_is_parseable_readable_by_others_and_leaves_no_temp_file(tmp_path: Path) -> None:
    m = Metrics(clock=Clock())
    m.cycle_finished("incident-to-bug", 2.0, ok=True)
    m.action("incident-to-bug", "AddComment", "done")
    target = tmp_path / "bridge.prom"
    target.write_text("old content\n")
    assert write_textfile(target, m) == target
    got = samples(target.read_text())
    assert got[("bridge_cycles_total", frozenset({("mapping", "incident-to-bug"), ("outcome", "ok")}))] == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["bridge.prom"]


def test_write_textfile_refuses_a_name_node_exporter_ignores(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.prom"):
        write_textfile(tmp_path / "bridge.txt", Metrics())
    assert list(tmp_path.iterdir()) == []


def test_write_textfile_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_textfile(tmp_path / "missing" / "bridge.prom", Metrics())
