"""Process exit codes of every bridge command, and the one function that maps errors to them.

Cron, systemd and monitoring act on the exit code alone, so each code means one thing an operator
does next:

====  ==============  =============================================================================
code  name            meaning / what to do
====  ==============  =============================================================================
0     OK              done
1     RECORD_ERRORS   finished, but some records failed: look at the error list
2     CONFIG          invalid configuration or mappings (also click's usage errors): fix the files
3     UNREACHABLE     a side (or the state database) unreachable, or authentication refused
4     LOCKED          another instance holds the lock: nothing to do, it is already running
70    SOFTWARE        unexpected error, a bug in bridge (``EX_SOFTWARE`` from sysexits.h); the
                      traceback is logged (redacted) — please report it
130   INTERRUPTED     stopped with Ctrl-C (SIGINT), by shell convention 128 + 2
====  ==============  =============================================================================
"""

from __future__ import annotations

from enum import IntEnum

from bridge.errors import (
    ConfigError,
    ConnectorError,
    LockHeldError,
    MappingError,
    SafetyRailError,
    StoreError,
)


class ExitCode(IntEnum):
    """See the module docstring for what each code tells the operator."""

    OK = 0
    RECORD_ERRORS = 1
    CONFIG = 2
    UNREACHABLE = 3
    LOCKED = 4
    SOFTWARE = 70
    INTERRUPTED = 130


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an exception that ended a command. Used by every CLI command.

    Order matters: :class:`LockHeldError` is a :class:`StoreError`, so it is tested first.
    Any :class:`ConnectorError` that escapes to the top means a whole side could not be used
    (per-record failures are caught by the cycle and end in the error list, exit code 1).
    A :class:`SafetyRailError` stops syncing some links but is not a bug: code 1.
    """
    if isinstance(exc, ConfigError | MappingError):
        return ExitCode.CONFIG
    if isinstance(exc, LockHeldError):
        return ExitCode.LOCKED
    if isinstance(exc, ConnectorError | StoreError):
        return ExitCode.UNREACHABLE
    if isinstance(exc, SafetyRailError):
        return ExitCode.RECORD_ERRORS
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.SOFTWARE
