"""/metrics and /healthz over real HTTP on 127.0.0.1, and the health rules behind /healthz."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.health import HealthState, MetricsServer, parse_bind, serve
from bridge.metrics import Metrics


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def get(url: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    response = requests.get(url, headers={"Accept": accept} if accept else {}, timeout=5)
    return response.status_code, dict(response.headers), response.content


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> HealthState:
    return HealthState(60, ["incident-to-bug", "change-to-story"], clock=clock)


@pytest.fixture
def metrics(clock: Clock) -> Metrics:
    return Metrics(interval_seconds=60, clock=clock)


@pytest.fixture
def server(metrics: Metrics, health: HealthState) -> Iterator[MetricsServer]:
    with serve("127.0.0.1:0", metrics, health) as running:
        yield running


def healthz(server: MetricsServer) -> tuple[int, dict[str, Any]]:
    status, headers, body = get(server.url + "/healthz")
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


# ---------------------------------------------------------------------------------------- server
def test_metrics_endpoint_serves_what_was_recorded(server: MetricsServer, metrics: Metrics, clock: Clock) -> None:
    metrics.cycle_started("incident-to-bug")
    metrics.cycle_finished("incident-to-bug", 3.0, ok=True)
    metrics.action("incident-to-bug", "CreateIssue", "done")
    metrics.vendor_calls("jira", "POST /rest/api/3/issue", 201)
    clock.now += 45
    status, headers, body = get(server.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["bridge_cycles"].type == "counter"
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert got[("bridge_cycles_total", (("mapping", "incident-to-bug"), ("outcome", "ok")))] == 1
    assert got[("bridge_actions_total", (("kind", "CreateIssue"), ("mapping", "incident-to-bug"),
                                         ("outcome", "done")))] == 1
    assert got[("bridge_vendor_calls_total", (("endpoint", "POST /rest/api/3/issue"), ("side", "jira"),
                                              ("status", "201")))] == 1
    assert got[("bridge_seconds_since_last_success", (("mapping", "incident-to-bug"),))] == pytest.approx(45)


def test_metrics_endpoint_speaks_openmetrics_when_asked(server: MetricsServer, metrics: Metrics) -> None:
    metrics.cycle_finished("a", 1.0, ok=True)
    status, headers, body = get(server.url + "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_unknown_path_is_404_and_head_has_no_body(server: MetricsServer) -> None:
    assert get(server.url + "/nope")[0] == 404
    response = requests.head(server.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.content == b""


def test_stop_frees_the_port(metrics: Metrics, health: HealthState) -> None:
    running = serve("127.0.0.1:0", metrics, health)
    port = running.port
    assert get(running.url + "/metrics")[0] == 200
    running.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with serve(f"127.0.0.1:{port}", metrics, health) as again:  # rebinding at once works
        assert again.port == port


def test_a_taken_port_is_an_oserror(server: MetricsServer, metrics: Metrics, health: HealthState) -> None:
    with pytest.raises(OSError, match="in use"):
        serve(f"127.0.0.1:{server.port}", metrics, health)


@pytest.mark.parametrize(
    ("bind", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464)), ("localhost:0", ("localhost", 0))],
)
def test_parse_bind(bind: str, expected: tuple[str, int]) -> None:
    assert parse_bind(bind) == expected


@pytest.mark.parametrize("bind", ["9464", ":9464", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000"])
def test_parse_bind_rejects(bind: str) -> None:
    with pytest.raises(ValueError, match="bind address"):
        parse_bind(bind)


def test_ipv6_loopback(metrics: Metrics, health: HealthState) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        running = serve("[::1]:0", metrics, health)
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    with running:
        assert running.url.startswith("http://[::1]:")
        assert get(running.url + "/metrics")[0] == 200


# ---------------------------------------------------------------------------------------- health
def test_starting_is_healthy_during_the_grace_period(server: MetricsServer, clock: Clock) -> None:
    status, body = healthz(server)
    assert (status, body["status"]) == (200, "starting")
    assert "incident-to-bug" in body["reason"]
    assert body["mappings"]["incident-to-bug"] == {
        "enabled": True, "standby": False, "ok": None, "last_success": None, "age_s": None, "last_cycle": None,
    }
    clock.now += 180  # exactly 3 intervals: still within grace
    assert healthz(server)[0] == 200
    clock.now += 1
    status, body = healthz(server)
    assert (status, body["status"]) == (503, "unhealthy")
    assert "no successful cycle in 181s since start" in body["reason"]
    assert "(and 1 more)" in body["reason"]


def test_ok_once_every_enabled_mapping_succeeded(server: MetricsServer, health: HealthState, clock: Clock) -> None:
    clock.now += 10
    health.cycle_finished("incident-to-bug", ok=True)
    assert healthz(server)[1]["status"] == "starting"  # change-to-story has not run yet
    health.cycle_finished("change-to-story", ok=True)
    clock.now += 30
    status, body = healthz(server)
    assert (status, body["status"]) == (200, "ok")
    entry = body["mappings"]["incident-to-bug"]
    assert entry["ok"] is True
    assert entry["age_s"] == 30
    assert entry["last_success"] == "2023-11-14T22:13:30Z"
    assert body["interval_s"] == 60
    assert body["stale_after_s"] == 180


def test_one_failed_cycle_is_not_unhealthy_but_staleness_is(
    server: MetricsServer, health: HealthState, clock: Clock
) -> None:
    health.cycle_finished("incident-to-bug", ok=True)
    health.cycle_finished("change-to-story", ok=True)
    clock.now += 60
    health.cycle_finished("incident-to-bug", ok=False)
    health.cycle_finished("change-to-story", ok=True)
    status, body = healthz(server)
    assert (status, body["status"]) == (200, "ok")
    assert body["mappings"]["incident-to-bug"]["ok"] is False
    clock.now += 121  # incident-to-bug last succeeded 181 s ago
    health.cycle_finished("change-to-story", ok=True)
    status, body = healthz(server)
    assert (status, body["status"]) == (503, "unhealthy")
    assert body["reason"] == "incident-to-bug: last successful cycle 181s ago (limit 180s)"
    health.cycle_finished("incident-to-bug", ok=True)
    assert healthz(server)[0] == 200


def test_a_stopped_scheduler_turns_unhealthy(health: HealthState, clock: Clock) -> None:
    for name in ("incident-to-bug", "change-to-story"):
        health.cycle_finished(name, ok=True)
    clock.now += 179
    assert health.check().healthy
    clock.now += 2
    report = health.check()
    assert not report.healthy
    assert report.http_status == 503


def test_disabled_mappings_are_shown_but_not_judged(health: HealthState, clock: Clock) -> None:
    health.cycle_finished("incident-to-bug", ok=True)
    health.cycle_finished("change-to-story", ok=True)
    health.cycle_finished("old-mapping", ok=False)
    health.set_mappings(["incident-to-bug"])
    clock.now += 1000
    health.cycle_finished("incident-to-bug", ok=True)
    report = health.check()
    assert report.healthy
    assert report.body["mappings"]["old-mapping"]["enabled"] is False
    assert report.body["mappings"]["change-to-story"]["enabled"] is False


def test_no_enabled_mapping_is_unhealthy(clock: Clock) -> None:
    report = HealthState(60, [], clock=clock).check()
    assert (report.http_status, report.body["reason"]) == (503, "no enabled mapping")


@pytest.mark.parametrize(("interval", "stale_after"), [(0, 3), (60, 0)])
def test_health_rejects_nonsense(interval: float, stale_after: int) -> None:
    with pytest.raises(ValueError, match="must"):
        HealthState(interval, ["a"], stale_after=stale_after)


def test_stale_after_is_configurable(clock: Clock) -> None:
    health = HealthState(30, ["a"], stale_after=5, clock=clock)
    health.cycle_finished("a", ok=True)
    clock.now += 150
    assert health.check().healthy
    clock.now += 0.5
    assert not health.check().healthy
