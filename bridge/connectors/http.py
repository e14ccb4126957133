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
  a ``Retry-After`` longer than ``max_backoff`` is not slept through: the side is closed until then
  (:class:`RateLimitWindowError`, "rate-limited until 17:42Z") and no request is sent before it ends;
* wake from every wait (backoff, ``Retry-After``, the budget) as soon as the process is asked to stop
  (:data:`stopping`), so SIGTERM is obeyed within seconds whatever the vendor said;
* never follow a redirect to another host, and follow same-host redirects for GET only: a 307/308
  would replay a comment's text or a write's body to wherever the ``Location`` points;
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
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlparse

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_when_event_set,
)

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

#: Raised when this process is asked to stop (SIGTERM/SIGINT: :mod:`bridge.daemon`, the one-shot
#: commands). Process-wide on purpose: connectors are built far from the code that handles signals,
#: and a stopping process stops every side. Every wait of this layer wakes on it; :func:`reset_stop`
#: lowers it again for a new run in the same process (tests, the demo).
stopping = threading.Event()

#: The most redirects followed for one GET (all on the same host).
MAX_REDIRECTS = 5


def request_stop() -> None:
    """Wake every wait of the HTTP layer and let no retry begin: the process is stopping."""
    stopping.set()


def reset_stop() -> None:
    """Lower :data:`stopping` (a new run starts in this process)."""
    stopping.clear()


def pause(seconds: float) -> None:
    """``time.sleep`` that returns early when the process is asked to stop."""
    if seconds > 0:
        stopping.wait(seconds)


def _stop_aware(sleep: Callable[[float], None]) -> Callable[[float], None]:
    """The plain ``time.sleep`` (every connector's default) becomes :func:`pause`; an injected sleep
    (tests recording waits) is kept as it is."""
    return pause if sleep is time.sleep else sleep


class RateLimitWindowError(RateLimitedError):
    """The vendor asked for a pause longer than the backoff cap: this side is closed until ``until``.

    Never retried inside a cycle (six retries inside the vendor's window only lengthen it): the cycle
    ends for that side, the action stays pending, and the client refuses to send anything to the side
    before ``until`` (each refusal is this error again, without a request).
    """

    def __init__(self, message: str, *, until: datetime, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.until = until


def until_text(until: datetime) -> str:
    """``17:42Z`` today, ``2026-12-04 03:10Z`` on another day: how people read a rate-limit window."""
    now = datetime.now(UTC)
    when = until.astimezone(UTC)
    return when.strftime("%H:%MZ") if when.date() == now.date() else when.strftime("%Y-%m-%d %H:%MZ")


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
        stop=stop_after_attempt(max_attempts) | stop_when_event_set(stopping),
        wait=BackoffWait(backoff_base, max_backoff),
        sleep=_stop_aware(sleep),
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
        self._sleep = _stop_aware(sleep)
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is free; returns the seconds waited.

        A stopping process skips the wait: the budget is ours (below the vendor's limit), and the few
        requests that finish the action in hand must not hold SIGTERM up.
        """
        waited = 0.0
        while True:
            if stopping.is_set():
                return waited
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
        self._sleep = _stop_aware(sleep)
        #: the end of the vendor's rate-limit window when its ``Retry-After`` exceeded ``max_backoff``:
        #: nothing is sent to this side before then (see :class:`RateLimitWindowError`)
        self.closed_until: datetime | None = None
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
        #: the errors of the attempts so far: a retry woken by a stop re-raises the last one unsent
        failures: list[ConnectorError] = []

        def once() -> requests.Response:
            try:
                return attempt()
            except ConnectorError as exc:
                error = self._window(exc)
                failures.append(error)
                if error is exc:
                    raise
                raise error from None

        def attempt() -> requests.Response:
            self._refuse_while_closed(method, endpoint)
            if failures and stopping.is_set():
                raise failures[-1]
            try:
                response = self._send(method, self.url(path), params=params, json=json, endpoint=endpoint)
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
            retry=retry_if_exception_type(retry_on) & retry_if_not_exception_type(RateLimitWindowError),
            stop=stop_after_attempt(self.options.max_attempts) | stop_when_event_set(stopping),
            wait=BackoffWait(self.options.backoff_base, self.options.max_backoff),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_note_retry(self.counter),
        )
        return retrying(once)

    def _send(
        self, method: str, url: str, *, params: Mapping[str, Any] | None, json: Any, endpoint: str
    ) -> requests.Response:
        """One request, following redirects only to the same origin and only for GET.

        ``requests`` would follow any redirect, keeping the body of a 307/308 (it strips the
        credentials on another host, not the comment text being posted): API calls never need one, so
        a redirect elsewhere is a configuration problem to report, not a detour to take.
        """
        timeout = (self.options.connect_timeout, self.options.read_timeout)
        response = self.session.request(
            method, url, params=params, json=json, timeout=timeout, allow_redirects=False
        )
        hops = 0
        while response.is_redirect:
            source = response.url or url
            target = urljoin(source, response.headers["Location"])
            details: dict[str, Any] = {
                "side": self.side, "method": method, "endpoint": endpoint, "status": response.status_code
            }
            if _origin(target) != _origin(source):
                raise RedirectRefusedError(
                    f"{self.side}: refused to follow a redirect from {_host(source)} to another host "
                    f"{_host(target)} (set the side's url to the address the API answers on)",
                    **details,
                )
            if method.upper() != "GET":
                raise RedirectRefusedError(
                    f"{self.side}: refused to follow a redirect of a {method.upper()} to {urlparse(target).path} "
                    "(only reads follow redirects; set the side's url to the address the API answers on)",
                    **details,
                )
            if hops >= MAX_REDIRECTS:
                raise RedirectRefusedError(f"{self.side}: more than {MAX_REDIRECTS} redirects", **details)
            response.close()
            response = self.session.request("GET", target, timeout=timeout, allow_redirects=False)
            hops += 1
        return response

    def _window(self, error: ConnectorError) -> ConnectorError:
        """A ``Retry-After`` beyond ``max_backoff`` closes the side until it ends (see
        :class:`RateLimitWindowError`); any other error is returned as it is."""
        if (
            not isinstance(error, RateLimitedError)
            or isinstance(error, RateLimitWindowError)
            or error.retry_after is None
            or error.retry_after <= self.options.max_backoff
        ):
            return error
        until = datetime.now(UTC) + timedelta(seconds=error.retry_after)
        if self.closed_until is None or until > self.closed_until:
            self.closed_until = until
        return RateLimitWindowError(
            f"{self.side} rate-limited until {until_text(until)}",
            until=until,
            retry_after=error.retry_after,
            side=self.side,
            method=error.method,
            endpoint=error.endpoint,
            status=error.status,
            vendor_message=error.vendor_message,
        )

    def _refuse_while_closed(self, method: str, endpoint: str) -> None:
        """Inside a rate-limit window nothing is sent: each request fails at once, unsent."""
        until = self.closed_until
        if until is None:
            return
        left = (until - datetime.now(UTC)).total_seconds()
        if left <= 0:
            self.closed_until = None
            return
        raise RateLimitWindowError(
            f"{self.side} rate-limited until {until_text(until)} (not sent)",
            until=until, retry_after=left, side=self.side, method=method, endpoint=endpoint,
        )

    def close(self) -> None:
        self.session.close()


class RedirectRefusedError(PermanentError):
    """The vendor answered an API call with a redirect bridge will not follow (see :meth:`HttpClient._send`)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlparse(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _host(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else parts.netloc
