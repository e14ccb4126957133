"""Every 429/503 and every retry reaches ``/metrics``: the shared HTTP layer notes each retry in the
side's call counter (its tenacity ``before_sleep`` callback), and the metrics take the deltas."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.callcount import CallCounter
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.health import HealthState, serve
from bridge.metrics import Metrics

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]


def scrape(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with serve("127.0.0.1:0", metrics, HealthState(60, [])) as server:
        text = requests.get(server.url + "/metrics", timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_429_from_jira_is_counted_as_rate_limited_and_retried(jira_cloud: JiraEnv) -> None:
    jira_cloud.sandbox.fail_next(1, status=429, retry_after=0)
    connector = jira_cloud.connector()
    assert connector.myself()  # the retry succeeded
    metrics = Metrics()
    metrics.record_calls("jira", connector.calls)
    got = scrape(metrics)
    assert got[("bridge_rate_limited_total", frozenset({("side", "jira")}))] == 1
    assert got[("bridge_retries_total", frozenset({("side", "jira")}))] == 1
    metrics.record_calls("jira", connector.calls)  # nothing new: nothing counted twice
    assert scrape(metrics)[("bridge_rate_limited_total", frozenset({("side", "jira")}))] == 1


class _Busy(BaseHTTPRequestHandler):
    """Answers 503 (twice), then 200: what ServiceNow's rate-limit rules and maintenance pages send."""

    answers: ClassVar[list[int]] = [503, 503, 200]

    def do_GET(self) -> None:
        status = _Busy.answers.pop(0) if _Busy.answers else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[str]:
    _Busy.answers = [503, 503, 200]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_503s_from_the_itsm_are_counted_each(busy_server: str) -> None:
    counter = CallCounter()
    client = HttpClient("itsm", HttpOptions(base_url=busy_server, backoff_base=0.001), counter=counter,
                        sleep=lambda _s: None)
    assert client.request("GET", "/api/now/table/incident").status_code == 200
    metrics = Metrics()
    metrics.record_calls("itsm", counter)
    got = scrape(metrics)
    assert got[("bridge_rate_limited_total", frozenset({("side", "itsm")}))] == 2
    assert got[("bridge_retries_total", frozenset({("side", "itsm")}))] == 2
    status_503 = frozenset({("side", "itsm"), ("endpoint", "GET /api/now/table/incident"), ("status", "503")})
    assert got[("bridge_vendor_calls_total", status_503)] == 2
