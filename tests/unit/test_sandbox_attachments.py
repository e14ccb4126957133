"""The sandboxes' attachment APIs answer like the vendors document them (XSRF header, multipart part name,
413 and ServiceNow's "too large" 400, Cloud's redirect to the media host), and the connectors turn a
too-large refusal into status 413, which the engine notes instead of retrying."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from bridge.connectors.servicenow import ServiceNowConnector
from bridge.errors import PermanentError
from bridge.model import Marker, Ref, Side
from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_PAT, BRIDGE_TOKEN, JiraSandbox
from bridge.sandbox.server import SandboxServer
from bridge.sandbox.servicenow import ServiceNowSandbox

AUTH = {"Authorization": f"Bearer {BRIDGE_PAT}"}


@pytest.fixture
def dc() -> Iterator[tuple[JiraSandbox, str, str]]:
    sandbox = JiraSandbox(mode="datacenter")
    server = SandboxServer(sandbox).start()
    key = sandbox.create_issue("OPS", "Files")
    try:
        yield sandbox, server.url, key
    finally:
        server.stop()


def test_an_upload_without_the_xsrf_header_is_blocked(dc: tuple[JiraSandbox, str, str]) -> None:
    _, url, key = dc
    answer = requests.post(f"{url}/rest/api/2/issue/{key}/attachments", headers=AUTH,
                           files={"file": ("a.txt", b"x")}, timeout=10)
    assert answer.status_code == 403
    assert "XSRF check failed" in answer.text


def test_the_file_must_be_in_a_part_named_file(dc: tuple[JiraSandbox, str, str]) -> None:
    _, url, key = dc
    answer = requests.post(f"{url}/rest/api/2/issue/{key}/attachments",
                           headers={**AUTH, "X-Atlassian-Token": "no-check"}, files={"upload": ("a.txt", b"x")},
                           timeout=10)
    assert answer.status_code == 400


def test_over_the_upload_limit_is_413_and_a_good_upload_is_listed(dc: tuple[JiraSandbox, str, str]) -> None:
    sandbox, url, key = dc
    sandbox.configure(attachment_max_size=10)
    headers = {**AUTH, "X-Atlassian-Token": "no-check"}
    big = requests.post(f"{url}/rest/api/2/issue/{key}/attachments", headers=headers,
                        files={"file": ("big.bin", b"y" * 11)}, timeout=10)
    assert big.status_code == 413
    made = requests.post(f"{url}/rest/api/2/issue/{key}/attachments", headers=headers,
                         files={"file": ("ok.txt", b"fine", "text/plain")}, timeout=10)
    assert made.status_code == 200
    [meta] = made.json()
    assert meta["filename"] == "ok.txt"
    assert meta["size"] == 4
    assert meta["content"].endswith(f"/secure/attachment/{meta['id']}/ok.txt")
    assert requests.get(meta["content"], headers=AUTH, timeout=10).content == b"fine"
    issue = requests.get(f"{url}/rest/api/2/issue/{key}", params={"fields": "attachment"}, headers=AUTH,
                         timeout=10).json()
    assert [a["id"] for a in issue["fields"]["attachment"]] == [meta["id"]]


def test_cloud_content_redirects_to_the_file() -> None:
    sandbox = JiraSandbox(mode="cloud")
    server = SandboxServer(sandbox).start()
    try:
        key = sandbox.create_issue("OPS", "Files")
        meta = sandbox.attach(key, "a.txt", b"abc")
        auth = (BRIDGE_EMAIL, BRIDGE_TOKEN)
        url = f"{server.url}/rest/api/3/attachment/content/{meta['id']}"
        first = requests.get(url, auth=auth, allow_redirects=False, timeout=10)
        assert first.status_code == 303
        assert requests.get(url, auth=auth, timeout=10).content == b"abc"
    finally:
        server.stop()


def test_servicenow_refuses_a_too_large_file_and_the_connector_says_413(tmp_path: Path) -> None:
    app = ServiceNowSandbox()
    server = SandboxServer(app).start()
    try:
        made = app.create_incident("Files")
        app.state["attachment_max_size"] = 5
        connector = ServiceNowConnector(server.url, user=app.api_user, password=SecretStr(app.api_password))
        path = tmp_path / "big.bin"
        path.write_bytes(b"z" * 6)
        ref = Ref(Side.ITSM, "incident", made["sys_id"], made["number"])
        with pytest.raises(PermanentError) as refused:
            connector.upload_attachment(ref, path, filename="big.bin", mime_type="application/octet-stream",
                                        marker=Marker(Side.JIRA, "file-1"))
        assert refused.value.status == 413
        raw = requests.post(f"{server.url}/api/now/attachment/file",
                            params={"table_name": "incident", "table_sys_id": made["sys_id"], "file_name": "b"},
                            data=b"z" * 6, auth=(app.api_user, app.api_password), timeout=10)
        assert raw.status_code == 400
        assert "File part might be too large" in raw.json()["error"]["message"]
    finally:
        server.stop()
