"""The status page in a real headless Chromium (Debian's ``chromium`` package): it renders, shows the
injected error entry, and no markup from a hostile record title became part of the document.

``--dump-dom`` prints the DOM as the browser built it: an unescaped ``<img onerror>`` or ``<script>``
would appear there as an element (and could have changed ``document.title``), escaped text does not.
Skips with the reason when Chromium is missing, fails instead under ``BRIDGE_REQUIRE_INTEGRATION=1`` (CI).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import integration_unavailable
from tests.fixtures.status import status_scene

pytestmark = pytest.mark.integration


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    integration_unavailable("chromium is not installed (Debian: apt-get install chromium)")
    raise AssertionError("unreachable")


def headless(binary: str, profile: Path, *args: str) -> str:
    result = subprocess.run(
        [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_page_renders_in_chromium_with_the_error_and_no_hostile_markup(tmp_path: Path) -> None:
    binary = chromium()
    with status_scene(tmp_path) as scene:
        dom = headless(binary, tmp_path / "profile", "--dump-dom", scene.url)
        shot = tmp_path / "page.png"
        headless(binary, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600", scene.url)

    assert "<title>bridge status</title>" in dom  # not 'pwned': no hostile script ran
    assert 'id="health">ok</span>' in dom
    assert f"<code>bridge retry {scene.error.id}</code>" in dom
    assert "INC0010042" in dom
    assert "<img" not in dom
    assert "<script" not in dom
    assert "&lt;img src=x onerror=" in dom  # the title is there, as text
    assert dom.count("<svg") >= 2  # the trend charts render inline
    assert shot.stat().st_size > 10_000  # a real rendering, not a blank page
