"""The systemd notification protocol (``sd_notify``), in a few lines instead of a C dependency.

``bridge.service`` is ``Type=notify``: systemd considers the daemon started only when it says
``READY=1``, so a configuration or store that fails to load makes ``systemctl start`` fail instead
of reporting a service that dies a second later. ``WatchdogSec=`` makes systemd restart a daemon
whose scheduler thread hangs: the daemon pings ``WATCHDOG=1`` at :func:`watchdog_interval`.

The protocol is one datagram of ``KEY=VALUE`` lines to the ``AF_UNIX`` socket named in
``$NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace (leading NUL byte).
Outside systemd (a terminal, cron, tests) ``$NOTIFY_SOCKET`` is unset and every call is a no-op
returning ``False``, so callers never need to ask where they run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


def _address(name: str) -> str | bytes:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (newline-separated ``KEY=VALUE`` lines) to systemd.

    Returns whether it was sent. A failure to send is logged, never raised: losing a status
    line must not stop a sync, and systemd's own timeouts report a daemon that never got ready.
    """
    env = os.environ if environ is None else environ
    name = env.get(NOTIFY_SOCKET_ENV)
    if not name:
        return False
    if not (name.startswith("/") or name.startswith("@")):
        log.warning("ignoring NOTIFY_SOCKET that is neither a path nor an abstract name", notify_socket=name)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(name))
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not notify systemd", notify_socket=name, error=str(exc))
        return False
    return True


def _with_status(state: str, status: str | None) -> str:
    if status is None:
        return state
    return f"{state}\nSTATUS={' '.join(status.splitlines())}"


def notify_ready(status: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd start-up is complete (settings, mappings, store and migrations loaded)."""
    return notify(_with_status("READY=1", status), environ)


def notify_stopping(status: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd a clean shutdown has begun (the current action is being finished)."""
    return notify(_with_status("STOPPING=1", status), environ)


def notify_watchdog(environ: Mapping[str, str] | None = None) -> bool:
    """Keep-alive ping; call at least every :func:`watchdog_interval` seconds."""
    return notify("WATCHDOG=1", environ)


def notify_status(status: str, environ: Mapping[str, str] | None = None) -> bool:
    """A free-form status line shown by ``systemctl status`` (e.g. the last cycle's outcome)."""
    return notify(_with_status("", status).lstrip("\n"), environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between two watchdog pings (half of ``WatchdogSec=``), or ``None`` when not watched.

    Half, as sd_watchdog_enabled(3) advises, so one late ping never gets the daemon killed.
    ``$WATCHDOG_PID``, when set, must be this process: a child started by the daemon must not
    believe it is the one being watched.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2
