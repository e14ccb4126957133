"""A reply bridge wrote on ServiceNow's customer-visible journal (``comments``) carries no marker text;
with ``itsm.dedicated_account`` its author carries the mark instead, so after the state database is
lost the ``bridge`` executable neither mirrors it back to Jira nor writes it to the caller again
(docs/connectors/servicenow.md, "Comments and markers")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fixtures.e2e import BridgeEnv

pytest_plugins = ["tests.fixtures.e2e"]

pytestmark = pytest.mark.e2e


def customer_replies(env: BridgeEnv, dedicated: bool) -> None:
    """Developer comments go to the caller (``comments``); the account is (or is not) bridge's alone."""
    mapping = env.mappings / "incident-to-bug.yaml"
    text = mapping.read_text()
    mapping.write_text(text.replace("to_itsm_channel: work_notes ", "to_itsm_channel: comments "))
    if dedicated:
        config = env.config.read_text()
        env.config.write_text(config.replace("itsm:\n", "itsm:\n  dedicated_account: true\n", 1))


def test_a_lost_database_neither_echoes_nor_repeats_a_customer_reply(bridge_env: BridgeEnv) -> None:
    env = bridge_env
    customer_replies(env, dedicated=True)
    incident = env.snow.app.create_incident("Portal down", description="The portal answers 502.", priority=1)
    env.sync_until_settled()
    [issue] = env.jira.issues()
    env.jira.sandbox.add_comment(issue["key"], "Please clear your browser cache and retry.", as_user="dana")
    env.sync_until_settled()
    journal = env.snow.app.journal("incident", incident["sys_id"])
    replies = [r for r in journal if r["element"] == "comments"]
    assert len(replies) == 1
    assert "[bridge:" not in replies[0]["value"]  # what the caller's e-mail shows
    assert replies[0]["value"].endswith("Please clear your browser cache and retry.")
    jira_comments = len(env.jira.issues()[0]["comments"])

    env.database.unlink()
    for _ in range(3):
        result = env.bridge("sync", "--once")
        assert result.code == 0, result.output
        assert "add_comment" not in result.stdout, result.output
    assert env.snow.app.journal("incident", incident["sys_id"]) == journal  # nothing written to the caller
    assert len(env.jira.issues()[0]["comments"]) == jira_comments  # nothing mirrored back

    # the adopted link works: the caller's answer reaches Jira once, a new developer reply the caller once
    env.snow.app.add_customer_comment("incident", incident["sys_id"], "Still 502 after that.", author="Carol Caller")
    env.jira.sandbox.add_comment(issue["key"], "We restarted the proxy.", as_user="dana")
    env.sync_until_settled()
    bodies = [c["body"] for c in env.jira.issues()[0]["comments"]]
    assert len(bodies) == jira_comments + 2  # dana's new comment and the ONE mirror of the caller's
    assert sum("Still 502 after that." in b for b in bodies) == 1
    replies = [r for r in env.snow.app.journal("incident", incident["sys_id"]) if r["element"] == "comments"]
    assert len(replies) == 3
