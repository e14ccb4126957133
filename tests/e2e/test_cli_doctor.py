"""``bridge doctor`` and ``bridge check --online`` as an operator runs them: the real Jira connector
against the Jira sandbox over HTTP, the in-memory ITSM passed to the CLI as a connector factory."""

from __future__ import annotations

import email.utils
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr
from ruamel.yaml import YAML

from bridge.bootstrap import ConnectorFactory
from bridge.cli import GlobalOptions, cli
from bridge.connectors.http import HttpOptions
from bridge.connectors.jira import JiraConnector
from bridge.connectors.memory import MemoryItsm
from bridge.settings import Settings
from bridge.store import Store, migrate
from tests.fixtures.engine import MAPPING
from tests.fixtures.jira_sandbox import FakeClock, JiraEnv, start_jira, stop_jira

BRIDGE_EMAIL = "bridge@example.com"
#: What a ``site`` runs against: the in-memory ITSM, the real Jira connector.
ITSM_IN_MEMORY: dict[str, ConnectorFactory] = {"servicenow": lambda settings: MemoryItsm()}


@pytest.fixture
def jira() -> Iterator[JiraEnv]:
    # The doctor compares the vendor's Date header with this host's clock: the sandbox must keep real time
    # here (the default FakeClock starts in March 2026, which the doctor rightly reports as skew).
    env = start_jira("cloud", clock=FakeClock(datetime.now(UTC)))
    yield env
    stop_jira(env)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jira: JiraEnv) -> Path:
    """A configured installation: config.yaml, one mapping, the sandbox's token in the environment."""
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIDGE_JIRA__TOKEN", "sandbox-api-token")
    write_mapping(tmp_path, MAPPING)
    write_config(tmp_path, jira.url)
    return tmp_path


def write_mapping(root: Path, mapping: dict[str, Any]) -> None:
    (root / "mappings").mkdir(exist_ok=True)
    with (root / "mappings" / f"{mapping['name']}.yaml").open("w") as out:
        YAML(typ="safe", pure=True).dump(mapping, out)


def write_config(root: Path, jira_url: str, state_url: str | None = None) -> None:
    state = state_url or f"sqlite:///{root / 'state' / 'bridge.sqlite3'}"
    (root / "config.yaml").write_text(
        f"jira:\n  url: {jira_url}\n  deployment: cloud\n  email: {BRIDGE_EMAIL}\n"
        "itsm:\n  kind: servicenow\n  url: https://itsm.example\n  username: bridge\n"
        f"state:\n  url: {state}\n"
        "mappings:\n  directory: mappings\n"
        "logging:\n  format: json\n  level: CRITICAL\n"
    )


def bridge(root: Path, *args: str, factories: dict[str, ConnectorFactory] | None = None) -> Result:
    options = GlobalOptions(connector_factories=factories)
    return CliRunner().invoke(cli, ["--config", str(root / "config.yaml"), *args], obj=options)


def lines_with(output: str, mark: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith(mark)]


def test_all_well_is_all_ticks_and_exit_0(site: Path) -> None:
    Store.open(f"sqlite:///{site / 'state' / 'bridge.sqlite3'}").close()
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 0, result.output
    assert not lines_with(result.output, "✖")
    out = result.output
    assert "✔ settings valid" in out
    assert "✔ 1 enabled mapping(s) of 1: incidents" in out
    assert f"✔ reachable; schema at revision {migrate.head_revision()} (current)" in out
    assert "✔ authenticated as Bridge Integration" in out
    assert "✔ project OPS (Operations)" in out
    assert "✔ incidents: issue type 'Bug' in OPS" in out
    assert "✔ permission CREATE_ISSUES in OPS" in out
    assert "✔ mapping incidents: table incident" in out  # the ITSM connector's own check
    assert "✔ clock agrees with this host" in out  # the sandbox's Date header
    assert "✔ incidents: not held: no bridge process is syncing it right now" in out
    assert "⚠ incidents: never synced" in out
    assert "✔ error list: empty" in out
    assert "no problem found" in out.splitlines()[-1]


def test_a_wrong_token_is_a_cross_with_a_hint_and_exit_3(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_JIRA__TOKEN", "not-the-token")
    Store.open(f"sqlite:///{site / 'state' / 'bridge.sqlite3'}").close()  # only the token is wrong
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 3, result.output
    [failed] = lines_with(result.output, "✖ Jira authentication failed")
    assert "not-the-token" not in result.output  # never echo a secret
    hint = result.output.split(failed, 1)[1].splitlines()[1]
    assert "→ create an API token" in hint
    assert "1 problem(s)" in result.output.splitlines()[-1]


def test_an_unreachable_side_is_a_cross_and_exit_3(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    write_config(site, f"http://127.0.0.1:{port}")

    def quick_jira(settings: Settings) -> JiraConnector:
        # the real adapter, with fewer retries than in production so the test does not wait 15 s
        http = HttpOptions(base_url=settings.jira.url, max_attempts=2, backoff_base=0.01, connect_timeout=2)
        return JiraConnector(settings.jira.url, deployment="cloud", email=BRIDGE_EMAIL,
                             token=SecretStr("sandbox-api-token"), http=http)

    result = bridge(site, "doctor", factories={**ITSM_IN_MEMORY, "jira": quick_jira})
    assert result.exit_code == 3, result.output
    [failed] = lines_with(result.output, "✖ Jira is not reachable")
    assert "unreachable" in failed
    assert "→ check jira.url and the network" in result.output


def test_a_mapping_naming_a_missing_project_is_a_cross(site: Path) -> None:
    write_mapping(site, {**MAPPING, "target": {"project": "NOPE", "issue_type": "Bug"}})
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 3, result.output
    assert lines_with(result.output, "✖ project NOPE does not exist or is not visible to the account")
    assert "→ check target.project and the account's Browse projects permission" in result.output
    online = bridge(site, "check", "--online", factories=ITSM_IN_MEMORY)
    assert online.exit_code == 3, online.output
    assert lines_with(online.output, "✖ project NOPE does not exist")


def test_check_online_passes_against_the_live_side(site: Path) -> None:
    result = bridge(site, "check", "--online", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 0, result.output
    assert "✔ incidents: status 'In Progress' exists in OPS" in result.output
    assert "✔ incidents: field 'priority' is priority" in result.output
    assert "both sides accept the mappings" in result.output
    offline = bridge(site, "check", factories=ITSM_IN_MEMORY)
    assert "authenticated" not in offline.output  # without --online no server is contacted


def test_an_invalid_configuration_is_exit_2(site: Path) -> None:
    (site / "config.yaml").write_text("jira:\n  url: not-a-url\n")
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 2, result.output
    assert "✖ configuration invalid" in result.output


def test_a_skewed_vendor_clock_is_reported(site: Path, jira: JiraEnv) -> None:
    skew = 600

    class SkewedDate(jira.server.httpd.RequestHandlerClass):  # type: ignore[name-defined,misc]
        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(time.time() + skew, usegmt=True)

    jira.server.httpd.RequestHandlerClass = SkewedDate
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 3, result.output
    [line] = lines_with(result.output, "✖ clock:")
    assert any(f"{seconds} s ahead of this host" in line for seconds in (599, 600, 601))
    assert "→ synchronise the clocks with NTP" in result.output


def test_an_old_schema_is_a_cross_and_the_doctor_does_not_migrate(site: Path) -> None:
    url = f"sqlite:///{site / 'state' / 'bridge.sqlite3'}"
    store = Store.open(url, migrate_schema=False)
    migrate.upgrade(store.engine, "0001")
    store.close()
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 3, result.output
    assert f"✖ schema at revision 0001, this bridge needs {migrate.head_revision()}" in result.output
    store = Store.open(url, migrate_schema=False)
    try:
        assert migrate.current_revision(store.engine) == "0001"
    finally:
        store.close()


def test_the_doctor_names_the_lock_holder_and_the_work(site: Path) -> None:
    store = Store.open(f"sqlite:///{site / 'state' / 'bridge.sqlite3'}")
    try:
        store.acquire_lock("incidents")
        store.record_cycle("incidents", ok=True)
        store.report_problem("incidents", "problem:x", "plan_problem", "template failed", item_ref="INC1")
        result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    finally:
        store.close()
    assert result.exit_code == 0, result.output
    assert f"✔ incidents: held by bridge@{socket.gethostname()}:{os.getpid()}" in result.output
    assert "✔ incidents: last successful cycle" in result.output
    assert "⚠ error list: 1 open entry" in result.output
    assert "→ `bridge errors` shows them" in result.output


def test_doctor_on_postgresql_names_the_replica_holding_the_lock(
    site: Path, jira: JiraEnv, postgres_url: str
) -> None:
    from tests.fixtures.store import _reset_postgres

    _reset_postgres(postgres_url)
    write_config(site, jira.url, state_url=postgres_url)
    store = Store.open(postgres_url)
    try:
        store.acquire_lock("incidents")
        result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    finally:
        store.close()
    assert result.exit_code == 0, result.output
    [line] = lines_with(result.output, "✔ incidents: held by")
    assert f"bridge@{socket.gethostname()}:{os.getpid()}" in line
    assert "from 127.0.0.1" in line
    assert postgres_url.split("@")[0].split(":")[-1] not in result.output  # the password stays masked



def test_doctor_against_both_sandboxes_with_the_real_connectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jira: JiraEnv
) -> None:
    from bridge.sandbox.server import SandboxServer
    from bridge.sandbox.servicenow import API_PASSWORD, API_USER, ServiceNowSandbox

    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIDGE_JIRA__TOKEN", "sandbox-api-token")
    snow = SandboxServer(ServiceNowSandbox()).start()
    try:
        write_mapping(tmp_path, {**MAPPING, "route": {"record_type": "incident",
                                                       "where": {"field": "category", "equals": "software"}}})
        write_config(tmp_path, jira.url)
        config = (tmp_path / "config.yaml").read_text()
        config = config.replace(
            "url: https://itsm.example\n  username: bridge", f"url: {snow.url}\n  username: {API_USER}"
        )
        (tmp_path / "config.yaml").write_text(config)
        monkeypatch.setenv("BRIDGE_ITSM__PASSWORD", API_PASSWORD)
        Store.open(f"sqlite:///{tmp_path / 'state' / 'bridge.sqlite3'}").close()  # a missing database is ✖
        result = bridge(tmp_path, "doctor")
        assert result.exit_code == 0, result.output
        assert f"✔ ServiceNow {snow.url}: reachable and authenticated" in result.output
        assert "✔ table incident readable" in result.output
        assert result.output.count("✔ clock agrees with this host") == 2  # both vendors' Date headers
        monkeypatch.setenv("BRIDGE_ITSM__PASSWORD", "not-the-password-42")
        refused = bridge(tmp_path, "doctor")
        assert refused.exit_code == 3, refused.output
        assert lines_with(refused.output, f"✖ ServiceNow {snow.url}: authentication")
        assert "not-the-password-42" not in refused.output
    finally:
        snow.stop()


def test_state_files_others_can_read_are_a_warning_with_the_fix(site: Path) -> None:
    database = site / "state" / "bridge.sqlite3"
    Store.open(f"sqlite:///{database}").close()
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert "readable by the group or others" not in result.output  # bridge created it 0600
    database.chmod(0o644)
    result = bridge(site, "doctor", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert "⚠ state files readable by the group or others: bridge.sqlite3 (rw-r--r--)" in result.output
    assert f"→ chmod 600 {database}; chmod 700 {database.parent}" in result.output
