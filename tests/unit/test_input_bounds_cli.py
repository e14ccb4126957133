"""A 50 MB mapping file (issue 15: it was accepted) is a located exit-2 error of ``bridge check`` and of
``bridge sync``, found without reading the file: the loader's bound is on the file's size."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge import yamlpos
from bridge.cli import cli

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "mappings" / "incident-to-bug.yaml").read_text(encoding="utf-8")
CONFIG = """\
jira:
  url: https://example.atlassian.net
itsm:
  kind: servicenow
  url: https://example.service-now.com
mappings:
  directory: mappings
"""


@pytest.mark.parametrize("command", [["check"], ["sync", "--once"]], ids=["check", "sync"])
def test_a_50_mb_mapping_file_is_exit_2_naming_the_file_and_the_limit(tmp_path: Path, command: list[str]) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    huge = mappings / "huge.yaml"
    with huge.open("w", encoding="utf-8") as out:
        out.write(GOOD)
        out.truncate(50_000_000)  # sparse: the size is what counts
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG + f"state:\n  url: sqlite:///{tmp_path / 'bridge.sqlite3'}\n")
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--config", str(config), *command],
                                env={"BRIDGE_CONFIG": None})
    assert result.exit_code == 2, result.output
    assert "huge.yaml" in result.output
    assert f"the file is 50000000 bytes; the limit is {yamlpos.MAX_FILE_BYTES}" in result.output
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 10
    assert not (tmp_path / "bridge.sqlite3").exists()
