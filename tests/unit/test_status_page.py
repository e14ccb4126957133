"""The status page over HTTP: content, escaping, loopback-only, basic and bearer auth."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr, ValidationError

from bridge.status.config import StatusPageSettings
from tests.fixtures.status import HOSTILE, status_scene


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    response = requests.get(url, headers=headers or {}, timeout=30)
    return response.status_code, dict(response.headers.items()), response.text


def test_the_page_shows_mappings_errors_actions_and_charts_escaped(tmp_path: Path) -> None:
    with status_scene(tmp_path) as scene:
        status, headers, body = get(scene.url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert '<span class="ok" id="health">ok</span>' in body
    assert '<td>incidents</td><td><span class="ok">ok</span></td>' in body
    assert f"<code>bridge retry {scene.error.id}</code>" in body
    assert "INC0010042" in body
    assert "template_error" in body
    assert "bridge links --show OPS-1" in body
    assert body.count("<svg") >= 2
    assert HOSTILE not in body
    assert "<script" not in body
    assert "<img" not in body
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;" in body


def test_remote_clients_are_refused_unless_allowed(tmp_path: Path) -> None:
    with status_scene(tmp_path) as scene:
        assert scene.page.allowed("192.0.2.10", {}) is not None
        assert scene.page.allowed("::1", {}) is None
        scene.page.settings = StatusPageSettings(enabled=True, allow_remote=True)
        assert scene.page.allowed("192.0.2.10", {}) is None


def test_basic_auth(tmp_path: Path) -> None:
    settings = StatusPageSettings(enabled=True, auth="basic", username="lead", password_credential="status_password")
    with status_scene(tmp_path, settings, password=SecretStr("pa55-word")) as scene:
        status, headers, _ = get(scene.url)
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Basic")
        wrong = base64.b64encode(b"lead:nope").decode()
        assert get(scene.url, {"Authorization": f"Basic {wrong}"})[0] == 401
        right = base64.b64encode(b"lead:pa55-word").decode()
        assert get(scene.url, {"Authorization": f"Basic {right}"})[0] == 200
        assert get(scene.server.url + "/healthz")[0] == 200  # probes stay open


def test_bearer_token(tmp_path: Path) -> None:
    settings = StatusPageSettings(enabled=True, auth="bearer", token_credential="status_token")
    with status_scene(tmp_path, settings, token=SecretStr("t0ken-xyz")) as scene:
        assert get(scene.url)[0] == 401
        assert get(scene.url, {"Authorization": "Bearer wrong"})[0] == 401
        assert get(scene.url, {"Authorization": "Bearer t0ken-xyz"})[0] == 200


def test_auth_settings_must_be_complete() -> None:
    with pytest.raises(ValidationError, match="password_credential"):
        StatusPageSettings(auth="basic", username="lead")
    with pytest.raises(ValidationError, match="token_credential"):
        StatusPageSettings(auth="bearer")


def test_the_daemon_serves_the_page_on_its_metrics_listener(tmp_path: Path) -> None:
    from bridge.daemon import Daemon

    with status_scene(tmp_path) as scene:
        daemon = Daemon(scene.world.engine, interval_seconds=60, metrics_bind="127.0.0.1:0", status_page=scene.page)
        server = daemon.serve_metrics()
        assert server is not None
        try:
            status, _, body = get(server.url + "/")
            assert status == 200
            assert f"bridge retry {scene.error.id}" in body
        finally:
            server.stop()
