"""Counting vendor calls, apart from the connector port so metrics can read the counts without
importing the connectors (the metrics module is below them in the layering)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class CallCounter:
    """Counts vendor calls per endpoint (``"GET /rest/api/3/issue/{id}"``-style templates) and status.

    Thread-safe, because the daemon's scheduler runs cycles in a worker thread while the metrics
    endpoint reads the totals.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()
        self._clock_offset: float | None = None
        self._window_time: datetime | None = None
        self._retries = 0

    def note_server_date(self, header: str | None, received: float | None = None) -> None:
        """Remember the vendor's clock from a response's ``Date`` header (RFC 9110 §6.6.1).

        ``received`` is the local Unix time the response arrived (default: now). ``bridge doctor``
        reads :attr:`clock_offset` after a connector's ``check()``: cursors and JQL's minute-granular
        date literals assume the two clocks roughly agree. A missing or unparsable header is ignored.
        """
        if not header:
            return
        try:
            server = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return
        if server.tzinfo is None:  # RFC 9110: an HTTP-date is always GMT
            server = server.replace(tzinfo=UTC)
        local = time.time() if received is None else received
        with self._lock:
            # The header truncates to the second: its middle is the best estimate of the server's time.
            self._clock_offset = server.timestamp() + 0.5 - local
            if self._window_time is None:
                self._window_time = server.astimezone(UTC)

    def note_server_time(self, when: datetime) -> None:
        """Remember the vendor's time of a response directly (fakes without HTTP headers)."""
        with self._lock:
            if self._window_time is None:
                self._window_time = when.astimezone(UTC)

    def start_window(self) -> None:
        """Start watching for the vendor's time: :attr:`window_time` is then the time of the first
        response after this call (the cycle calls it right before a change search)."""
        with self._lock:
            self._window_time = None

    @property
    def window_time(self) -> datetime | None:
        """The vendor's clock at the first response since :meth:`start_window` (``None``: none seen).

        After an idle cycle the cursor moves to this time minus the vendor's index lag: the search
        saw every change up to it, so the next overlap window need not start before the last burst.
        Truncated to the second, as HTTP dates are: earlier, never later, than the true time.
        """
        with self._lock:
            return self._window_time

    @property
    def clock_offset(self) -> float | None:
        """Seconds the vendor's clock is ahead of ours (negative: behind), from the last ``Date`` seen.

        HTTP dates have whole seconds, so anything within about a second is agreement.
        """
        with self._lock:
            return self._clock_offset

    def count(self, endpoint: str, status: int | None = None) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            if status is not None:
                self._statuses[(endpoint, status)] += 1

    def note_retry(self) -> None:
        """The shared HTTP layer is about to retry a call after a transient error (its retry callback)."""
        with self._lock:
            self._retries += 1

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def statuses(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._statuses)

    def since(self, earlier: Mapping[str, int]) -> dict[str, int]:
        """Calls made after ``earlier`` (a previous :meth:`snapshot`), endpoints with zero left out."""
        now = self.snapshot()
        return {k: v - earlier.get(k, 0) for k, v in now.items() if v - earlier.get(k, 0)}
