"""``set_status`` starts from the status bridge last saw: a transition costs its POSTs, not a GET first.

Counts, not timings, against the sandbox Jira over real HTTP (Cloud and Data Center).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira import JiraConnector
from bridge.mapping.schema import Mapping, Route, Target
from bridge.model import Ref

pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

MAPPING = Mapping(name="incidents", route=Route(record_type="incident"), target=Target(project="OPS", issue_type="Bug"))


def create(connector: JiraConnector, n: int) -> Ref:
    spec = CreateSpec(project="OPS", issue_type="Bug", fields={"summary": f"Printer {n} down"},
                      marker=f"bridge-test-{n}", labels=("bridge",))
    return connector.create(spec).ref


def spent(connector: JiraConnector, before: dict[str, int]) -> dict[str, int]:
    return {endpoint.split(" ", 1)[0] + " " + endpoint.rsplit("/", 1)[-1]: n
            for endpoint, n in connector.calls.since(before).items()}


def test_a_known_status_on_a_learnt_workflow_costs_only_the_transitions(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    first = create(connector, 1)
    connector.set_status(first, "Done", {"resolution": "Done"})  # learns the workflow once
    connector.set_status(first, "In Progress", {})  # and the way back from Done
    second = create(connector, 2)  # its status (To Do) comes with the create's answer
    before = connector.calls.snapshot()
    connector.set_status(second, "Done", {"resolution": "Done"})
    assert spent(connector, before) == {"POST transitions": 3}
    assert {s["key"]: s["status"] for s in jira_env.sandbox.snapshot()}[second.key] == "Done"
    # and where it ended is remembered: reopening costs its one POST too
    before = connector.calls.snapshot()
    connector.set_status(second, "In Progress", {})
    assert spent(connector, before) == {"POST transitions": 1}


def test_a_status_seen_by_the_change_search_is_used_and_a_stale_one_costs_one_read(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    first = create(connector, 1)
    connector.set_status(first, "Done", {"resolution": "Done"})
    connector.set_status(first, "In Progress", {})
    second = create(connector, 2)
    jira_env.sandbox.transition(second.key, "In Progress")
    list(connector.search_changed(MAPPING, None, ["summary"]))  # the cycle's search sees In Progress
    before = connector.calls.snapshot()
    connector.set_status(second, "In Review", {})
    assert spent(connector, before) == {"POST transitions": 1}
    # a developer moves it to Done behind bridge's back: the known path's first step is refused,
    # then ONE read of the issue, and the walk starts again from where it really is
    jira_env.sandbox.transition(second.key, "Done")
    before = connector.calls.snapshot()
    connector.set_status(second, "In Progress", {})
    assert spent(connector, before) == {"POST transitions": 2, "GET {id}": 1}
    assert {s["key"]: s["status"] for s in jira_env.sandbox.snapshot()}[second.key] == "In Progress"


def test_the_status_the_store_last_synced_saves_the_read_on_a_fresh_connector(jira_env: JiraEnv) -> None:
    """A one-shot run (a new process): the executor tells the connector the status it last synced."""
    learner = jira_env.connector()
    first = create(learner, 1)
    second = create(learner, 2)
    connector = jira_env.connector()
    connector.set_status(first, "In Progress", {})  # learns the workflow from To Do
    before = connector.calls.snapshot()
    connector.note_status(second, "To Do", "Bug")
    connector.set_status(second, "In Progress", {})
    assert spent(connector, before) == {"POST transitions": 1}
