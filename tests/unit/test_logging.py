"""The redaction: at any depth, by key and by value, in tracebacks, and for stdlib loggers."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bridge.logging import (
    REDACTED,
    clear_secrets,
    configure_logging,
    get_logger,
    redact,
    redact_processor,
    register_secret,
    scrub_text,
)

SECRET = "s3cr3t-VALUE-42"


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def configure(fmt: str = "json", level: str = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, fmt, secrets=[SECRET], stream=stream)
    return stream


def test_secret_value_removed_at_any_depth() -> None:
    register_secret(SECRET)
    event = {
        "event": f"calling with {SECRET}",
        "nested": {"deeper": [{"x": f"pre-{SECRET}-post"}, (SECRET, 1)], "n": 3},
        "ok": "visible",
    }
    cleaned = redact_processor(None, "info", event)
    text = json.dumps(cleaned)
    assert SECRET not in text
    assert cleaned["ok"] == "visible"
    assert cleaned["nested"]["n"] == 3
    assert cleaned["nested"]["deeper"][0]["x"] == f"pre-{REDACTED}-post"


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "api_token",
        "Password",
        "db_passwd",
        "client_secret",
        "Authorization",
        "api_key",
        "apikey",
        "Cookie",
        "set-cookie",
        "X-Api-Key",
    ],
)
def test_keys_naming_credentials_are_redacted_at_depth(key: str) -> None:
    event = {"event": "x", "request": {"headers": [{key: "unknown-value-not-registered"}]}}
    cleaned = redact_processor(None, "info", event)
    assert cleaned["request"]["headers"][0][key] == REDACTED


def test_secretstr_and_url_credentials_and_query_tokens() -> None:
    assert redact({"v": SecretStr("abc-def-ghi")}) == {"v": REDACTED}
    assert (
        scrub_text("postgresql+psycopg://bridge:hunter2x@db/x")
        == f"postgresql+psycopg://bridge:{REDACTED}@db/x"
    )
    assert scrub_text("GET /api?access_token=abc123&x=1") == f"GET /api?access_token={REDACTED}&x=1"
    assert (
        scrub_text("headers: {'Authorization': 'Bearer abc.def'}")
        == f"headers: {{'Authorization': '{REDACTED}'}}"
    )


def test_short_secrets_are_not_used_for_text_replacement() -> None:
    register_secret("ab")
    assert scrub_text("a table about abc") == "a table about abc"


def test_register_secret_accepts_secretstr_and_none() -> None:
    register_secret(None)
    register_secret(SecretStr("late-token-value"))
    assert scrub_text("x late-token-value y") == f"x {REDACTED} y"


def test_longest_secret_wins() -> None:
    register_secret("abcd")
    register_secret("abcdefgh")
    assert scrub_text("abcdefgh") == REDACTED


@given(st.text(min_size=4, max_size=40), st.text(max_size=20), st.text(max_size=20))
def test_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    register_secret(secret)
    assert secret not in scrub_text(before + secret + after)


def test_json_lines_with_iso_utc_timestamp_and_redaction() -> None:
    stream = configure("json")
    get_logger("bridge.test").info("hello", token="abc", detail={"password": "p"}, text=f"x{SECRET}x")
    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "hello"
    assert line["level"] == "info"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", line["timestamp"])
    assert line["token"] == REDACTED
    assert line["detail"]["password"] == REDACTED
    assert line["text"] == f"x{REDACTED}x"


def test_exception_text_is_formatted_then_scrubbed() -> None:
    stream = configure("json")
    try:
        raise RuntimeError(f"connect failed for https://user:{SECRET}@host/ with {SECRET}")
    except RuntimeError:
        get_logger("bridge.test").exception("boom")
    output = stream.getvalue()
    assert SECRET not in output
    line = json.loads(output.strip())
    assert "Traceback" in line["exception"]
    assert "RuntimeError: connect failed" in line["exception"]


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_stdlib_library_loggers_are_redacted(fmt: str) -> None:
    stream = configure(fmt)
    lib = logging.getLogger("urllib3.connectionpool")
    lib.debug('https://host:443 "GET /rest?token=%s HTTP/1.1" 200 None', SECRET)
    logging.getLogger("jira").warning("headers %s", {"Authorization": "Basic dXNlcjpwYXNz"})
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("apscheduler.scheduler").exception("job failed")
    output = stream.getvalue()
    assert SECRET not in output
    assert "dXNlcjpwYXNz" not in output
    assert "GET /rest?token=" in output
    assert "job failed" in output
    assert "ValueError" in output


def test_console_format_is_redacted_including_traceback() -> None:
    stream = configure("console")
    try:
        raise KeyError(SECRET)
    except KeyError:
        get_logger("bridge.test").exception("failed", password=SECRET)
    output = stream.getvalue()
    assert "failed" in output
    assert "KeyError" in output
    assert SECRET not in output


def test_late_registered_secret_is_redacted() -> None:
    stream = configure("json")
    register_secret("oauth-late-abcdef")
    get_logger().info("got oauth-late-abcdef")
    assert "oauth-late-abcdef" not in stream.getvalue()


def test_level_filters_debug() -> None:
    stream = configure("json", level="INFO")
    get_logger("bridge.test").debug("invisible")
    logging.getLogger("urllib3").debug("invisible too")
    assert stream.getvalue() == ""


def test_auto_format_is_json_when_not_a_tty() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream=stream)
    structlog.get_logger().info("auto")
    assert json.loads(stream.getvalue())["event"] == "auto"


def test_bad_level_or_format_rejected() -> None:
    with pytest.raises(ValueError, match="level"):
        configure_logging("LOUD", "json", stream=io.StringIO())
    with pytest.raises(ValueError, match="format"):
        configure_logging("INFO", "xml", stream=io.StringIO())
