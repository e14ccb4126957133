"""Promises the README makes that a test can keep: the quick start, and CI running it verbatim."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CI_RUN = ROOT / ".ci" / "run"


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the quick start has exactly one code block"
    return [line for line in blocks[0].splitlines() if line.strip()]


def test_quick_start_is_two_commands() -> None:
    assert quick_start_commands() == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = quick_start_commands()[1]
    lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    assert test_command in lines
    assert "set -euo pipefail" in lines
    assert "export BRIDGE_REQUIRE_INTEGRATION=1" in lines
    assert os.access(CI_RUN, os.X_OK)


def test_readme_documents_exit_codes_and_links_docs() -> None:
    for code in range(5):
        assert re.search(rf"^\| {code} ", README, re.MULTILINE)
    for doc in ("docs/mappings.md", "docs/operations.md", "docs/connectors.md"):
        assert f"({doc})" in README
