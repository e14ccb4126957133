"""SIGTERM is obeyed within seconds whatever the vendor said (issue 15: 228 s against ``TimeoutStopSec=90s``).

``bridge run`` runs as a subprocess against the sandboxes, the ServiceNow sandbox told to answer every
request with 429: once with a 10-hour ``Retry-After`` (beyond the backoff cap: the side is closed until
then, the daemon neither sleeps nor retries inside the window), once with 50 s (within the cap: the
retry backoff sleeps, and the stop wakes it).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixture module is loaded by pytest_plugins, so pytest rewrites it
    from tests.fixtures.e2e import BridgeEnv

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = [pytest.mark.e2e]

#: what the issue asks: exit within 10 s of SIGTERM
STOP_WITHIN = 10.0


def _refuse_everything(env: BridgeEnv, retry_after: int) -> None:
    """Every request to the ServiceNow sandbox gets 429 with ``Retry-After: retry_after``."""
    env.snow.admin("POST", "/_sandbox/rate-limit", {"limit": 0, "window": retry_after})


def _stop(proc: subprocess.Popen[str]) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return time.monotonic() - started


def _log_lines(env: BridgeEnv, proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    lines = []
    for line in env.output_of(proc).splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_a_ten_hour_retry_after_is_not_retried_and_sigterm_exits_at_once(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    env.snow.app.create_incident("Login fails", priority=1)
    _refuse_everything(env, 36000)
    daemon = env.start("run")
    env.wait_for(lambda: "rate-limited until" in env.output_of(daemon), timeout=30)
    time.sleep(3)  # three intervals of 1 s: the mapping is skipped, nothing more reaches the vendor
    refused = env.snow.stats()["refused_429"]
    assert refused == 1, env.output_of(daemon)
    took = _stop(daemon)
    assert daemon.returncode == 0, env.output_of(daemon)
    assert took < STOP_WITHIN, f"stopped after {took:.1f} s"
    events = [line for line in _log_lines(env, daemon) if "rate-limited" in str(line.get("event", ""))]
    assert events, env.output_of(daemon)
    assert "until" in events[0]


def test_sigterm_wakes_a_retry_backoff_within_the_cap(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    env.snow.app.create_incident("Login fails", priority=1)
    _refuse_everything(env, 50)  # within the 60 s backoff cap: the HTTP layer sleeps and retries
    daemon = env.start("run")
    env.wait_for(lambda: env.snow.stats()["refused_429"] >= 1, timeout=30)
    time.sleep(1)  # well inside the 50 s wait
    took = _stop(daemon)
    assert daemon.returncode == 0, env.output_of(daemon)
    assert took < STOP_WITHIN, f"stopped after {took:.1f} s"
    assert env.snow.stats()["refused_429"] == 1  # no retry was sent after the stop
    assert "daemon stopped" in env.output_of(daemon)
