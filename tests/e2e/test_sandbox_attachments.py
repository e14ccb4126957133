"""Files both ways between the ServiceNow sandbox and the Jira sandbox, through the ``bridge`` executable.

A file attached on either side arrives on the other with identical bytes (sha256), exactly once; bridge's
own copies are never mirrored back; a file over ``max_size`` is noted once, visibly, and never retried.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fixtures.e2e import BridgeEnv

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e

LOG = b"2026-12-03 12:00:01 ERROR login failed for eu-west\n" * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
BIG = b"\x00" * 5000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sync(env: BridgeEnv) -> None:
    env.sync_until_settled()


def test_files_cross_both_ways_once_with_identical_bytes(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    mapping = env.mappings / "incident-to-bug.yaml"
    mapping.write_text(mapping.read_text() + "\nattachments:\n  direction: both\n  max_size: 4096\n")
    incident = env.snow.app.create_incident("Login fails for EU users", priority=1,
                                            description="Users in the EU get HTTP 500 after SSO.")
    sync(env)
    [bug] = [i for i in env.jira.issues() if f"itsm-incident-{incident['sys_id']}" in i["labels"]]

    env.snow.app.attach("incident", incident["sys_id"], "error.log", LOG, content_type="text/plain")
    env.snow.app.attach("incident", incident["sys_id"], "core.dump", BIG)
    # no other change to the incident: ServiceNow does not touch a record when a file is attached
    env.jira.sandbox.attach(bug["key"], "screenshot.png", PNG, mime_type="image/png")
    sync(env)

    on_jira = {meta["filename"]: data for meta, data in env.jira.sandbox.files(bug["key"])}
    on_snow = {meta["file_name"]: data for meta, data in env.snow.app.attachments(incident["sys_id"])}
    assert sorted(on_jira) == ["error.log", "screenshot.png"]
    assert sorted(on_snow) == ["core.dump", "error.log", "screenshot.png"]
    assert sha(on_jira["error.log"]) == sha(LOG)
    assert sha(on_snow["screenshot.png"]) == sha(PNG)
    notes = [c for c in _jira_comment_texts(env, bug["key"]) if "core.dump" in c]
    assert len(notes) == 1
    assert "4.9 KB" in notes[0]

    # more cycles change nothing: no echo, no second copy, no second note
    env.snow.app.add_work_note("incident", incident["sys_id"], "any news?")
    sync(env)
    assert len(env.jira.sandbox.files(bug["key"])) == 2
    assert len(env.snow.app.attachments(incident["sys_id"])) == 3
    assert len([c for c in _jira_comment_texts(env, bug["key"]) if "core.dump" in c]) == 1
    # the files waited in the state directory and are gone
    assert (env.root / "files").is_dir()
    assert list((env.root / "files").iterdir()) == []


def _jira_comment_texts(env: BridgeEnv, key: str) -> list[str]:
    [issue] = [i for i in env.jira.issues() if i["key"] == key]
    return [str(c["body"]) for c in issue["comments"]]
