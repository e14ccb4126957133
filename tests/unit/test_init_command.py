"""``bridge init``: a config and the mappings for the chosen systems that ``bridge check`` accepts, never
overwriting without --force, refusing a directory set up for other systems."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from bridge.bootstrap import check_configuration
from bridge.cli import cli
from bridge.mapping.loader import load_mappings
from bridge.settings import load_settings

EXPECTED = {
    "servicenow": {"change-to-story.yaml", "incident-to-bug.yaml", "problem-to-bug.yaml"},
    "rt": {"rt-incident-to-bug.yaml"},
    "jsm": {"jsm-request-to-bug.yaml"},
}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def init(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["init", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("jira", ["cloud", "datacenter"])
@pytest.mark.parametrize("itsm", ["servicenow", "rt", "jsm"])
def test_init_writes_a_setup_that_checks(runner: CliRunner, tmp_path: Path, itsm: str, jira: str) -> None:
    target = tmp_path / "etc"
    code, output = init(runner, str(target), "--itsm", itsm, "--jira", jira)
    assert code == 0, output
    assert {p.name for p in (target / "mappings").iterdir()} == EXPECTED[itsm]
    settings = load_settings(target / "config.yaml", env={})
    assert (settings.itsm.kind, settings.jira.deployment) == (itsm, jira)
    assert settings.warnings == []  # no secret written into the file
    assert [p for p in check_configuration(settings) if p.severity == "error"] == []
    loaded = load_mappings(target / "mappings")
    assert loaded.mappings
    assert all(m.mapping.enabled for m in loaded.mappings)
    # The next three steps: credential files, check, check --online.
    assert "credentials/jira_token" in output
    assert f"--config {target / 'config.yaml'} check\n" in output
    assert f"--config {target / 'config.yaml'} check --online" in output
    check = runner.invoke(cli, ["--config", str(target / "config.yaml"), "check"])
    assert check.exit_code == 0, check.output


def test_the_config_keeps_the_examples_comments(runner: CliRunner, tmp_path: Path) -> None:
    init(runner, str(tmp_path), "--itsm", "rt")
    text = (tmp_path / "config.yaml").read_text()
    assert "written by `bridge init --itsm rt --jira cloud`" in text
    assert "# Secrets do not belong here." in text
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) > 30


def test_init_never_overwrites_without_force(runner: CliRunner, tmp_path: Path) -> None:
    init(runner, str(tmp_path))
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("your-instance", "acme"))
    code, output = init(runner, str(tmp_path))
    assert code == 0
    assert "acme" in config.read_text()
    assert f"kept     {config} (differs from the example; --force replaces it)" in output
    assert "(unchanged)" in output  # the mappings, written identical
    code, output = init(runner, str(tmp_path), "--force")
    assert code == 0
    assert "acme" not in config.read_text()
    assert f"replaced {config}" in output


def test_init_refuses_a_directory_set_up_for_another_itsm(runner: CliRunner, tmp_path: Path) -> None:
    init(runner, str(tmp_path), "--itsm", "rt")
    before = (tmp_path / "config.yaml").read_text()
    code, output = init(runner, str(tmp_path), "--itsm", "servicenow")
    assert code == 2
    assert "already holds a setup for itsm.kind rt" in output
    assert (tmp_path / "config.yaml").read_text() == before
    assert not (tmp_path / "mappings" / "incident-to-bug.yaml").exists()
    code, output = init(runner, str(tmp_path), "--jira", "datacenter", "--itsm", "rt")
    assert code == 2
    assert "jira.deployment cloud" in output


def test_force_replaces_the_setup_and_its_examples(runner: CliRunner, tmp_path: Path) -> None:
    init(runner, str(tmp_path), "--itsm", "rt")
    code, output = init(runner, str(tmp_path), "--itsm", "jsm", "--force")
    assert code == 0, output
    assert {p.name for p in (tmp_path / "mappings").iterdir()} == EXPECTED["jsm"]
    data = YAML(typ="safe").load((tmp_path / "config.yaml").read_text())
    assert data["itsm"]["kind"] == "jsm"


def test_init_refuses_a_foreign_mapping_even_without_a_config(runner: CliRunner, tmp_path: Path) -> None:
    own = tmp_path / "mappings" / "my-incidents.yaml"
    own.parent.mkdir()
    own.write_text("name: mine\nroute:\n  record_type: incident\ntarget: {project: X, issue_type: Bug}\n")
    code, output = init(runner, str(tmp_path), "--itsm", "rt")
    assert code == 2
    assert f"already holds a mapping for servicenow: {own}" in output
    code, output = init(runner, str(tmp_path), "--itsm", "rt", "--force")
    assert code == 2  # --force never deletes a mapping the operator wrote
    assert own.exists()


def test_init_into_a_file_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    code, _ = init(runner, str(tmp_path / "f"))
    assert code == 2
