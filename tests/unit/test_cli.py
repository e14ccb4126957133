"""The CLI frame, in process: version, check, exit codes, global options."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bridge import __version__
from bridge.cli import cli
from bridge.commands._common import GlobalOptions, bridge_command
from bridge.errors import AuthError
from bridge.logging import configure_logging, register_secret
from bridge.resources import git_revision

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"

VALID = """\
jira:
  url: https://example.atlassian.net
itsm:
  kind: rt
  url: https://rt.example.org
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    # The package version, then the git revision when bridge runs from a checkout (as the tests do).
    assert result.output.strip() == f"bridge {__version__} (git {git_revision()})"


def test_check_example_config(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--config", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "✔ configuration OK" in result.stdout
    assert "✖" not in result.stdout


def test_global_config_option(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", str(EXAMPLE), "check"])
    assert result.exit_code == 0, result.output


def test_check_reports_all_problems_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(VALID + "schedule:\n  interval_seconds: -5\n  misfire: 3\n")
    result = runner.invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "✖ configuration invalid: 2 problem(s)" in result.stdout
    assert f"✖ {config}:7: schedule.interval_seconds: " in result.stdout
    assert (
        f"✖ {config}:8: schedule.misfire: unknown key; did you mean 'misfire_grace_seconds'?" in result.stdout
    )


def test_check_missing_mappings_directory_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(VALID)
    result = runner.invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert f"✖ {tmp_path / 'mappings'}: mappings directory not found" in result.stdout
    (tmp_path / "mappings").mkdir()
    assert runner.invoke(cli, ["check", "--config", str(config)]).exit_code == 0


def test_check_uses_default_config_yaml(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(VALID)
    (tmp_path / "mappings").mkdir()
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert f"settings valid: {tmp_path / 'config.yaml'}" in result.stdout


def test_missing_explicit_config_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--config", str(tmp_path / "absent.yaml"), "check"])
    assert result.exit_code == 2
    assert "config file not found" in result.stdout


def test_bad_log_level_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--log-level", "loud", "check"])
    assert result.exit_code == 2


def test_plain_text_secret_warning_printed(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(VALID.replace("kind: rt", "kind: rt\n  token: rt-token-in-file"))
    (tmp_path / "mappings").mkdir()
    result = runner.invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 0
    assert f"⚠ {config}:5: itsm.token: secret written in plain text" in result.stdout
    assert "rt-token-in-file" not in result.output


def test_unexpected_error_exits_70_with_redacted_traceback(runner: CliRunner) -> None:
    """Any command wrapped by bridge_command: a bug is logged, secrets scrubbed, exit 70."""
    register_secret("token-in-traceback-123")

    @click.command()
    @click.option("--kind")
    @bridge_command
    def boom(kind: str) -> int:
        if kind == "auth":
            raise AuthError("refused", side="jira", status=401)
        raise RuntimeError("failed with token-in-traceback-123")

    configure_logging("INFO", "json")
    result = runner.invoke(boom, ["--kind", "bug"], obj=GlobalOptions())
    assert result.exit_code == 70
    assert "unexpected error" in result.stderr
    assert "RuntimeError" in result.stderr
    assert "token-in-traceback-123" not in result.output
    assert runner.invoke(boom, ["--kind", "auth"], obj=GlobalOptions()).exit_code == 3


def test_check_reports_mapping_errors_with_file_line_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    good = (Path(__file__).resolve().parents[2] / "mappings" / "incident-to-bug.yaml").read_text()
    (mappings / "good.yaml").write_text(good)
    broken = mappings / "broken.yaml"
    broken.write_text(
        "name: broken\n"
        "route:\n"
        "  record_type: incident\n"
        "target:\n"
        "  project: DEMO\n"
        "  isue_type: Bug\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(VALID + "mappings:\n  directory: mappings\n")
    result = runner.invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2, result.output
    # the typo is reported where it stands, with the key to write instead
    assert f"{broken}:6:3: target.isue_type" in result.stdout
    assert "issue_type" in result.stdout
    assert str(mappings / "good.yaml") not in result.stdout


def test_usage_error_in_a_command_body_exits_2(runner: CliRunner) -> None:
    """A usage problem only the body can see (e.g. conflicting arguments) is reported as click would."""

    @click.command()
    @bridge_command
    def picky() -> int:
        raise click.UsageError("give error ids or --all")

    result = runner.invoke(picky, [], obj=GlobalOptions())
    assert result.exit_code == 2
    assert "give error ids or --all" in result.stderr
    assert "unexpected error" not in result.stderr
