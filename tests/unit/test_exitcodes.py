"""The one mapping from exceptions to exit codes."""

from __future__ import annotations

import pytest

from bridge.errors import (
    AuthError,
    BridgeError,
    ConfigError,
    LockHeldError,
    MappingError,
    NotFoundError,
    RateLimitedError,
    SafetyRailError,
    StoreError,
    TransientError,
)
from bridge.exitcodes import ExitCode, exit_code_for


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("x", ["p"]), 2),
        (MappingError([]), 2),
        (AuthError("refused", side="jira", status=401), 3),
        (TransientError("timeout", side="itsm"), 3),
        (RateLimitedError("429", retry_after=3.0), 3),
        (NotFoundError("gone"), 3),
        (StoreError("db down"), 3),
        (LockHeldError("held"), 4),
        (SafetyRailError("empty side"), 1),
        (BridgeError("generic"), 70),
        (RuntimeError("bug"), 70),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_code_for(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code


def test_documented_values() -> None:
    assert [
        int(c)
        for c in (ExitCode.OK, ExitCode.RECORD_ERRORS, ExitCode.CONFIG, ExitCode.UNREACHABLE, ExitCode.LOCKED)
    ] == [0, 1, 2, 3, 4]
    assert ExitCode.SOFTWARE == 70
