"""Where the shipped examples are found, and what ``--version`` says, when bridge runs from a checkout
(the wheel's side is tests/e2e/test_install_wheel.py)."""

from __future__ import annotations

import re
from pathlib import Path

from bridge import __version__
from bridge.resources import example_config, example_mappings_dir, git_revision, version_text

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_uses_its_own_examples_no_copy() -> None:
    assert example_config() == ROOT / "config.example.yaml"
    assert example_mappings_dir() == ROOT / "mappings"
    assert not (ROOT / "bridge" / "_data").exists()  # the examples have one home in the repository


def test_version_text_is_the_version_and_the_revision_if_any() -> None:
    revision = git_revision()
    if (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{4,}", revision)
    assert version_text() == (f"{__version__} (git {revision})" if revision else __version__)
