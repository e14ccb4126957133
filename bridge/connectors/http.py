"""The shared HTTP layer: one session per side, timeouts, TLS, a rate budget, ONE retry layer, typed errors.

Why one layer: retries stacked in several places multiply (the ``jira`` library's own ``ResilientSession``
would sleep inside our retry and cannot read an HTTP-date ``Retry-After``), and a connector that forgets
a timeout hangs a daemon forever. Every adapter sends its requests through :class:`HttpClient` (the Jira
connector included: it speaks REST through it rather than through the ``jira`` library's session,
docs/connectors/jira.md "Transport"), so all of them:

* time out (connect and read) and verify TLS unless told otherwise;
* spend a client-side budget of requests per second (token bucket), below the vendor's published limits;
* retry connection errors, timeouts, 429 and 502/503/504 with jittered exponential backoff capped at
  ``max_backoff``, honouring ``Retry-After`` given in seconds or as an HTTP-date (RFC 9110 §10.2.3);
* raise :mod:`bridge.errors` exceptions carrying the vendor's own message, never credentials or bodies;
* count every request per endpoint template in a :class:`~bridge.callcount.CallCounter`.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from bridge import __version__
from bridge.callcount import CallCounter
from bridge.errors import (
    AuthError,
    ConnectorError,
    NotFoundError,
    NotSentError,
    PermanentError,
    RateLimitedError,
    TransientError,
)

USER_AGENT = f"bridge/{__version__} (+https://github.com/bridge-sync/bridge)"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Per-side HTTP behaviour, filled from the settings."""

    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    verify_tls: bool = True
    requests_per_second: float = 5.0
    burst: int = 10
    max_attempts: int = 6
    backoff_base: float = 0.5
    max_backoff: float = 60.0


# ------------------------------------------------------------------------------------- retry-after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date; ``None`` if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


class BackoffWait:
    """tenacity ``wait``: the vendor's ``Retry-After`` when given, else full-jitter exponential backoff."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            # Retrying early only earns a longer wait (Atlassian rate-limiting guide): honour it, plus
            # a little jitter so replicas do not return in lockstep; cap it so a daemon stays responsive.
            return min(self.cap, exc.retry_after + self.rng.uniform(0, 0.1 * max(exc.retry_after, 1.0)))
        exponent = min(state.attempt_number - 1, 30)
        return self.rng.uniform(0, min(self.cap, self.base * (2**exponent)))


def call_with_retry(
    fn: Callable[[], T],
    *,
    max_attempts: int = 6,
    backoff_base: float = 0.5,
    max_backoff: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    counter: CallCounter | None = None,
) -> T:
    """Run ``fn`` under the one retry policy; re-raise the last :class:`TransientError` when it persists.

    Each retry is noted in ``counter`` (``bridge_retries_total``)."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(max_attempts),
        wait=BackoffWait(backoff_base, max_backoff),
        sleep=sleep,
        reraise=True,
        before_sleep=_note_retry(counter),
    )
    return retrying(fn)


def _note_retry(counter: CallCounter | None) -> Callable[[RetryCallState], None] | None:
    """tenacity's ``before_sleep``: the one place every retry of every side passes."""
    if counter is None:
        return None

    def note(_state: RetryCallState) -> None:
        counter.note_retry()

    return note


# ------------------------------------------------------------------------------------------ budget


class TokenBucket:
    """A client-side request budget: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is free; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                # a hair of tolerance: refilling by exactly the computed delay can leave 0.999…, and a
                # clock that cannot represent the remaining femtoseconds would then loop forever
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                delay = (1 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay


# ---------------------------------------------------------------------------------------- counting

_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-f]{32}|[A-Z][A-Z0-9_]+-\d+|[0-9a-fA-F-]{36}|[A-Za-z0-9_]+-[a-f0-9]{6,})$"
)


def endpoint_template(method: str, path: str) -> str:
    """``GET /rest/api/3/issue/OPS-7/comment`` -> ``GET /rest/api/3/issue/{id}/comment``.

    Metrics must have bounded label values, so ids, keys and sys_ids in paths become ``{id}``.
    """
    raw = path.split("?")[0].split("/")
    # An API version right after ".../api/" (Jira's /rest/api/3) is part of the endpoint, not an id.
    segments = [
        seg if (i > 0 and raw[i - 1] == "api" and seg.isdigit() and len(seg) <= 2) or not _ID_SEGMENT.match(seg)
        else "{id}"
        for i, seg in enumerate(raw)
    ]
    return f"{method.upper()} {'/'.join(segments)}"


class BudgetAdapter(HTTPAdapter):
    """A transport adapter that spends the rate budget and counts every request sent through it.

    Mounted on any ``requests.Session`` (ours or the ``jira`` library's), so the budget and the counts
    cover every request whoever builds it.
    """

    def __init__(
        self,
        counter: CallCounter,
        bucket: TokenBucket | None,
        on_response: Callable[[str, int], None] | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.counter = counter
        self.bucket = bucket
        self.on_response = on_response

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.bucket is not None:
            self.bucket.acquire()
        endpoint = endpoint_template(request.method or "GET", urlparse(request.url or "").path)
        try:
            response = super().send(request, *args, **kwargs)
        except Exception:
            self.counter.count(endpoint, None)
            raise
        self.counter.count(endpoint, response.status_code)
        self.counter.note_server_date(response.headers.get("Date"))
        if self.on_response is not None:
            self.on_response(endpoint, response.status_code)
        return response


# ------------------------------------------------------------------------------------------ errors

VendorMessage = Callable[[requests.Response], str | None]


def plain_message(response: requests.Response) -> str | None:
    """Fallback vendor-message parser: a short plain-text body, else nothing."""
    text = (response.text or "").strip()
    return text[:200] if text and not text.startswith("<") else None


def error_for(
    response: requests.Response, *, side: str, vendor_message: VendorMessage = plain_message
) -> ConnectorError:
    """The typed error for an unsuccessful response (the caller decides what counts as success)."""
    status = response.status_code
    method = response.request.method if response.request is not None else None
    path = urlparse(response.url or "").path or None
    try:
        message = vendor_message(response)
    except ValueError:
        message = plain_message(response)
    kwargs: dict[str, Any] = {
        "side": side,
        "method": method,
        "endpoint": path,
        "status": status,
        "vendor_message": message,
    }
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        return RateLimitedError(
            f"{side} rate limit", retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if status == 401:
        return AuthError(f"{side} refused the credentials", **kwargs)
    if status == 404:
        return NotFoundError(f"{side}: not found or not visible to the account", **kwargs)
    if status >= 500 or status == 408:
        return TransientError(f"{side} server error", **kwargs)
    return PermanentError(f"{side} refused the request", **kwargs)


# ------------------------------------------------------------------------------------------ client



def never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection was refused or never established; False when it broke mid-request."""
    text = repr(exc.args)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "NameResolutionError"))


#: A vendor's own reading of an answer, before the status decides: the error a response hides (Jira
#: answers 200 as anonymous after refusing the credentials) or None to let :func:`error_for` decide.
Inspect = Callable[[requests.Response], ConnectorError | None]


class HttpClient:
    """A side's HTTP client: base URL, auth, timeouts, TLS, budget, retry, counting, typed errors.

    ``inspect`` sees every response first; an error it returns is raised as it is (retried only when it
    is a :class:`TransientError`), so a vendor's quirks stay in its connector, not in a second retry loop.
    """

    def __init__(
        self,
        side: str,
        options: HttpOptions,
        *,
        auth: requests.auth.AuthBase | tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        vendor_message: VendorMessage = plain_message,
        counter: CallCounter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        inspect: Inspect | None = None,
    ) -> None:
        self.side = side
        self.inspect = inspect
        self.options = options
        self.base_url = options.base_url.rstrip("/")
        self.counter = counter or CallCounter()
        self.vendor_message = vendor_message
        self._sleep = sleep
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = options.verify_tls
        self.session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": "application/json", **dict(headers or {})}
        )
        bucket = TokenBucket(options.requests_per_second, options.burst, sleep=sleep)
        adapter = BudgetAdapter(self.counter, bucket)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request (retried when transient) and return the response, or raise a typed error.

        ``idempotent=False`` is for writes that the vendor applies again when repeated (a ServiceNow
        journal PATCH appends a second entry): they are retried only when the vendor certainly did not
        process them (429, a refused connection); after a read timeout the error goes up and the
        executor reconciles by marker before it writes again.
        """
        endpoint = urlparse(self.url(path)).path

        def once() -> requests.Response:
            try:
                response = self.session.request(
                    method,
                    self.url(path),
                    params=params,
                    json=json,
                    timeout=(self.options.connect_timeout, self.options.read_timeout),
                )
            except requests.ConnectTimeout:
                raise NotSentError(f"{self.side} unreachable (connect timeout)", side=self.side,
                               method=method, endpoint=endpoint) from None
            except requests.ConnectionError as exc:
                cls = NotSentError if never_sent(exc) else TransientError
                raise cls(f"{self.side} unreachable ({type(exc).__name__})", side=self.side,
                          method=method, endpoint=endpoint) from None
            except requests.Timeout as exc:
                raise TransientError(f"{self.side} did not answer in time ({type(exc).__name__})",
                                     side=self.side, method=method, endpoint=endpoint) from None
            if self.inspect is not None and (error := self.inspect(response)) is not None:
                raise error
            if response.status_code not in ok:
                raise error_for(response, side=self.side, vendor_message=self.vendor_message)
            return response

        retry_on: type[BaseException] | tuple[type[BaseException], ...] = (
            TransientError if idempotent else (RateLimitedError, NotSentError)
        )
        retrying = Retrying(
            retry=retry_if_exception_type(retry_on),
            stop=stop_after_attempt(self.options.max_attempts),
            wait=BackoffWait(self.options.backoff_base, self.options.max_backoff),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_note_retry(self.counter),
        )
        return retrying(once)

    def close(self) -> None:
        self.session.close()
