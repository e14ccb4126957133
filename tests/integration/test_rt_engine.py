"""The real engine between a real RT 5 and the in-memory Jira: tickets become Bugs, comments and statuses
flow both ways without echoes, and a restart duplicates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.memory import MemoryJira, SimulatedCrash
from bridge.connectors.rt import RTConnector
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, Marker, Ref, Visibility
from bridge.store import Store
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine, EngineOptions
from tests.fixtures.rt_contract import engine_mapping

if TYPE_CHECKING:
    from tests.fixtures.rt import RTPerson, RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration


@dataclass
class Bridge:
    path: Path
    spec: MappingSpec
    rt: RTConnector
    jira: MemoryJira
    agent: RTPerson
    store: Store | None = None
    engine: Engine | None = None

    def open(self) -> None:
        self.store = Store.open(f"sqlite:///{self.path / 'bridge.sqlite3'}")
        self.engine = Engine(self.store, self.rt, self.jira, [self.spec], options=EngineOptions(backoff_base=0.1))

    def restart(self) -> None:
        assert self.store is not None
        self.store.close()
        self.open()

    def cycle(self) -> CycleReport:
        assert self.engine is not None
        return run_cycle(self.engine, self.spec.name)

    def issue_for(self, ticket: str) -> Ref:
        assert self.store is not None
        link = self.store.link_for_record(self.spec.name, ticket)
        assert link is not None, f"ticket {ticket} has no link"
        return link.issue


@pytest.fixture
def bridge(rt_server: RTServer, tmp_path: Path) -> Iterator[Bridge]:
    queue = rt_server.take_queue()
    jira = MemoryJira(clock=lambda: datetime.now(UTC))
    b = Bridge(tmp_path, engine_mapping(queue), rt_server.connector(), jira, rt_server.person())
    b.open()
    yield b
    assert b.store is not None
    b.store.close()


def test_ticket_becomes_a_bug_and_everything_flows_both_ways(bridge: Bridge) -> None:
    ticket = bridge.agent.create_ticket("Printer on fire", queue=bridge.spec.route.record_type,
                                        custom_fields={"Severity": "high"})
    ignored = bridge.agent.create_ticket("Low", queue=bridge.spec.route.record_type, custom_fields={"Severity": "low"})
    bridge.cycle()
    issue = bridge.issue_for(ticket)
    assert [i.ref.key for i in bridge.jira.issues()] == [issue.key]
    assert bridge.jira.issue(issue).fields.get("summary") == f"RT#{ticket}: Printer on fire"
    assert bridge.agent.custom_field(ticket, "Jira Key") == [issue.key]
    assert bridge.store is not None
    assert bridge.store.link_for_record(bridge.spec.name, ignored) is None

    # RT comment and reply -> Jira
    bridge.agent.comment(ticket, "Customer says it smells of toner")
    bridge.agent.correspond(ticket, "We are looking into it")
    bridge.cycle()
    bodies = [c.body for c in bridge.jira.comments(issue)]
    assert any("Customer says it smells of toner" in b for b in bodies), bodies
    assert any("We are looking into it" in b for b in bodies), bodies

    # Jira comment -> RT internal comment, and never back
    bridge.jira.comment(issue, "Root cause: driver 4.2")
    bridge.cycle()
    texts = bridge.agent.texts(ticket)
    assert any("Root cause: driver 4.2" in t and "[bridge:jira:" in t for t in texts), texts
    types = [t["Type"] for t in bridge.agent.history(ticket)]
    assert types.count("Comment") == 2  # the person's and the mirrored one; no correspondence to the customer
    before = len(bridge.jira.comments(issue))
    bridge.cycle()
    bridge.cycle()
    assert len(bridge.jira.comments(issue)) == before  # no echo
    assert sum("Root cause" in t for t in bridge.agent.texts(ticket)) == 1

    # Jira Done -> RT resolved; RT reopen -> Jira In Progress
    bridge.jira.transition_to(issue, "Done", resolution="Done")
    bridge.cycle()
    assert bridge.agent.ticket(ticket)["Status"] == "resolved"
    bridge.agent.set_status(ticket, "open")
    bridge.cycle()
    assert bridge.jira.issue(issue).status == "In Progress"

    # a restart on the same store duplicates nothing
    bridge.restart()
    bridge.cycle()
    assert [i.ref.key for i in bridge.jira.issues()] == [issue.key]
    assert sum("Root cause" in t for t in bridge.agent.texts(ticket)) == 1


class CrashingRT(RTConnector):
    """The real connector, plus a crash right after the next RT comment is written (before bridge's journal
    records it): what a kill -9 at the worst moment leaves behind."""

    crash_armed = False

    def add_comment(self, ref: Ref, body: str, *, channel: str, marker: Marker,
                    visibility: Visibility | None = None) -> Comment:
        written = super().add_comment(ref, body, channel=channel, marker=marker, visibility=visibility)
        if self.crash_armed:
            self.crash_armed = False
            raise SimulatedCrash(f"crash after writing comment {written.id} on {ref.key}")
        return written


def test_crash_after_an_rt_write_is_reconciled_without_a_duplicate(rt_server: RTServer, tmp_path: Path) -> None:
    queue = rt_server.take_queue()
    rt = rt_server.connector(connector_class=CrashingRT)
    assert isinstance(rt, CrashingRT)
    b = Bridge(tmp_path, engine_mapping(queue), rt, MemoryJira(clock=lambda: datetime.now(UTC)), rt_server.person())
    b.open()
    try:
        ticket = b.agent.create_ticket("Crash test", queue=queue, custom_fields={"Severity": "critical"})
        b.cycle()
        issue = b.issue_for(ticket)
        b.jira.comment(issue, "Fix deployed to staging")
        rt.crash_armed = True
        with pytest.raises(SimulatedCrash):
            b.cycle()
        b.restart()  # a new process on the same database
        b.cycle()
        b.cycle()
        assert sum("Fix deployed to staging" in t for t in b.agent.texts(ticket)) == 1
        assert [i.ref.key for i in b.jira.issues()] == [issue.key]
        assert len(b.jira.comments(issue)) == 1  # the mirrored comment did not come back
    finally:
        assert b.store is not None
        b.store.close()
