"""The one exception tree of bridge.

Every error bridge raises on purpose is a :class:`BridgeError`. The tree says what the caller
should *do*, not where the error came from, so that the cycle, the CLI and the retry layer can
decide by type alone::

    BridgeError
    ├── ConfigError              invalid settings; CLI exit code 2
    ├── MappingError             invalid mapping file(s); CLI exit code 2
    │                              carries a list of MappingProblem (file, line, column, path, message, hint)
    ├── ConnectorError           anything a vendor side answered or failed to answer
    │   ├── TransientError       worth retrying as is: timeouts, connection resets, 5xx
    │   │   ├── RateLimitedError 429 (or 503 with Retry-After); carries retry_after seconds
    │   │   └── NotSentError     the request never reached the vendor (refused, connect timeout):
    │   │                          safe to repeat even for writes the vendor would apply twice
    │   ├── AuthError            401/403 on authentication: credentials missing, wrong or expired;
    │   │                          CLI exit code 3 when a whole side is refused
    │   ├── NotFoundError        404: the item does not exist or the account may not see it
    │   └── PermanentError       retrying will not help: validation 400, permission 403 on an
    │       │                      operation, 409/413/422, RT's "200 but failed" answers
    │       └── WorkflowError    no transition path to the target status, or a required
    │                              transition field the mapping does not provide
    ├── StoreError               the state store failed (connection, migration, integrity)
    │   ├── StoreUnavailableError  the SQLite file is read-only, damaged or on a full disk: retrying
    │   │                          cannot help until an operator acts; CLI exit code 3 with what to do
    │   └── LockHeldError        another process holds the mapping's lock; CLI exit code 4
    └── SafetyRailError          a side answered in a way that would be destructive to act on
                                   (e.g. an empty answer where links exist)

Rules that keep secrets and customer data out of logs:

* Messages carry the vendor's own error text (Jira ``errorMessages``/``errors``, ServiceNow
  ``error.message``/``detail``, RT ``message``), the HTTP method, the endpoint *path* and the status.
  Never the credentials, never headers, never a full request or response body.
* ``vendor_message`` is truncated to :data:`MAX_VENDOR_MESSAGE` characters.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_VENDOR_MESSAGE = 500


class BridgeError(Exception):
    """Base of every error bridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration is invalid. ``problems`` lists every problem found, not just the first."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """One thing wrong (or suspicious, when ``severity == "warning"``) in one mapping file."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.path or '<root>'}: {self.message}"
        if self.severity != "error":
            text = f"{text} [{self.severity}]"
        if self.hint:
            text = f"{text}\n    hint: {self.hint}"
        return text


class MappingError(BridgeError):
    """One or more mapping files are invalid; ``problems`` holds all of them at once."""

    def __init__(self, problems: list[MappingProblem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} mapping error(s)"
        super().__init__(head + ("\n" + "\n".join(str(p) for p in errors) if errors else ""))


class ConnectorError(BridgeError):
    """A vendor side failed. Subclasses say whether a retry can help."""

    def __init__(
        self,
        message: str,
        *,
        side: str | None = None,
        method: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        vendor_message: str | None = None,
    ) -> None:
        if vendor_message and len(vendor_message) > MAX_VENDOR_MESSAGE:
            vendor_message = vendor_message[: MAX_VENDOR_MESSAGE - 1] + "…"
        self.side = side
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.vendor_message = vendor_message
        parts = [message]
        where = " ".join(p for p in (method, endpoint) if p)
        if where:
            parts.append(f"({where}{f' -> {status}' if status is not None else ''})")
        if vendor_message:
            parts.append(f": {vendor_message}")
        super().__init__(" ".join(parts[:2]) + (parts[2] if len(parts) > 2 else ""))


class TransientError(ConnectorError):
    """Timeouts, connection errors, 502/503/504: retry with backoff, then leave the action pending."""


class RateLimitedError(TransientError):
    """429 (or 503 with Retry-After). ``retry_after`` is in seconds when the vendor said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class NotSentError(TransientError):
    """The request never reached the vendor (connection refused, connect timeout, name resolution).

    Unlike a read timeout, nothing can have been applied, so even a non-idempotent write (a journal
    entry, a comment) may be sent again at once.
    """


class AuthError(ConnectorError):
    """Credentials were refused. Retrying cannot help until an operator fixes them."""


class NotFoundError(ConnectorError):
    """The item does not exist, or the account may not see it (vendors answer 404 for both)."""


class MergedError(NotFoundError):
    """The item was merged into another one (Request Tracker): its id now answers with the survivor's data.

    Writing through the old id would land on the survivor, so the writer refuses and names the survivor
    (``survivor_id``, ``survivor_key``) for the engine to move or close the link.
    """

    def __init__(self, message: str, *, survivor_id: str, survivor_key: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.survivor_id = survivor_id
        self.survivor_key = survivor_key


class PermanentError(ConnectorError):
    """The vendor refused the request for a reason a retry will not change: goes to the error list."""


class WorkflowError(PermanentError):
    """No path through the workflow to the target status, or a transition field is missing."""


class StoreError(BridgeError):
    """The state store failed."""


class StoreUnavailableError(StoreError):
    """The state database cannot be used as it is (read-only, damaged, disk full, I/O error).

    ``problems`` are the lines that tell the operator what to do (printed under the message, like a
    configuration problem's); ``kind`` is ``read_only``, ``corrupt``, ``full`` or ``io``.
    """

    def __init__(self, message: str, problems: list[str], *, kind: str) -> None:
        super().__init__(message)
        self.problems = list(problems)
        self.kind = kind


class LockHeldError(StoreError):
    """Another bridge process holds the lock of this mapping (or of the whole store)."""


class SafetyRailError(BridgeError):
    """A side answered something that would be destructive to act upon; the cycle stops for it."""
