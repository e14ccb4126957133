"""The shared HTTP layer (bridge/connectors/http.py): retry policy, Retry-After, budget, templating, errors.

``responses`` stands in for the vendor; sleeps are recorded instead of slept, clocks are fakes.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from bridge.connectors.http import (
    USER_AGENT,
    HttpClient,
    HttpOptions,
    RateLimitWindowError,
    RedirectRefusedError,
    TokenBucket,
    call_with_retry,
    endpoint_template,
    error_for,
    parse_retry_after,
    pause,
    request_stop,
    reset_stop,
    until_text,
)
from bridge.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from tests.fixtures.servicenow import SleepRecorder

BASE = "https://vendor.example"


def client(sleep: SleepRecorder, **options: object) -> HttpClient:
    opts = HttpOptions(base_url=BASE, requests_per_second=1000, burst=1000, max_attempts=4, backoff_base=0.5,
                       max_backoff=8.0, **options)  # type: ignore[arg-type]
    return HttpClient("vendor", opts, auth=("bridge-user", "s3cret-pass"), sleep=sleep,
                      headers={"X-Api-Key": "k3y-value"})


# ------------------------------------------------------------------------------ Retry-After


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    future = email.utils.format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(future, now) == 42.0
    past = email.utils.format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0
    for bad in (None, "", "soon", "-3"):
        assert parse_retry_after(bad, now) is None


@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_date_round_trips(seconds: int) -> None:
    now = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    header = email.utils.format_datetime(now + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now) == float(seconds)


# ------------------------------------------------------------------------------ retry policy


@responses.activate
def test_429_waits_for_retry_after_then_succeeds() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": "3"}, json={})
    responses.get(f"{BASE}/api/x", status=200, json={"ok": True})
    response = client(sleep).request("GET", "/api/x")
    assert response.json() == {"ok": True}
    assert len(sleep.waits) == 1
    assert 3.0 <= sleep.waits[0] <= 3.3  # Retry-After plus at most 10 % jitter


@responses.activate
def test_retry_after_http_date_is_honoured() -> None:
    sleep = SleepRecorder()
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": when})
    responses.get(f"{BASE}/api/x", status=200, json={})
    client(sleep).request("GET", "/api/x")
    assert 3.5 <= sleep.waits[0] <= 5.6


@responses.activate
def test_retry_after_within_the_cap_plus_jitter_is_capped_by_max_backoff() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": "8"})
    responses.get(f"{BASE}/api/x", status=200, json={})
    client(sleep).request("GET", "/api/x")
    assert sleep.waits == [8.0]  # 8 s plus up to 10 % jitter, capped at max_backoff


@responses.activate
def test_a_retry_after_beyond_the_cap_closes_the_side_until_it_ends() -> None:
    """Issue 15: a 10-hour Retry-After was capped to 60 s and retried six times inside the window."""
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": "36000"})
    responses.get(f"{BASE}/api/x", status=200, json={})
    http = client(sleep)
    before = datetime.now(UTC)
    with pytest.raises(RateLimitWindowError) as caught:
        http.request("GET", "/api/x")
    assert sleep.waits == []  # no sleep, no retry inside the vendor's window
    assert len(responses.calls) == 1
    until = caught.value.until
    assert before + timedelta(seconds=35990) <= until <= datetime.now(UTC) + timedelta(seconds=36010)
    assert f"rate-limited until {until_text(until)}" in str(caught.value)
    assert isinstance(caught.value, RateLimitedError)  # the executor leaves the action pending
    with pytest.raises(RateLimitWindowError, match="not sent"):
        http.request("POST", "/api/y", json={"text": "a comment"}, idempotent=False)
    assert len(responses.calls) == 1  # nothing was sent inside the window
    http.closed_until = datetime.now(UTC) - timedelta(seconds=1)  # the window ends
    assert http.request("GET", "/api/x").status_code == 200


def test_until_text_shows_the_date_only_for_another_day() -> None:
    now = datetime.now(UTC)
    assert until_text(now.replace(hour=17, minute=42)) == "17:42Z"
    assert until_text(now + timedelta(days=2)).startswith((now + timedelta(days=2)).strftime("%Y-%m-%d "))


@responses.activate
def test_a_stop_request_wakes_the_backoff_and_ends_the_retries() -> None:
    """A stopping process re-raises the last error instead of waiting or sending again."""
    responses.get(f"{BASE}/api/x", status=503, headers={"Retry-After": "50"})  # within the cap: waited
    responses.get(f"{BASE}/api/x", status=200, json={})
    opts = HttpOptions(base_url=BASE, max_attempts=6, backoff_base=30.0, max_backoff=60.0)
    http = HttpClient("vendor", opts)  # the real, stop-aware sleep
    timer = threading.Timer(0.3, request_stop)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(RateLimitedError) as caught:
            http.request("GET", "/api/x")
    finally:
        timer.cancel()
        reset_stop()
    assert caught.value.status == 503
    assert len(responses.calls) == 1
    assert time.monotonic() - started < 5


def test_pause_and_the_budget_wake_on_stop() -> None:
    bucket = TokenBucket(rate=0.01, burst=1)  # the second token comes after 100 s
    bucket.acquire()
    threading.Timer(0.2, request_stop).start()
    started = time.monotonic()
    try:
        bucket.acquire()
        pause(100)
    finally:
        reset_stop()
    assert time.monotonic() - started < 5


@responses.activate
def test_transient_errors_are_retried_a_bounded_number_of_times() -> None:
    sleep = SleepRecorder()
    for status in (502, 503, 504, 500):
        responses.get(f"{BASE}/api/x", status=status)
    http = client(sleep)
    with pytest.raises(TransientError) as caught:
        http.request("GET", "/api/x")
    assert caught.value.status == 500
    assert len(responses.calls) == 4  # max_attempts
    assert len(sleep.waits) == 3
    for attempt, wait in enumerate(sleep.waits, start=1):
        assert 0 <= wait <= min(8.0, 0.5 * 2 ** (attempt - 1))  # full-jitter exponential backoff


@responses.activate
def test_a_persistent_429_ends_as_rate_limited_error() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as caught:
        client(sleep).request("GET", "/api/x")
    assert caught.value.retry_after == 2.0
    assert len(responses.calls) == 4


@responses.activate
@pytest.mark.parametrize(("status", "error"), [(400, PermanentError), (401, AuthError), (403, PermanentError),
                                               (404, NotFoundError), (409, PermanentError), (422, PermanentError)])
def test_client_errors_are_not_retried(status: int, error: type[Exception]) -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=status, body="refused")
    with pytest.raises(error):
        client(sleep).request("GET", "/api/x")
    assert len(responses.calls) == 1
    assert sleep.waits == []


@responses.activate
def test_non_idempotent_writes_are_retried_only_when_certainly_not_processed() -> None:
    sleep = SleepRecorder()
    responses.patch(f"{BASE}/api/x", status=502)
    http = client(sleep)
    with pytest.raises(TransientError):
        http.request("PATCH", "/api/x", json={"comments": "x"}, idempotent=False)
    assert len(responses.calls) == 1  # a 502 may have been applied: never repeated
    responses.replace(responses.PATCH, f"{BASE}/api/x", status=429, headers={"Retry-After": "1"})
    responses.add(responses.PATCH, f"{BASE}/api/x", status=200, json={})
    http.request("PATCH", "/api/x", json={"comments": "x"}, idempotent=False)
    assert len(responses.calls) == 3  # a 429 was refused before processing: retried


def test_refused_connections_are_retried_even_for_writes() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = SleepRecorder()
    http = HttpClient("vendor", HttpOptions(base_url=f"http://127.0.0.1:{port}", max_attempts=3,
                                            backoff_base=0.01, connect_timeout=1.0), sleep=sleep)
    with pytest.raises(TransientError):
        http.request("PATCH", "/api/x", json={}, idempotent=False)
    assert len(sleep.waits) == 2
    assert http.counter.snapshot() == {"PATCH /api/x": 3}


def test_call_with_retry_retries_transient_only() -> None:
    sleep = SleepRecorder()
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientError("blip")
        return "done"

    assert call_with_retry(flaky, max_attempts=5, sleep=sleep) == "done"
    assert len(sleep.waits) == 2

    def refused() -> str:
        attempts.append(1)
        raise PermanentError("no")

    attempts.clear()
    with pytest.raises(PermanentError):
        call_with_retry(refused, sleep=sleep)
    assert len(attempts) == 1


# ------------------------------------------------------------------------------ budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_allows_a_burst_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)
    assert bucket.acquire() == pytest.approx(0.5)
    clock.now += 10  # idle: refills, but only up to the burst
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.5)


@given(rate=st.floats(0.5, 50), burst=st.integers(1, 20), count=st.integers(1, 60))
def test_token_bucket_never_exceeds_its_rate(rate: float, burst: int, count: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(count):
        bucket.acquire()
    assert clock.now - start >= max(0, count - burst) / rate - 1e-6


def test_token_bucket_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0, burst=1)


@responses.activate
def test_client_spends_the_budget() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", json={})
    http = HttpClient("vendor", HttpOptions(base_url=BASE, requests_per_second=1, burst=2), sleep=sleep)
    for _ in range(4):
        http.request("GET", "/api/x")
    assert len(sleep.waits) >= 1  # beyond the burst the client waits for tokens
    assert sum(sleep.waits) >= 1.0


# ------------------------------------------------------------------------------ templating, counting


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("get", "/browse/OPS-7/comment", "GET /browse/{id}/comment"),
        ("GET", "/x/issue/10001", "GET /x/issue/{id}"),
        ("PATCH", "/api/now/table/incident/9d385017c611228701d22104cc95c371", "PATCH /api/now/table/incident/{id}"),
        ("GET", "/api/now/table/incident", "GET /api/now/table/incident"),
        ("GET", "/api/now/table/sys_journal_field", "GET /api/now/table/sys_journal_field"),
        ("GET", "/REST/2.0/ticket/42?x=1", "GET /REST/2.0/ticket/{id}"),
        ("DELETE", "/x/123e4567-e89b-12d3-a456-426614174000", "DELETE /x/{id}"),
    ],
)
def test_endpoint_template(method: str, path: str, template: str) -> None:
    assert endpoint_template(method, path) == template


@responses.activate
def test_every_request_is_counted_per_endpoint_and_status() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/now/table/incident/9d385017c611228701d22104cc95c371", status=503)
    responses.get(f"{BASE}/api/now/table/incident/9d385017c611228701d22104cc95c371", json={})
    http = client(sleep)
    http.request("GET", "/api/now/table/incident/9d385017c611228701d22104cc95c371")
    assert http.counter.snapshot() == {"GET /api/now/table/incident/{id}": 2}
    assert http.counter.statuses() == {("GET /api/now/table/incident/{id}", 503): 1,
                                       ("GET /api/now/table/incident/{id}", 200): 1}


# ------------------------------------------------------------------------------ errors and hygiene


@responses.activate
def test_errors_carry_the_vendor_message_but_no_secrets() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=403, json={"error": {"message": "Forbidden here"}})

    def vendor(response: requests.Response) -> str | None:
        return response.json()["error"]["message"]

    http = HttpClient("vendor", HttpOptions(base_url=BASE), auth=("bridge-user", "s3cret-pass"),
                      headers={"X-Api-Key": "k3y-value"}, vendor_message=vendor, sleep=sleep)
    with pytest.raises(PermanentError) as caught:
        http.request("GET", "/api/x", params={"token": "q-secret"})
    text = str(caught.value)
    assert "Forbidden here" in text
    assert "GET /api/x -> 403" in text
    for secret in ("s3cret-pass", "k3y-value", "q-secret", "Authorization", "X-Api-Key", "bridge-user"):
        assert secret not in text
        assert secret not in repr(caught.value.args)


@responses.activate
def test_unparseable_vendor_bodies_fall_back_to_short_plain_text() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=400, body="<html><body>proxy error</body></html>")
    responses.get(f"{BASE}/api/y", status=400, body="plain words")

    def vendor(response: requests.Response) -> str | None:
        return response.json()["message"]  # ValueError for non-JSON

    http = HttpClient("vendor", HttpOptions(base_url=BASE), vendor_message=vendor, sleep=sleep)
    with pytest.raises(PermanentError) as html:
        http.request("GET", "/api/x")
    assert html.value.vendor_message is None
    with pytest.raises(PermanentError) as plain:
        http.request("GET", "/api/y")
    assert plain.value.vendor_message == "plain words"


@responses.activate
def test_error_for_maps_statuses() -> None:
    responses.get(f"{BASE}/s", status=503, headers={"Retry-After": "4"})
    responses.get(f"{BASE}/t", status=408)
    limited = error_for(requests.get(f"{BASE}/s", timeout=1), side="vendor")
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 4.0
    assert type(error_for(requests.get(f"{BASE}/t", timeout=1), side="vendor")) is TransientError


@responses.activate
def test_requests_have_timeouts_tls_and_a_user_agent() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", json={})
    http = client(sleep, connect_timeout=3.0, read_timeout=9.0)
    http.request("GET", "/api/x")
    call = responses.calls[0]
    assert call.request.req_kwargs["timeout"] == (3.0, 9.0)
    assert http.session.verify is True
    assert call.request.headers["User-Agent"] == USER_AGENT
    assert call.request.headers["X-Api-Key"] == "k3y-value"


def test_read_timeouts_are_transient_and_not_repeated_for_writes() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            release.wait()  # never answers on its own: the read timeout is the only way out
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        sleep = SleepRecorder()
        http = HttpClient("vendor", HttpOptions(base_url=f"http://127.0.0.1:{server.server_address[1]}",
                                                read_timeout=0.1, max_attempts=4), sleep=sleep)
        with pytest.raises(TransientError, match="did not answer in time"):
            http.request("PATCH", "/api/x", json={}, idempotent=False)
        assert http.counter.snapshot() == {"PATCH /api/x": 1}
    finally:
        release.set()
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ vendor inspection


@responses.activate
def test_inspect_turns_a_success_into_the_vendors_error_without_retrying_it() -> None:
    """Jira answers 200 as anonymous after refusing the credentials: the connector's hook says so."""
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", json={}, headers={"X-Login": "FAILED"})

    def inspect(response: requests.Response) -> AuthError | None:
        return AuthError("served as anonymous", side="vendor") if response.headers.get("X-Login") else None

    opts = HttpOptions(base_url=BASE, requests_per_second=1000, burst=1000, max_attempts=4)
    http = HttpClient("vendor", opts, sleep=sleep, inspect=inspect)
    with pytest.raises(AuthError, match="anonymous"):
        http.request("GET", "/api/x")
    assert len(responses.calls) == 1
    assert http.counter.statuses() == {("GET /api/x", 200): 1}


@responses.activate
def test_inspect_returning_none_leaves_the_status_to_decide() -> None:
    sleep = SleepRecorder()
    responses.get(f"{BASE}/api/x", status=429, headers={"Retry-After": "2"})
    responses.get(f"{BASE}/api/x", json={"ok": True})
    opts = HttpOptions(base_url=BASE, requests_per_second=1000, burst=1000, max_attempts=4)
    http = HttpClient("vendor", opts, sleep=sleep, inspect=lambda response: None)
    assert http.request("GET", "/api/x").json() == {"ok": True}
    assert len(responses.calls) == 2


# ------------------------------------------------------------------------------ redirects


@responses.activate
def test_a_redirect_to_another_host_is_refused_naming_both_hosts() -> None:
    responses.get(f"{BASE}/api/x", status=302, headers={"Location": "https://elsewhere.example/api/x"})
    responses.get("https://elsewhere.example/api/x", status=200, json={})
    with pytest.raises(RedirectRefusedError) as caught:
        client(SleepRecorder()).request("GET", "/api/x")
    assert "https://vendor.example" in str(caught.value)
    assert "https://elsewhere.example" in str(caught.value)
    assert [c.request.url for c in responses.calls] == [f"{BASE}/api/x"]


@responses.activate
def test_a_307_on_a_post_is_never_followed_even_on_the_same_host() -> None:
    """A 307/308 keeps the body: following it would send a comment's text wherever Location points."""
    responses.post(f"{BASE}/api/comment", status=307, headers={"Location": "https://evil.example/collect"})
    responses.post("https://evil.example/collect", status=201, json={})
    responses.post(f"{BASE}/api/other", status=308, headers={"Location": f"{BASE}/api/moved"})
    responses.post(f"{BASE}/api/moved", status=201, json={})
    http = client(SleepRecorder())
    with pytest.raises(RedirectRefusedError, match=r"evil\.example"):
        http.request("POST", "/api/comment", json={"body": "private text"}, idempotent=False)
    with pytest.raises(RedirectRefusedError, match="POST"):
        http.request("POST", "/api/other", json={"body": "private text"})
    assert [c.request.url for c in responses.calls] == [f"{BASE}/api/comment", f"{BASE}/api/other"]


@responses.activate
def test_same_host_redirects_are_followed_for_get() -> None:
    responses.get(f"{BASE}/api/old", status=301, headers={"Location": "/api/new?page=2"})
    responses.get(f"{BASE}/api/new", status=200, json={"ok": True})
    response = client(SleepRecorder()).request("GET", "/api/old")
    assert response.json() == {"ok": True}
    assert responses.calls[1].request.url == f"{BASE}/api/new?page=2"


@responses.activate
def test_a_redirect_loop_ends_with_a_clear_error() -> None:
    responses.get(f"{BASE}/api/a", status=302, headers={"Location": f"{BASE}/api/a"})
    with pytest.raises(RedirectRefusedError, match="redirects"):
        client(SleepRecorder()).request("GET", "/api/a")


@responses.activate
def test_an_https_to_http_downgrade_counts_as_another_host() -> None:
    responses.get(f"{BASE}/api/x", status=301, headers={"Location": "http://vendor.example/api/x"})
    with pytest.raises(RedirectRefusedError, match=r"http://vendor\.example"):
        client(SleepRecorder()).request("GET", "/api/x")
