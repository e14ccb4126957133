"""People in Request Tracker (issue 16, users): RT users looked up by login and by e-mail address, and a
Jira assignee change reaching the ticket's ``Owner`` — against a real RT 5.

The fixture's users are ``agent`` (``agent@bridge.test``, "Alice Agent") and ``bridge``; RT's pseudo-user
``Nobody`` owns unowned tickets.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.memory import MemoryJira
from bridge.connectors.rt.users import RTUserLookup
from bridge.errors import NotFoundError, PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from bridge.store import Store
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine, EngineOptions
from bridge.users.directories import directory_of
from tests.fixtures.rt_contract import engine_mapping

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration


GRANT = """
use strict; use warnings; use lib $ENV{BRIDGE_RT_LIB} || '/usr/share/request-tracker5/lib'; use RT;
RT::LoadConfig(); RT::Init();
my $user = RT::User->new(RT->SystemUser); $user->Load($ARGV[0]) or die "no user $ARGV[0]";
my $queue = RT::Queue->new(RT->SystemUser); $queue->Load($ARGV[1]) or die "no queue $ARGV[1]";
my ($ok, $msg) = $user->PrincipalObj->GrantRight(Right => $ARGV[2], Object => $queue); die $msg unless $ok;
"""


def grant(rt_server: RTServer, user: str, queue: str, right: str) -> None:
    """One more queue right, with RT's own libraries (REST2 has no rights endpoint)."""
    result = subprocess.run(["perl", "-e", GRANT, user, queue, right], env=rt_server.env, cwd=rt_server.directory,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rt_users_are_found_by_login_and_by_email_address(rt_server: RTServer) -> None:
    connector = rt_server.connector()
    try:
        directory = directory_of(connector)
        assert isinstance(directory, RTUserLookup)
        assert directory.email_of("agent") == "agent@bridge.test"
        assert directory.find_by_email("agent@bridge.test") == "agent"
        assert directory.find_by_email("AGENT@bridge.test") == "agent"  # RT compares addresses case-blind
        assert directory.find_by_email("nobody-here@bridge.test") is None
        with pytest.raises(NotFoundError):
            directory.email_of("no-such-login")
        with pytest.raises(NotFoundError):
            directory.email_of("Nobody")  # RT's pseudo-owner is not a person: never looked up
    finally:
        connector.close()


def test_a_jira_assignee_change_reaches_the_ticket_owner_and_an_unknown_one_leaves_it(
    rt_server: RTServer, tmp_path: Path
) -> None:
    queue = rt_server.take_queue()
    base = engine_mapping(queue).model_dump(mode="json", exclude_unset=True)
    base["fields"]["assignee"] = {"itsm": "Owner", "user": True, "direction": "both"}
    base["users"] = {"match_by": "table", "table": [{"itsm": "agent", "jira": "alice-jira"}]}
    spec = MappingSpec.model_validate(base)
    agent = rt_server.person()
    ticket = agent.create_ticket("Printer on fire", queue=queue, custom_fields={"Severity": "high"})
    refused = rt_server.connector()
    try:  # without ReassignTicket RT answers 200 "You can only reassign tickets that you own or that are unowned"
        agent.update(ticket, Owner="agent")
        with pytest.raises(PermanentError, match="reassign"):
            refused.update_fields(Ref(Side.ITSM, queue, ticket, f"RT#{ticket}"), {"Owner": "Nobody"})
        agent.update(ticket, Owner="Nobody")
    finally:
        refused.close()
    grant(rt_server, "bridge", queue, "ReassignTicket")  # docs/connectors/rt.md: needed to write Owner back
    jira = MemoryJira(clock=lambda: datetime.now(UTC))
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")
    try:
        engine = Engine(store, rt_server.connector(), jira, [spec], options=EngineOptions(backoff_base=0.1))
        run_cycle(engine, spec.name)
        link = store.link_for_record(spec.name, ticket)
        assert link is not None
        assert jira.issue(link.issue).fields.get("assignee") is None  # owned by Nobody: nobody in Jira
        jira.edit(link.issue, assignee="alice-jira")
        run_cycle(engine, spec.name)
        assert agent.ticket(ticket)["Owner"]["id"] == "agent"
        jira.edit(link.issue, assignee="stranger-jira")  # no pair, no fallback: the owner stays
        report = run_cycle(engine, spec.name)
        assert agent.ticket(ticket)["Owner"]["id"] == "agent"
        assert any("stranger-jira" in note and "keep their person" in note for note in report.notes), report.notes
        jira.edit(link.issue, assignee=None)  # unassigned in Jira: RT's Nobody
        run_cycle(engine, spec.name)
        assert agent.ticket(ticket)["Owner"]["id"] == "Nobody"
        run_cycle(engine, spec.name)
        assert jira.issue(link.issue).fields.get("assignee") is None  # nothing bounced back
    finally:
        store.close()


def test_a_jira_reporter_change_reaches_the_ticket_requestor_and_settles(rt_server: RTServer, tmp_path: Path) -> None:
    """``Requestor`` is a list of addresses in REST2 while a Jira reporter is one account: the write and the
    read back of the ticket must settle on one value (no ping-pong between a string and a one-item list)."""
    queue = rt_server.take_queue()
    base = engine_mapping(queue).model_dump(mode="json", exclude_unset=True)
    base["fields"]["reporter"] = {"itsm": "Requestor", "user": True, "direction": "both"}
    base["users"] = {"match_by": "table", "table": [
        {"itsm": "customer@example.test", "jira": "cust-jira"},
        {"itsm": "agent", "jira": "alice-jira"},  # a privileged RT user is named by login, a customer by address
    ]}
    spec = MappingSpec.model_validate(base)
    agent = rt_server.person()
    ticket = agent.create_ticket("Printer on fire", queue=queue, requestor="customer@example.test",
                                 custom_fields={"Severity": "high"})
    jira = MemoryJira(clock=lambda: datetime.now(UTC))
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")

    def requestors() -> list[str]:
        return sorted(str(r["id"]) for r in agent.ticket(ticket).get("Requestor") or [])

    try:
        engine = Engine(store, rt_server.connector(), jira, [spec], options=EngineOptions(backoff_base=0.1))
        run_cycle(engine, spec.name)
        link = store.link_for_record(spec.name, ticket)
        assert link is not None
        assert jira.issue(link.issue).fields.get("reporter") == "cust-jira"
        jira.edit(link.issue, reporter="alice-jira")
        report = run_cycle(engine, spec.name)
        assert report.errors == 0, report.problems
        assert requestors() == ["agent"]
        for _ in range(2):  # the sides settle: nothing written back either way
            report = run_cycle(engine, spec.name)
            assert report.actions == [], report.actions
        assert jira.issue(link.issue).fields.get("reporter") == "alice-jira"
        assert requestors() == ["agent"]
    finally:
        store.close()
