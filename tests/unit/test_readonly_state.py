"""Read-only commands never create a state database: they say where they looked and exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import cli
from bridge.errors import StoreError
from bridge.store import Store
from bridge.store.existing import StateMissingError, open_existing, require_state

REPO_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "incident-to-bug.yaml").write_text((REPO_MAPPINGS / "incident-to-bug.yaml").read_text())
    (tmp_path / "config.yaml").write_text(
        "jira:\n  url: https://example.atlassian.net\n  email: bridge@example.com\n"
        "itsm:\n  kind: servicenow\n  url: https://acme.service-now.com\n  username: bridge\n"
        "mappings:\n  directory: mappings\n"
        "logging:\n  level: CRITICAL\n"
    )
    return tmp_path


COMMANDS = [["errors"], ["links"], ["links", "--show", "INC0010001"], ["plan"], ["explain", "INC0010001"], ["doctor"]]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_read_only_command_without_a_database_exits_3_and_creates_none(site: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["--config", str(site / "config.yaml"), *args])
    assert result.exit_code == 3, result.output
    database = site / "bridge.sqlite3"  # the default next to the config file
    assert f"no state database at {database}" in result.output
    assert "/var/lib/bridge/bridge.sqlite3" in result.output  # the systemd StateDirectory, the likely place
    assert not database.exists()
    assert "the error list is empty" not in result.output


def test_require_state_accepts_an_existing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    with pytest.raises(StateMissingError) as missing:
        require_state(url)
    assert isinstance(missing.value, StoreError)  # exit code 3, as any state-store failure
    assert any(str(tmp_path / "state.sqlite3") in line for line in missing.value.problems)
    Store.open(url).close()
    require_state(url)
    open_existing(url).close()
