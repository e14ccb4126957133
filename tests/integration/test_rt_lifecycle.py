"""Merged and deleted tickets against the REAL Request Tracker 5: after RT#b is merged into RT#a, nothing
bridge writes for RT#b's issue goes through RT#b's id (RT would land it on RT#a); a deleted ticket is
never set back to open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.memory import MemoryJira
from tests.fixtures.rt_contract import engine_mapping
from tests.integration.test_rt_engine import Bridge

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration


@pytest.fixture
def bridge(rt_server: RTServer, tmp_path: Path) -> Iterator[Bridge]:
    from datetime import UTC, datetime

    queue = rt_server.take_queue()
    b = Bridge(tmp_path, engine_mapping(queue), rt_server.connector(), MemoryJira(clock=lambda: datetime.now(UTC)),
               rt_server.person())
    b.open()
    yield b
    assert b.store is not None
    b.store.close()


def test_merged_ticket_is_never_written_through_its_old_id(bridge: Bridge) -> None:
    queue = bridge.spec.route.record_type
    one = bridge.agent.create_ticket("Mail server down", queue=queue, custom_fields={"Severity": "high"})
    five = bridge.agent.create_ticket("Mail is down", queue=queue, custom_fields={"Severity": "high"})
    bridge.cycle()
    ops_one, ops_five = bridge.issue_for(one), bridge.issue_for(five)
    bridge.agent.set_status(one, "open")
    bridge.cycle()
    status_one = bridge.jira.issue(ops_one).status
    history_one = len(bridge.agent.history(one))

    bridge.agent.update(five, MergeInto=int(one))
    assert bridge.agent.ticket(five)["id"] in (int(one), one)  # RT answers for RT#five with RT#one
    bridge.jira.comment(ops_five, "Found the cause on the relay")
    bridge.jira.transition_to(ops_five, "Done", resolution="Done")
    for _ in range(3):
        bridge.cycle()

    # nothing landed on RT#one through RT#five's id: no comment, no status, no history from bridge
    assert bridge.agent.ticket(one)["Status"] == "open"
    assert not any("Found the cause" in t for t in bridge.agent.texts(one))
    assert [t for t in bridge.agent.history(one)[history_one:] if t.get("Creator") == bridge.rt.bridge_user] == []
    assert bridge.jira.issue(ops_one).status == status_one  # OPS for RT#one did not move to Done
    # the merged ticket's issue says so, links to the survivor's issue as a duplicate, and its link is closed
    assert any(f"RT#{five} was merged into RT#{one} ({ops_one.key})" in c.body for c in bridge.jira.comments(ops_five))
    assert bridge.jira.issue_links == [("Duplicate", ops_five.key, ops_one.key)]
    assert bridge.store is not None
    closed = bridge.store.find_link(ops_five.key)
    assert closed is not None
    assert closed.closed is not None
    assert closed.closed_reason == f"RT#{five} was merged into RT#{one} ({ops_one.key})"
    survivor = bridge.store.find_link(ops_one.key)
    assert survivor is not None
    assert survivor.closed is None

    # the survivor keeps syncing
    bridge.jira.comment(ops_one, "Relay replaced")
    bridge.cycle()
    assert any("Relay replaced" in t for t in bridge.agent.texts(one))


def test_deleted_ticket_is_not_undeleted(bridge: Bridge, rt_server: RTServer) -> None:
    queue = bridge.spec.route.record_type
    ticket = bridge.agent.create_ticket("Printer jam", queue=queue, custom_fields={"Severity": "critical"})
    bridge.cycle()
    issue = bridge.issue_for(ticket)
    rt_server.person("root").set_status(ticket, "deleted")  # the agent has no DeleteTicket right
    assert bridge.agent.ticket(ticket)["Status"] == "deleted"
    bridge.jira.transition_to(issue, "In Progress")
    bridge.jira.comment(issue, "Working on it")
    bridge.cycle()
    bridge.cycle()
    assert bridge.agent.ticket(ticket)["Status"] == "deleted"
    assert not any("Working on it" in t for t in bridge.agent.texts(ticket))
    assert any(f"RT#{ticket} was deleted in Request Tracker" in c.body for c in bridge.jira.comments(issue))
    assert bridge.store is not None
    link = bridge.store.find_link(issue.key)
    assert link is not None
    assert link.closed_reason == f"RT#{ticket} was deleted in Request Tracker"


def test_deleted_state_database_duplicates_nothing_against_real_rt(bridge: Bridge) -> None:
    """The store is a cache: after it is deleted, three cycles create no issue and mirror no comment again."""
    queue = bridge.spec.route.record_type
    ticket = bridge.agent.create_ticket("VPN drops every hour", queue=queue, custom_fields={"Severity": "high"})
    bridge.cycle()
    issue = bridge.issue_for(ticket)
    bridge.agent.comment(ticket, "Users in Berlin too")
    bridge.jira.comment(issue, "Looking at the concentrator")
    for _ in range(3):
        bridge.cycle()
    before = (len(bridge.jira.issues()), len(bridge.jira.comments(issue)), len(bridge.agent.texts(ticket)))

    assert bridge.store is not None
    bridge.store.close()
    (bridge.path / "bridge.sqlite3").unlink()
    bridge.open()
    for _ in range(3):
        bridge.cycle()
    after = (len(bridge.jira.issues()), len(bridge.jira.comments(issue)), len(bridge.agent.texts(ticket)))
    assert after == before
    assert bridge.issue_for(ticket) == issue  # the link is adopted back from RT's CF.{Jira Key} and the marker

    bridge.jira.comment(issue, "Concentrator replaced")
    bridge.cycle()
    assert sum("Concentrator replaced" in t for t in bridge.agent.texts(ticket)) == 1
