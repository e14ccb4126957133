"""Hypothesis state machine: people on a real RT and on Jira act in any order, bridge cycles and restarts;
after the bridge settles every ticket has exactly one issue and every comment exists exactly once on each
side — mirrored, never echoed, never duplicated."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bridge.connectors.memory import MemoryJira
from bridge.store import Store
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine, EngineOptions
from tests.fixtures.rt_contract import engine_mapping

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class PeopleAndBridge(RuleBasedStateMachine):
    def __init__(self) -> None:
        from tests.fixtures.rt import shared_rt_server

        super().__init__()
        self.server = shared_rt_server()
        self.queue = self.server.take_queue()
        self.spec = engine_mapping(self.queue)
        self.rt = self.server.connector()
        self.agent = self.server.person()
        self.jira = MemoryJira(clock=lambda: datetime.now(UTC))
        self.directory = Path(tempfile.mkdtemp(prefix="bridge-rt-machine-"))
        self.store = Store.open(f"sqlite:///{self.directory / 'bridge.sqlite3'}")
        self.engine = self._engine()
        self.tickets: list[str] = []
        self.from_rt: set[str] = set()  # comment tokens written by the agent in RT
        self.from_jira: set[str] = set()  # comment tokens written by developers in Jira
        self.settled = False

    def _engine(self) -> Engine:
        return Engine(self.store, self.rt, self.jira, [self.spec], options=EngineOptions(backoff_base=0.1))

    def cycle(self) -> None:
        run_cycle(self.engine, self.spec.name)

    def issue_of(self, ticket: str) -> str | None:
        link = self.store.link_for_record(self.spec.name, ticket)
        return None if link is None else link.issue.key

    @initialize()
    def first_ticket(self) -> None:
        self.tickets.append(self.agent.create_ticket("First", queue=self.queue, custom_fields={"Severity": "high"}))

    @rule()
    def agent_opens_a_ticket(self) -> None:
        self.tickets.append(self.agent.create_ticket("Another", queue=self.queue, custom_fields={"Severity": "high"}))
        self.settled = False

    @rule(data=st.data(), internal=st.booleans())
    def agent_writes(self, data: st.DataObject, internal: bool) -> None:
        ticket = data.draw(st.sampled_from(self.tickets))
        token = f"rt-{secrets.token_hex(4)}"
        (self.agent.comment if internal else self.agent.correspond)(ticket, f"Agent note {token}")
        self.from_rt.add(token)
        self.settled = False

    @rule(data=st.data())
    def developer_comments(self, data: st.DataObject) -> None:
        linked = [k for k in (self.issue_of(t) for t in self.tickets) if k]
        if not linked:
            return
        token = f"jira-{secrets.token_hex(4)}"
        self.jira.comment(data.draw(st.sampled_from(linked)), f"Developer note {token}")
        self.from_jira.add(token)
        self.settled = False

    @rule(data=st.data(), status=st.sampled_from(["In Progress", "To Do"]))
    def developer_moves_the_issue(self, data: st.DataObject, status: str) -> None:
        linked = [k for k in (self.issue_of(t) for t in self.tickets) if k]
        if linked:
            self.jira.transition_to(data.draw(st.sampled_from(linked)), status)
            self.settled = False

    @rule()
    def bridge_cycles(self) -> None:
        self.cycle()

    @rule()
    def bridge_restarts(self) -> None:
        self.store.close()
        self.store = Store.open(f"sqlite:///{self.directory / 'bridge.sqlite3'}")
        self.engine = self._engine()

    @rule()
    def bridge_settles(self) -> None:
        for _ in range(3):
            self.cycle()
        self.settled = True

    @precondition(lambda self: self.settled)
    @invariant()
    def every_thing_exists_exactly_once_on_each_side(self) -> None:
        issues = [self.issue_of(t) for t in self.tickets]
        assert all(issues), "a ticket has no issue"
        assert len(set(issues)) == len(issues) == len(self.jira.issues())
        rt_texts = [text for t in self.tickets for text in self.agent.texts(t)]
        jira_texts = [c.body for key in issues for c in self.jira.comments(key)]  # type: ignore[arg-type]
        for token in self.from_rt:
            assert sum(token in text for text in rt_texts) == 1, f"{token} duplicated in RT"
            assert sum(token in text for text in jira_texts) == 1, f"{token} not mirrored once to Jira"
        for token in self.from_jira:
            assert sum(token in text for text in jira_texts) == 1, f"{token} duplicated in Jira"
            assert sum(token in text for text in rt_texts) == 1, f"{token} not mirrored once to RT"

    def teardown(self) -> None:
        """Every run ends settled and checked, whatever steps hypothesis chose."""
        try:
            self.bridge_settles()
            self.every_thing_exists_exactly_once_on_each_side()
        finally:
            self.store.close()
        self.rt.close()
        shutil.rmtree(self.directory, ignore_errors=True)


PeopleAndBridge.TestCase.settings = settings(
    max_examples=4, stateful_step_count=10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_people_and_bridge = PeopleAndBridge.TestCase
