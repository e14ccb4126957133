"""The Jira connector's batched ``get_many`` over the sandbox Jira (Cloud and Data Center)."""

from __future__ import annotations

from bridge.model import Ref, Side
from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]


def refs_of(env: JiraEnv, keys: list[str]) -> list[Ref]:
    ids = {i["key"]: i["id"] for i in env.sandbox.snapshot()}
    return [Ref(Side.JIRA, "issue", ids[k], k) for k in keys]


def test_a_refused_search_falls_back_to_one_read_per_issue(jira_env: JiraEnv) -> None:
    """Jira may refuse the whole search for one issue deleted since the hint (a 400 on the JQL, a 404 for
    a deleted id in ``reconcileIssues``): the chunk is then read issue by issue, the missing one left out."""
    refs = refs_of(jira_env, [jira_env.sandbox.create_issue(summary=f"n{n}", labels=["bridge"]) for n in range(3)])
    connector = jira_env.connector(page_size=10)
    connector.get_many(refs[:1], ["summary"])  # the field catalogue and the account, read once
    jira_env.sandbox.fail_next(1, status=400, retry_after=-1)
    before = connector.calls.snapshot()
    found = connector.get_many([*refs, Ref(Side.JIRA, "issue", "9999999", "OPS-9999999")], ["summary"])
    spent = connector.calls.since(before)
    assert [i.ref.id for i in found] == [r.id for r in refs]
    assert sum(n for endpoint, n in spent.items() if "search" in endpoint) == 1
    assert sum(n for endpoint, n in spent.items() if endpoint.startswith("GET ")) == 4


def test_chunks_follow_the_page_size(jira_env: JiraEnv) -> None:
    refs = refs_of(jira_env, [jira_env.sandbox.create_issue(summary=f"n{n}", labels=["bridge"]) for n in range(7)])
    connector = jira_env.connector(page_size=3)
    connector.get_many(refs[:1], ["summary"])
    before = connector.calls.snapshot()
    found = connector.get_many(list(reversed(refs)), ["summary"])
    assert [i.ref.key for i in found] == [r.key for r in reversed(refs)]
    assert sum(connector.calls.since(before).values()) == 3
