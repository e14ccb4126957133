"""structlog setup and secret redaction for every log line bridge writes.

Why one module: bridge talks to vendors with tokens and passwords, and the libraries it uses
(urllib3, requests, jira, apscheduler, alembic) log URLs, connection strings and sometimes headers
through the *standard* ``logging`` module. Redacting only structlog's own events would leave those
open, so both paths end in the same :class:`structlog.stdlib.ProcessorFormatter` and the same
redaction:

1. ``format_exc_info`` turns exceptions into text *first*, so tracebacks are scrubbed too;
2. :func:`redact` walks the event dict at any depth: values under keys that name a credential
   (token, password, secret, authorization, api_key, cookie ...) are replaced, and every known
   secret value is cut out of every string;
3. the renderer writes JSON lines (production, pipes, journald) or a console view (a terminal);
4. the rendered line is scrubbed once more, as a last guard against reprs that smuggle a secret
   past step 2.

Secrets are known from the settings (:func:`configure_logging`'s ``secrets``) and from
:func:`register_secret`, which code that obtains a credential later (an OAuth token, say) calls.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

#: Secrets shorter than this are not cut out of free text: a 1-3 character "password" would
#: shred every log line while protecting nothing. Keys naming a credential are still redacted.
MIN_SECRET_LENGTH = 4

#: Libraries whose loggers are routed through the redaction (they log URLs and headers).
LIBRARY_LOGGERS = ("urllib3", "requests", "jira", "apscheduler", "alembic", "sqlalchemy")
#: Libraries too talkative for the configured level: SQLAlchemy's engine logs every statement with its
#: parameters at INFO and result rows at DEBUG (customer data: never wanted in bridge's log); APScheduler
#: logs every job run at INFO (each second with a short interval); Alembic announces its context and each
#: migration at INFO on every start (bridge logs the migration itself). Their warnings still come through.
LIBRARY_FLOORS = {"sqlalchemy": logging.WARNING, "apscheduler": logging.WARNING, "alembic": logging.WARNING}

_SECRET_KEY = re.compile(
    r"(token|passw(or)?d|passwd|secret|authori[sz]ation|api[_-]?key|cookie|credential|private[_-]?key)",
    re.IGNORECASE,
)
# user:password@ in URLs (database URLs, proxies), and ?token=... style query parameters.
_URL_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):(?P<pw>[^@/\s]+)@")
_QUERY_SECRET = re.compile(
    r"(?P<key>(?:access_|refresh_|auth_)?(?:token|password|passwd|secret|api_?key))=(?P<val>[^&\s\"']+)",
    re.IGNORECASE,
)
# "Authorization: Bearer abc", "Cookie: a=b" as they appear in header dumps.
_HEADER_SECRET = re.compile(
    r"(?P<key>authorization|proxy-authorization|cookie|set-cookie|x-api-key)(?P<sep>['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<val>[^'\"\n,}]+)",
    re.IGNORECASE,
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_handler: logging.Handler | None = None


def is_secret_key(key: object) -> bool:
    """True when a mapping key names a credential, so its value must never be logged."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def register_secret(value: object) -> None:
    """Add a secret value to cut out of every later log line.

    Accepts ``str``, ``pydantic.SecretStr`` (anything with ``get_secret_value``) or ``None``
    (ignored), so callers can pass a settings field as is.
    """
    if value is None:
        return
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else value
    if not isinstance(text, str) or len(text) < MIN_SECRET_LENGTH:
        return
    global _pattern
    with _lock:
        if text in _secrets:
            return
        _secrets.add(text)
        # Longest first, so a secret containing another one is removed whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def clear_secrets() -> None:
    """Forget every registered secret (tests use this to stay independent of each other)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def scrub_text(text: str) -> str:
    """Remove known secret values and credential-looking fragments from free text."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('key')}={REDACTED}", text)
    return _HEADER_SECRET.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with secrets removed, at any depth of dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) and v is not None else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bytes):
        return scrub_text(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, bool | int | float):
        return value
    getter = getattr(value, "get_secret_value", None)
    if callable(getter):
        return REDACTED
    # Anything else is rendered by the renderer through repr()/str(): scrub that text now.
    return scrub_text(str(value))


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: :func:`redact` the event dict, keeping structlog's private keys."""
    private = {k: event_dict[k] for k in ("_record", "_from_structlog") if k in event_dict}
    cleaned = redact({k: v for k, v in event_dict.items() if k not in private})
    cleaned.update(private)
    return cleaned


def _scrub_rendered(_logger: WrappedLogger, _method: str, rendered: Any) -> Any:
    """Last guard after the renderer: the final line must not contain a known secret."""
    if isinstance(rendered, str):
        return scrub_text(rendered)
    if isinstance(rendered, bytes):
        return scrub_text(rendered.decode("utf-8", "replace"))
    return rendered


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # Exceptions become text BEFORE redaction, so secrets in tracebacks are scrubbed.
        structlog.processors.format_exc_info,
        redact_processor,
    ]


def configure_logging(
    level: str | int = "INFO",
    fmt: str = "auto",
    secrets: Iterable[object] = (),
    *,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the standard library's logging to write redacted lines.

    ``fmt`` is ``json``, ``console`` or ``auto`` (JSON unless ``stream`` is a terminal).
    ``secrets`` are values (str or SecretStr) to cut out of every line; more can be added later
    with :func:`register_secret`. May be called again (the CLI first configures from its flags,
    then again once the settings are loaded); the previous handler is replaced.
    """
    global _handler
    for secret in secrets:
        register_secret(secret)
    out = stream if stream is not None else sys.stderr
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("auto", "json", "console"):
        raise ValueError(f"unknown log format {fmt!r} (expected auto, json or console)")
    use_json = fmt == "json" or (fmt == "auto" and not _isatty(out))
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=_isatty(out))
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer, _scrub_rendered],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.setFormatter(formatter)

    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(numeric)
    _handler = handler
    for name in LIBRARY_LOGGERS:
        # Let the libraries' records reach the root handler (and its redaction), nowhere else.
        lib = logging.getLogger(name)
        lib.propagate = True
        floor = LIBRARY_FLOORS.get(name)
        if name == "apscheduler" and numeric <= logging.DEBUG:
            floor = None  # asked for DEBUG: the scheduler's job runs are what one is debugging
        lib.setLevel(logging.NOTSET if floor is None else max(floor, numeric))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: configure_logging runs twice at start-up and in tests.
        cache_logger_on_first_use=False,
    )


class _CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is *now*, not at configuration time, so replacing
    stderr (click's test runner, pytest's capture) never leaves a handler on a closed stream."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """The logger to use everywhere in bridge (``log = get_logger(__name__)``)."""
    return structlog.stdlib.get_logger(name)
