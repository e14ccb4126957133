"""What goes wrong, end to end: 429 storms, a record Jira refuses, bad credentials, a dead side, the lock.

The ``bridge`` executable runs as a subprocess against both sandboxes; the assertions read the exit code,
what the operator reads on stdout/stderr, and the sandboxes' own state and request counters.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the fixture module is loaded by pytest_plugins, so pytest rewrites it
    from tests.fixtures.e2e import BridgeEnv, Result

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e


def marker(sys_id: str) -> str:
    return f"itsm-incident-{sys_id}"


def sync(env: BridgeEnv) -> Result:
    result = env.bridge("sync", "--once")
    assert result.code == 0, result.output
    return result


# ------------------------------------------------------------------------------------------ 4 429s


@pytest.mark.slow
def test_a_429_storm_on_both_sides_ends_synced_without_a_busy_loop(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incidents = [env.snow.app.create_incident(f"Outage {n}", priority=2) for n in range(3)]
    for incident in incidents:
        env.snow.app.add_work_note("incident", incident["sys_id"], f"Seen first at 0{incident['number'][-1]}:00")
    # a burst of 429s (Retry-After 1 s), then at most 4 requests per second, on each side
    for side in (env.jira, env.snow):
        side.admin("POST", "/_sandbox/rate-limit", {"limit": 4, "window": 1.0, "burst": 3})

    started = time.monotonic()
    result = env.bridge("sync", "--once", "--stats")
    elapsed = time.monotonic() - started
    assert result.code == 0, result.output
    jira, snow = env.jira.stats(), env.snow.stats()
    for side in (env.jira, env.snow):
        side.admin("POST", "/_sandbox/rate-limit", {"limit": None})

    for incident in incidents:
        [issue] = env.jira.issues_labelled(marker(incident["sys_id"]))
        assert env.snow.app.record("incident", incident["sys_id"])["correlation_id"] == issue["key"]
        assert [c for c in issue["comments"] if "Seen first at" in c["body"]], issue
    # every 429 was waited out: the burst alone costs a second per refusal on each side
    assert jira["refused_429"] >= 3
    assert snow["refused_429"] >= 3
    assert elapsed >= 3.0
    # no busy loop: a handful of refusals and retries, not hundreds of requests
    for counters, most in ((jira, 60), (snow, 30)):
        assert counters["refused_429"] <= 12, counters
        assert counters["requests"] <= most, counters
    assert "actions:" in result.stdout
    # and the next cycle finds nothing left to do
    settled = env.sync_until_settled()
    assert len(settled) <= 2


# ---------------------------------------------------------------------------------------- 6 poison


def test_a_record_jira_refuses_goes_on_the_error_list_until_fixed_and_retried(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    # the admin mapped priority 3 to a name the Jira site does not have: Jira refuses those creates only
    path = env.mappings / "incident-to-bug.yaml"
    path.write_text(path.read_text().replace("      3: Medium\n", "      3: Normal\n"))
    poisoned = env.snow.app.create_incident("Timeout on checkout", priority=3)
    healthy = env.snow.app.create_incident("Cart loses items", priority=2)

    first = env.bridge("sync", "--once")
    assert first.code == 1, first.output
    assert len(env.jira.issues_labelled(marker(healthy["sys_id"]))) == 1  # the others sync
    assert env.jira.issues_labelled(marker(poisoned["sys_id"])) == []

    listed = env.bridge("errors")
    assert listed.code == 0, listed.output
    assert poisoned["number"] in listed.stdout
    assert "Specify a valid 'id' or 'name' for Priority" in listed.stdout  # Jira's own reason, readable
    assert healthy["number"] not in listed.stdout

    again = env.bridge("sync", "--once")  # nothing new: the entry stays, the rest is quiet
    assert env.jira.issues_labelled(marker(poisoned["sys_id"])) == []
    assert again.code in (0, 1), again.output

    env.snow.app.edit("incident", poisoned["sys_id"], priority=2)  # support re-rates it: a priority Jira knows
    retried = env.bridge("retry", "--all")
    assert retried.code == 0, retried.output
    assert "re-queued" in retried.stdout

    fixed = env.bridge("sync", "--once")
    assert fixed.code == 0, fixed.output
    [issue] = env.jira.issues_labelled(marker(poisoned["sys_id"]))
    assert issue["summary"] == f"{poisoned['number']}: Timeout on checkout"
    assert env.snow.app.record("incident", poisoned["sys_id"])["correlation_id"] == issue["key"]
    assert "the error list is empty" in env.bridge("errors").stdout
    assert len(env.jira.issues()) == 2


# ------------------------------------------------------------------------------------ 8 exit codes


def test_a_wrong_jira_token_exits_3_without_printing_it(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    env.snow.app.create_incident("Anything", priority=2)
    wrong = "wrong-token-3c9f1d7e"
    (env.root / "credentials" / "jira_token").write_text(wrong + "\n")
    result = env.bridge("sync", "--once")
    assert result.code == 3, result.output
    output = result.stdout + result.stderr
    assert "jira refused the credentials" in output, output
    assert "401" in output
    assert wrong not in output
    assert "sandbox-api-token" not in output
    assert "sandbox-password" not in output
    assert env.jira.issues() == []


def test_an_unreachable_servicenow_exits_3(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    env.write_config(snow_url=f"http://127.0.0.1:{closed}")
    result = env.bridge("sync", "--once")
    assert result.code == 3, result.output
    assert "servicenow unreachable" in result.stdout + result.stderr, result.output


def test_a_second_sync_while_bridge_run_holds_the_lock_exits_4(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    incident = env.snow.app.create_incident("Held", priority=2)
    daemon = env.start("run")
    env.wait_for(lambda: env.snow.app.record("incident", incident["sys_id"])["correlation_id"] != "", timeout=30)
    assert daemon.poll() is None, env.output_of(daemon)
    second = env.bridge("sync", "--once")
    assert second.code == 4, second.output
    assert "lock" in (second.stdout + second.stderr).lower()
    daemon.terminate()
    assert daemon.wait(timeout=20) == 0, env.output_of(daemon)
    assert sync(env).code == 0  # the lock went with the daemon
