"""docs/operations.md is the operator's one document: every command the CLI has is in its table, and
it covers the operations the issue promised."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.cli import cli

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def test_every_command_is_in_the_commands_table() -> None:
    table = DOC.split("## 4. Commands", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `bridge ([a-z-]+)", table, re.MULTILINE))
    assert set(cli.commands) == documented


def test_the_promised_topics_have_sections() -> None:
    headings = [line for line in DOC.splitlines() if line.startswith("#")]
    text = "\n".join(headings).lower()
    for topic in ("install", "configure", "run", "upgrade", "back up and restore", "vendor restores",
                  "rotate credentials", "metrics and health", "alert rules", "error list", "two replicas",
                  "bridge doctor"):
        assert topic in text, f"no section about {topic}"


def test_the_table_of_contents_links_resolve() -> None:
    def anchor(heading: str) -> str:
        return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")

    anchors = {anchor(line.lstrip("#").strip()) for line in DOC.splitlines() if line.startswith("## ")}
    for target in re.findall(r"\]\(#([^)]+)\)", DOC):
        assert target in anchors, f"broken link #{target}"
