"""The real CLI as a subprocess must never print a secret: env, credential files or YAML.

Debug logging is on (the settings are logged at debug level), and both a failing and a valid
configuration are tried, in JSON and console formats. Every byte of stdout and stderr is searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SECRETS = {
    "env_jira": "ENVjiraTOKEN-7f3a9c",
    "cred_itsm": "CREDitsmPASSWORD-1b2c3d",
    "cred_state": "CREDstatePW-9e8d7c",
    "yaml_token": "YAMLitsmTOKEN-5a6b7c",
    "yaml_unknown": "YAMLtypoPASSWORD-3d4e5f",
}

BASE = """\
jira:
  url: https://example.atlassian.net
  email: ops@example.org
itsm:
  kind: servicenow
  url: https://example.service-now.com
state:
  url: postgresql+psycopg://bridge@db.example.internal/bridge
"""


def run_cli(tmp_path: Path, config_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    (tmp_path / "mappings").mkdir(exist_ok=True)
    creds = tmp_path / "creds"
    creds.mkdir(exist_ok=True)
    (creds / "itsm_password").write_text(SECRETS["cred_itsm"] + "\n")
    (creds / "state_password").write_text(SECRETS["cred_state"] + "\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BRIDGE_") and k not in ("CREDENTIALS_DIRECTORY",)
    }
    env.update(
        {
            "BRIDGE_JIRA__TOKEN": SECRETS["env_jira"],
            "BRIDGE_ITSM__USERNAME": "svc-bridge",
            "CREDENTIALS_DIRECTORY": str(creds),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--log-level", "DEBUG", *args, "check", "--config", str(config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    for name, secret in SECRETS.items():
        assert secret not in output, f"{name} leaked:\n{output}"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_failing_config_never_prints_secrets(tmp_path: Path, fmt: str) -> None:
    text = (
        BASE.replace("kind: servicenow", f"kind: servicenow\n  token: {SECRETS['yaml_token']}")
        + f"  pasword: {SECRETS['yaml_unknown']}\n"
        + "schedule:\n  interval_seconds: often\n"
    )
    result = run_cli(tmp_path, text, "--log-format", fmt)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "state.pasword: unknown key; did you mean 'password'?" in result.stdout
    # itsm has password (credentials) and token (YAML): reported, without values.
    assert "itsm: give either username + password or token" in result.stdout
    assert_no_secret(result)


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_valid_config_with_debug_logging_never_prints_secrets(tmp_path: Path, fmt: str) -> None:
    result = run_cli(tmp_path, BASE, "--log-format", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "settings loaded" in result.stderr  # the debug line that dumps the settings ran
    assert "postgresql+psycopg://bridge:***@db.example.internal/bridge" in result.stdout
    assert_no_secret(result)


def test_plain_text_yaml_secret_is_warned_but_not_printed(tmp_path: Path) -> None:
    text = BASE.replace("email: ops@example.org", f"email: ops@example.org\n  token: {SECRETS['yaml_token']}")
    result = run_cli(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "jira.token: secret written in plain text" in result.stdout
    assert_no_secret(result)
