"""The Jira connector's issue links and a deleted issue, against the sandbox Jira over real HTTP (Cloud and DC)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bridge.errors import NotFoundError, PermanentError
from bridge.model import Ref, Side

pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]


def ref(key: str) -> Ref:
    return Ref(Side.JIRA, "issue", "", key)


def test_duplicate_link_reads_merged_issue_duplicates_survivor_and_is_kept_once(jira_env: JiraEnv) -> None:
    survivor = jira_env.sandbox.create_issue(summary="Mail down", labels=["bridge"])
    merged = jira_env.sandbox.create_issue(summary="Mail is down", labels=["bridge"])
    connector = jira_env.connector()
    connector.link_issues(ref(merged), ref(survivor), "Duplicate")
    connector.link_issues(ref(merged), ref(survivor), "Duplicate")
    assert jira_env.sandbox.issue_links() == [("Duplicate", merged, survivor)]


def test_unknown_link_type_or_missing_issue_is_not_found(jira_env: JiraEnv) -> None:
    one = jira_env.sandbox.create_issue(summary="a", labels=["bridge"])
    two = jira_env.sandbox.create_issue(summary="b", labels=["bridge"])
    connector = jira_env.connector()
    with pytest.raises(NotFoundError, match="No issue link type"):
        connector.link_issues(ref(one), ref(two), "Supersedes")
    jira_env.sandbox.delete_issue(two)
    with pytest.raises(NotFoundError):
        connector.link_issues(ref(one), ref(two), "Duplicate")
    with pytest.raises(NotFoundError):
        connector.get(ref(two), ["summary"])
    assert jira_env.sandbox.issue_links() == []


def test_linking_needs_the_link_issues_permission(jira_env: JiraEnv) -> None:
    one = jira_env.sandbox.create_issue(summary="a", labels=["bridge"])
    two = jira_env.sandbox.create_issue(summary="b", labels=["bridge"])
    jira_env.sandbox.configure(revoked=["LINK_ISSUES"])
    with pytest.raises(PermanentError):
        jira_env.connector().link_issues(ref(one), ref(two), "Duplicate")
