"""``get_many`` on the Jira side: every issue asked for that exists, in the order asked, read in as few
calls as the vendor allows (one search per chunk on the real connector, never more than one call per issue).
"""

from __future__ import annotations

import math

from bridge.connectors.jira import JiraConnector
from bridge.connectors.jira.batch import RECONCILE_LIMIT
from bridge.model import Ref, Side
from tests.contract.harness import JiraSide


def test_jira_get_many_reads_the_issues_asked_for_in_one_search_per_chunk(jira: JiraSide) -> None:
    refs = [jira.person.create({"summary": f"Batch read {n}"}) for n in range(7)]
    missing = Ref(Side.JIRA, "issue", "9999999", "OPS-9999999")
    asked = [refs[3], missing, *refs[:3], *refs[4:]]
    before = jira.connector.calls.snapshot()
    found = jira.connector.get_many(asked, ["summary"])
    spent = jira.connector.calls.since(before)
    assert [i.ref.id for i in found] == [r.id for r in asked if r is not missing]
    assert found[0].fields["summary"] == "Batch read 3"
    single = jira.connector.get(refs[3], ["summary"])
    assert (found[0].ref, found[0].version, found[0].status, found[0].fields) == (
        single.ref, single.version, single.status, single.fields)
    assert sum(spent.values()) <= len(asked)
    if isinstance(jira.connector, JiraConnector):
        connector = jira.connector
        chunk = min(connector.page_size, RECONCILE_LIMIT) if connector.cloud else connector.page_size
        assert sum(spent.values()) == math.ceil(len(asked) / chunk)
        assert all("search" in endpoint for endpoint in spent)


def test_jira_get_many_of_nothing_costs_nothing(jira: JiraSide) -> None:
    before = jira.connector.calls.snapshot()
    assert jira.connector.get_many([], ["summary"]) == []
    assert sum(jira.connector.calls.since(before).values()) == 0
