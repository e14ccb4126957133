"""Missing integration servers skip on a laptop but fail in CI (BRIDGE_REQUIRE_INTEGRATION=1)."""

from __future__ import annotations

import pytest

from tests.conftest import integration_unavailable


def test_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRIDGE_REQUIRE_INTEGRATION", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        integration_unavailable("no initdb")


def test_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_REQUIRE_INTEGRATION", "1")
    with pytest.raises(pytest.fail.Exception, match="no initdb"):
        integration_unavailable("no initdb")
