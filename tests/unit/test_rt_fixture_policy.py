"""Without RT installed the RT tests skip with a reason that says what to install."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.rt import RT_PREFIX, rt_available


def test_missing_rt_names_what_is_missing_and_how_to_install(tmp_path: Path) -> None:
    reason = rt_available(tmp_path / "no-rt-here")
    assert reason is not None
    assert "rt-server" in reason
    assert "apt install request-tracker5 rt5-db-sqlite rt5-standalone" in reason


def test_installed_rt_is_found_when_present() -> None:
    if (RT_PREFIX / "libexec" / "rt-server").exists():
        assert rt_available() is None
    else:
        assert rt_available() is not None
