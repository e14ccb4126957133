"""The change search carries each issue's comments inline (``fields=comment``), so the comment read of
a cycle is spent only on issues that have something new to mirror — never on an edit, a transition or
bridge's own echo. Over real HTTP against the sandbox, Cloud and Data Center."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bridge.connectors.jira import JiraConnector
from bridge.mapping.schema import LinkRules, Mapping, Route, Target
from bridge.model import Marker, Side

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

MAPPING = Mapping(
    name="incidents", route=Route(record_type="incident"), target=Target(project="OPS", issue_type="Bug"),
    links=LinkRules(jira_label="bridge"),
)


def comment_reads(connector: JiraConnector) -> int:
    return sum(n for endpoint, n in connector.calls.snapshot().items() if endpoint.endswith("/comment")
               and endpoint.startswith("GET"))


def person_reads(connector: JiraConnector) -> int:
    """A person's new comment: read from the search on Cloud (whose inline comment tells an internal one by
    ``jsdPublic``), read with its properties on Data Center (an internal JSM comment is known by its
    ``sd.public.comment`` property only)."""
    return 0 if connector.cloud else 1


def changed(connector: JiraConnector, since: datetime | None) -> dict[str, list[str]]:
    issues = list(connector.search_changed(MAPPING, since, ["summary"]))
    found = connector.comments_since([i.ref for i in issues], since)
    return {i.ref.key: [c.body for c in found[i.ref.id]] for i in issues}


def test_issues_without_new_comments_cost_no_comment_read(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    quiet = jira_env.sandbox.create_issue(summary="edited only", labels=["bridge"])
    talked = jira_env.sandbox.create_issue(summary="commented", labels=["bridge"])
    jira_env.sandbox.add_comment(talked, "Found the cause")
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    assert changed(connector, since) == {quiet: [], talked: ["Found the cause"]}
    assert comment_reads(connector) == person_reads(connector)  # the commented issue only, and on DC only


def test_older_comments_do_not_cause_a_read_but_a_new_one_does(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    key = jira_env.sandbox.create_issue(summary="old talk", labels=["bridge"])
    jira_env.sandbox.add_comment(key, "Long ago")
    jira_env.clock.advance(3600)
    jira_env.sandbox.edit_issue(key, {"summary": "renamed"})
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    assert changed(connector, since) == {key: []}
    assert comment_reads(connector) == 0
    jira_env.sandbox.add_comment(key, "Back again")
    assert changed(connector, since) == {key: ["Back again"]}
    assert comment_reads(connector) == person_reads(connector)


def test_bridges_own_comment_echo_costs_no_read_and_a_person_answering_it_only_on_dc(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    key = jira_env.sandbox.create_issue(summary="mirrored", labels=["bridge"])
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    [issue] = list(connector.search_changed(MAPPING, since, ["summary"]))
    connector.add_comment(issue.ref, "From ServiceNow", channel="comment", marker=Marker(Side.ITSM, "j1"))
    assert changed(connector, since) == {key: []}
    assert comment_reads(connector) == 0
    jira_env.sandbox.add_comment(key, "Thanks")
    # Cloud: from the search, bridge's own comment left out as in the echo case; DC: read, with its marker
    expected = ["Thanks"] if connector.cloud else ["From ServiceNow", "Thanks"]
    assert changed(connector, since) == {key: expected}
    assert comment_reads(connector) == person_reads(connector)


def test_a_comment_from_the_search_is_the_comment_a_read_gives(jira_env: JiraEnv) -> None:
    """Author, body, time and restriction of a person's comment taken from the search are those the
    comment read gives (a restricted comment stays internal)."""
    searched, reading = jira_env.connector(), jira_env.connector()
    key = jira_env.sandbox.create_issue(summary="talk", labels=["bridge"])
    jira_env.sandbox.add_comment(key, "Public answer", as_user="dana")
    jira_env.sandbox.add_comment(key, "Only for developers", as_user="dana",
                                 visibility={"type": "role", "value": "Developers"})
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    [issue] = list(searched.search_changed(MAPPING, since, ["summary"]))
    from_search = searched.comments_since([issue.ref], since)[issue.ref.id]
    read = reading.comments_since([issue.ref], since)[issue.ref.id]
    assert [(c.id, c.author, c.body, c.created, c.internal, c.marker) for c in from_search] == [
        (c.id, c.author, c.body, c.created, c.internal, c.marker) for c in read
    ]
    assert [c.internal for c in read] == [False, True]
    assert comment_reads(searched) == person_reads(searched)


def test_a_comment_of_bridges_account_not_written_by_this_process_is_read(jira_env: JiraEnv) -> None:
    """Bridge's account, but not this process (a restart, a lost state store): it may carry a marker in
    its properties, so it is read — never mirrored back as a person's comment."""
    key = jira_env.sandbox.create_issue(summary="restart", labels=["bridge"])
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    first = jira_env.connector()
    [issue] = list(first.search_changed(MAPPING, since, ["summary"]))
    first.add_comment(issue.ref, "From ServiceNow", channel="comment", marker=Marker(Side.ITSM, "j1"))
    jira_env.sandbox.add_comment(key, "Thanks", as_user="dana")
    second = jira_env.connector()
    issues = list(second.search_changed(MAPPING, since, ["summary"]))
    found = second.comments_since([i.ref for i in issues], since)[issues[0].ref.id]
    assert [(c.body, c.marker) for c in found] == [("From ServiceNow", Marker(Side.ITSM, "j1")), ("Thanks", None)]
    assert comment_reads(second) == 1


def test_a_fresh_process_reads_even_its_own_earlier_comments(jira_env: JiraEnv) -> None:
    key = jira_env.sandbox.create_issue(summary="restart", labels=["bridge"])
    since = jira_env.sandbox.now() - timedelta(minutes=5)
    first = jira_env.connector()
    [issue] = list(first.search_changed(MAPPING, since, ["summary"]))
    first.add_comment(issue.ref, "From ServiceNow", channel="comment", marker=Marker(Side.ITSM, "j1"))
    second = jira_env.connector()
    issues = list(second.search_changed(MAPPING, since, ["summary"]))
    [comment] = second.comments_since([i.ref for i in issues], since)[issues[0].ref.id]
    assert comment.marker == Marker(Side.ITSM, "j1")  # read with its properties: never mirrored back
    assert comment_reads(second) == 1
    assert key == issues[0].ref.key
