"""``bridge check --online`` and ``bridge doctor`` on a healthy install: the shipped mappings against the
ServiceNow and Jira sandboxes (the demo's environment) pass, every line once, and ``--quiet`` is silent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import cli
from bridge.demo.environment import DemoEnvironment, demo_environment
from bridge.store import Store

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    with demo_environment(SHIPPED, workdir=tmp_path / "demo") as environment:
        for name, value in environment.settings_env({}).items():
            monkeypatch.setenv(name, value)
        for name in ("BRIDGE_CONFIG", "STATE_DIRECTORY"):
            monkeypatch.delenv(name, raising=False)
        yield environment


def bridge(env: DemoEnvironment, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(env.config_file), "--log-level", "CRITICAL", *args])


def test_check_online_with_the_shipped_mappings_exits_0(env: DemoEnvironment) -> None:
    result = bridge(env, "check", "--online")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "✖" not in out
    # the dot-walks the shipped incident mapping uses are checked through the reference
    assert "✔ incident.assignment_group.name exists" in out
    # each mapping listed with its system; the RT and JSM examples are skipped, not checked against ServiceNow
    assert "mapping incident-to-bug: ServiceNow incident → Jira DEMO Bug (enabled)" in out
    assert "mapping rt-incident-to-bug: Request Tracker Incidents" in out
    assert "not for itsm.kind servicenow: skipped online" in out
    assert "Incidents" not in out.split("both sides")[0].split("itsm:")[-1]
    for section in out.split("\njira: "):
        lines = [line for line in section.splitlines() if line.strip().startswith("✔")]
        assert len(lines) == len(set(lines)), "a finding printed twice"
    assert "status 'In Review' exists in DEMO" in out  # a status.to_itsm key, looked up in the workflows


def test_quiet_prints_only_problems(env: DemoEnvironment) -> None:
    result = bridge(env, "check", "--online", "--quiet")
    assert result.exit_code == 0, result.output
    assert "✔" not in "\n".join(result.output.splitlines()[:-2])


def test_doctor_on_a_healthy_install_exits_0(env: DemoEnvironment) -> None:
    Store.open(f"sqlite:///{env.workdir / 'bridge.sqlite3'}").close()
    result = bridge(env, "doctor")
    assert result.exit_code == 0, result.output
    assert "✖" not in result.output


def test_a_to_itsm_status_no_workflow_has_is_an_error_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    text = (SHIPPED / "incident-to-bug.yaml").read_text().replace("    In Review: 2", "    In Reveiw: 2")
    (mappings / "incident-to-bug.yaml").write_text(text)
    with demo_environment(mappings, workdir=tmp_path / "demo") as environment:
        for name, value in environment.settings_env({}).items():
            monkeypatch.setenv(name, value)
        offline = bridge(environment, "check")
        assert offline.exit_code == 0, offline.output
        assert "did you mean `In Review`?" in offline.output
        online = bridge(environment, "check", "--online", "--quiet")
    assert online.exit_code == 3, online.output
    assert "✖ incident-to-bug: status 'In Reveiw' exists in DEMO" in online.output
