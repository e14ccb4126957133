"""users: people mapped between the systems by explicit pair, by e-mail (cached with a TTL), or to the fallback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from bridge.connectors.rt_parse import failed_messages
from bridge.core.actions import SyncedUpdate
from bridge.errors import NotFoundError
from bridge.mapping.schema import FieldRule, UserPair, UserRules
from bridge.mapping.transform import one_person
from bridge.model import Side
from bridge.store import Store
from bridge.sync.actions import CreateIssue, ReportConflict, UpdateFields
from bridge.sync.planner import plan
from bridge.users.check import sampled_people, without_fallback
from bridge.users.directories import JiraDirectory, ServiceNowDirectory
from bridge.users.resolve import UserResolver
from tests.fixtures.engine import World, mapping_spec
from tests.fixtures.planning import given, issue, issue_ref, link_state, mapping, record, record_ref
from tests.fixtures.servicenow import make_connector, running_sandbox
from tests.unit.test_jira_connector import api
from tests.unit.test_jira_connector import connector as jira_connector

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Book:
    """A directory from a dict of handle → e-mail, counting the questions asked."""

    def __init__(self, people: dict[str, str]) -> None:
        self.people = people
        self.asked = 0

    def email_of(self, handle: str) -> str | None:
        self.asked += 1
        return self.people.get(handle)

    def find_by_email(self, email: str) -> str | None:
        self.asked += 1
        return next((h for h, e in self.people.items() if e == email), None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    yield s
    s.close()


def test_table_first_then_email_then_fallback_and_lookups_are_cached_for_the_ttl(store: Store) -> None:
    rules = UserRules.model_validate({
        "table": [{"itsm": "sn-boss", "jira": "acc-boss"}],
        "fallback": {"itsm": "sn-bridge", "jira": "acc-bridge"},
        "cache_hours": 1,
    })
    itsm = Book({"sn-sam": "sam@example.com", "sn-ghost": "ghost@example.com", "sn-boss": "boss@example.com"})
    jira = Book({"acc-sam": "sam@example.com"})
    clock = [NOW]
    resolver = UserResolver("m", rules, itsm, jira, store, lambda: clock[0])
    assert resolver.resolve("to_jira", "sn-boss") == "acc-boss"  # the table: no call
    assert itsm.asked + jira.asked == 0
    assert resolver.resolve("to_jira", "sn-sam") == "acc-sam"  # by e-mail: two calls
    assert resolver.resolve("to_jira", "sn-ghost") == "acc-bridge"  # nobody with that address: fallback
    assert resolver.unresolved == {
        ("to_jira", "sn-ghost"): "nobody with the address ghost@example.com on the other side"
    }
    asked = itsm.asked + jira.asked
    again = UserResolver("m", rules, itsm, jira, store, lambda: clock[0])  # next cycle: from the store
    assert again.resolve("to_jira", "sn-sam") == "acc-sam"
    assert again.resolve("to_jira", "sn-ghost") == "acc-bridge"
    assert itsm.asked + jira.asked == asked
    clock[0] = NOW + timedelta(hours=2)  # past cache_hours: asked again
    assert UserResolver("m", rules, itsm, jira, store, lambda: clock[0]).resolve("to_jira", "sn-sam") == "acc-sam"
    assert itsm.asked + jira.asked == asked + 2


def test_without_fallback_an_unknown_person_leaves_the_field_empty() -> None:
    resolver = UserResolver("m", UserRules(), Book({}), Book({}), None, lambda: NOW)
    assert resolver.resolve("to_jira", "nobody") is None
    assert resolver.translate("to_jira", ("a", "b")) == ()


def test_a_user_rule_projects_the_resolved_jira_account_and_drops_who_is_unknown() -> None:
    spec = mapping(fields={"summary": {"template": "{{ record.key }}"},
                           "assignee": {"itsm": "assigned_to", "user": True}})
    found = plan(spec, replace(given(records=[record(1, assigned_to="sn-sam")]), people={"sn-sam": "acc-sam"}))
    [create] = [a for a in found.actions if isinstance(a, CreateIssue)]
    assert create.fields["assignee"] == "acc-sam"
    unknown = plan(spec, replace(given(records=[record(1, assigned_to="sn-x")]), people={"sn-x": None}))
    [create] = [a for a in unknown.actions if isinstance(a, CreateIssue)]
    assert "assignee" not in create.fields


def test_user_true_takes_an_itsm_field_in_any_direction_but_no_map_or_template() -> None:
    assert FieldRule(itsm="assigned_to", user=True, direction="both").user
    assert FieldRule(itsm="Owner", user=True, direction="to_itsm").user
    with pytest.raises(ValueError, match="user: true"):
        FieldRule(template="{{ assigned_to }}", user=True)
    with pytest.raises(ValueError, match="user: true"):
        FieldRule(itsm="assigned_to", user=True, map={"a": "b"}, default="b")


def test_a_one_person_list_and_that_person_are_one_value_so_a_requestor_and_a_reporter_settle() -> None:
    """RT's Requestor is a list of addresses, a Jira reporter one account: ("a@x",) must project to the
    account, and the issue showing that account must plan nothing (no write back and forth)."""
    assert one_person(("a",)) == "a"
    assert one_person(("b", "a")) == ("a", "b")
    assert one_person(()) is None
    assert one_person("") is None
    assert one_person("a") == "a"
    rules = {"summary": {"template": "{{ record.key }}"},
             "reporter": {"itsm": "Requestor", "user": True, "direction": "both"}}
    spec = mapping(fields=rules)
    found = plan(spec, replace(given(records=[record(1, Requestor=("c@example.test",))]),
                               people={"c@example.test": "acc-c"}))
    [create] = [a for a in found.actions if isinstance(a, CreateIssue)]
    assert create.fields["reporter"] == "acc-c"
    synced = {"summary": "INC0000001", "reporter": "acc-c"}
    state = link_state(1, 1, {1: (synced, "2")}, issue_fields=synced)
    settled = plan(spec, replace(given(records=[record(1, Requestor=("c@example.test",))], issues=[
        issue(1, reporter="acc-c")], links=[state]), people={"c@example.test": "acc-c"}))
    assert [a for a in settled.actions if isinstance(a, UpdateFields)] == []


# ------------------------------------------------------------------------------ Jira → ITSM, planned

BOTH = {"summary": {"template": "{{ record.key }}"},
        "assignee": {"itsm": "assigned_to", "user": True, "direction": "both"}}


def _linked(assignee: str | None = "acc-sam") -> Any:
    synced = {"summary": "INC0000001", "assignee": assignee}
    return link_state(1, 1, {1: (synced, "2")}, issue_fields=synced)


def test_a_jira_assignee_change_reaches_the_record_as_its_itsm_user() -> None:
    spec = mapping(fields=BOTH)
    given_ = replace(given(issues=[issue(1, assignee="acc-dana")], links=[_linked()]),
                     people_to_itsm={"acc-dana": "sn-dana"}, people={"sn-dana": "acc-dana"})
    result = plan(spec, given_)
    [update] = [a for a in result.actions if isinstance(a, UpdateFields)]
    assert (update.target, dict(update.values)) == (record_ref(1), {"assigned_to": "sn-dana"})
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"assignee": "acc-dana"}) in update.updates
    assert SyncedUpdate(Side.JIRA, issue_ref(1).id, {"assignee": "acc-dana"}) in update.updates
    assert result.notes == []


def test_a_fallback_person_is_synced_as_what_the_record_then_projects_so_nothing_bounces_back() -> None:
    spec = mapping(fields=BOTH)
    given_ = replace(given(issues=[issue(1, assignee="acc-ext")], links=[_linked()]),
                     people_to_itsm={"acc-ext": "sn-bridge"}, people={"sn-bridge": "acc-bridge"})
    [update] = [a for a in plan(spec, given_).actions if isinstance(a, UpdateFields)]
    assert dict(update.values) == {"assigned_to": "sn-bridge"}
    assert SyncedUpdate(Side.ITSM, record_ref(1).id, {"assignee": "acc-bridge"}) in update.updates
    assert SyncedUpdate(Side.JIRA, issue_ref(1).id, {"assignee": "acc-ext"}) in update.updates


def test_a_jira_person_nobody_matches_leaves_the_record_alone_and_the_plan_says_so() -> None:
    spec = mapping(fields=BOTH)
    given_ = replace(given(issues=[issue(1, assignee="acc-ghost")], links=[_linked()]),
                     people_to_itsm={"acc-ghost": None})
    result = plan(spec, given_)
    assert [a for a in result.actions if isinstance(a, UpdateFields)] == []
    assert result.notes == ["OPS-1: assignee: no ServiceNow user for the Jira user acc-ghost (not in users.table, "
                            "no matching e-mail address, no users.fallback): the records keep their person"]
    assert SyncedUpdate(Side.JIRA, issue_ref(1).id, {"assignee": "acc-ghost"}) in result.acknowledgements


def test_an_unassigned_issue_empties_the_itsm_field_with_the_itsms_own_nobody() -> None:
    spec = mapping(fields=BOTH)
    sn = plan(spec, replace(given(issues=[issue(1, assignee=None)], links=[_linked()])))
    [update] = [a for a in sn.actions if isinstance(a, UpdateFields)]
    assert dict(update.values) == {"assigned_to": None}
    rt = plan(spec, replace(given(issues=[issue(1, assignee=None)], links=[_linked()]),
                            people_to_itsm={"": "Nobody"}))
    [update] = [a for a in rt.actions if isinstance(a, UpdateFields)]
    assert dict(update.values) == {"assigned_to": "Nobody"}


@pytest.mark.parametrize(("policy", "expected"), [("report", ReportConflict), ("jira_wins", UpdateFields)])
def test_both_sides_changing_the_person_follows_the_conflict_policy(policy: str, expected: type) -> None:
    spec = mapping(fields=BOTH, conflicts={"default": policy})
    given_ = replace(given(records=[record(1, assigned_to="sn-lee")], issues=[issue(1, assignee="acc-dana")],
                           links=[_linked()]),
                     people={"sn-lee": "acc-lee", "sn-dana": "acc-dana"}, people_to_itsm={"acc-dana": "sn-dana"})
    result = plan(spec, given_)
    [action] = [a for a in result.actions if isinstance(a, ReportConflict)
                or (isinstance(a, UpdateFields) and "assignee" not in a.values and "summary" not in a.values)]
    assert isinstance(action, expected)
    if isinstance(action, UpdateFields):
        assert (action.target, dict(action.values)) == (record_ref(1), {"assigned_to": "sn-dana"})


def test_the_resolver_maps_jira_to_itsm_through_the_table_email_and_fallback(store: Store) -> None:
    rules = UserRules.model_validate({"table": [{"itsm": "sn-boss", "jira": "acc-boss"}]})
    itsm = Book({"sn-sam": "sam@example.com"})
    jira = Book({"acc-sam": "sam@example.com", "acc-ghost": "ghost@example.com"})
    resolver = UserResolver("m", rules, itsm, jira, store, lambda: NOW)
    assert resolver.resolve("to_itsm", "acc-boss") == "sn-boss"
    assert resolver.resolve("to_itsm", "acc-sam") == "sn-sam"
    assert resolver.resolve("to_itsm", "acc-ghost") is None  # no fallback: nobody, and the field stays
    fallback = rules.model_copy(update={"fallback": UserPair(itsm="sn-bridge", jira="acc-bridge")})
    assert UserResolver("m", fallback, itsm, jira, store, lambda: NOW).resolve("to_itsm", "acc-ghost") == "sn-bridge"


def test_the_engine_maps_the_assignee_through_the_table(tmp_path: Path) -> None:
    spec = mapping_spec(
        fields={"summary": {"template": "{{ record.key }}: {{ short_description }}"},
                "assignee": {"itsm": "assigned_to", "user": True}},
        users={"match_by": "table", "table": [{"itsm": "sn-sam", "jira": "dana"}],
               "fallback": {"itsm": "x", "jira": "bridge"}},
    )
    world = World(tmp_path, spec)
    try:
        sam = world.incident("Printer", assigned_to="sn-sam")
        other = world.incident("Scanner", assigned_to="sn-nobody")
        world.settle()
        assert world.jira.issue(world.issue_of(sam)).fields["assignee"] == "dana"
        assert world.jira.issue(world.issue_of(other)).fields["assignee"] == "bridge"  # the fallback
    finally:
        world.close()


# ------------------------------------------------------------------------------------- directories


@pytest.mark.slow
def test_servicenow_directory_finds_address_and_person_in_sys_user() -> None:
    with running_sandbox() as env:
        made = env.app.create_incident("Printer", author="Sam Support")
        directory = ServiceNowDirectory(make_connector(env.url))
        sam = env.app._person("Sam Support")
        assert directory.email_of(sam["sys_id"]) == "sam.support@example.com"
        assert directory.find_by_email("sam.support@example.com") == sam["sys_id"]
        assert directory.find_by_email("nobody@example.com") is None
        with pytest.raises(NotFoundError):
            directory.email_of("bad^query")
        with pytest.raises(NotFoundError):
            directory.email_of("0" * 32)
        assert made["number"].startswith("INC")


@responses.activate
@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
def test_jira_directory_searches_by_email_and_takes_only_an_unambiguous_answer(deployment: str) -> None:
    key = "accountId" if deployment == "cloud" else "name"
    by = "query" if deployment == "cloud" else "username"
    dana: dict[str, Any] = {key: "dana-id", "displayName": "Dana Developer", "active": True}
    responses.get(api("user/search", deployment), json=[{**dana, "emailAddress": "dana@example.com"}],
                  match=[responses.matchers.query_param_matcher({by: "dana@example.com", "maxResults": "10"})])
    responses.get(api("user/search", deployment), json=[dana, {**dana, key: "other"}],
                  match=[responses.matchers.query_param_matcher({by: "hidden@example.com", "maxResults": "10"})])
    responses.get(api("user", deployment), json={**dana, "emailAddress": "dana@example.com"},
                  match=[responses.matchers.query_param_matcher({"accountId" if deployment == "cloud" else "username":
                                                                 "dana-id"})])
    directory = JiraDirectory(jira_connector(deployment))
    assert directory.find_by_email("dana@example.com") == "dana-id"
    assert directory.find_by_email("hidden@example.com") is None  # two accounts, addresses hidden: ambiguous
    assert directory.email_of("dana-id") == "dana@example.com"


# ------------------------------------------------------------------------------------- check --online


class Recent:
    """A connector's search as :func:`sampled_people` uses it: oldest first."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.asked: list[tuple[Any, list[str]]] = []

    def search_changed(self, mapping: Any, since: Any, fields: list[str]) -> Iterator[Any]:
        self.asked.append((since, list(fields)))
        yield from self.items


def test_check_online_lists_recent_people_who_cannot_be_resolved_ignoring_the_fallback() -> None:
    spec = mapping(fields=BOTH, users={"table": [{"itsm": "sn-boss", "jira": "acc-boss"}],
                                       "fallback": {"itsm": "sn-bridge", "jira": "acc-bridge"}})
    old = [record(n, assigned_to="sn-old") for n in range(60, 70)]
    records = Recent([*old, *(record(n, assigned_to=h) for n, h in
                                enumerate(["sn-sam", "sn-boss", "sn-ghost", "Nobody"] * 13))])
    issues = Recent([issue(1, assignee="acc-sam"), issue(2, assignee="acc-stranger"), issue(3, assignee=None)])
    itsm = Book({"sn-sam": "sam@example.com", "sn-ghost": "ghost@example.com", "sn-old": "old@example.com"})
    itsm.nobody = "Nobody"  # type: ignore[attr-defined]
    jira = Book({"acc-sam": "sam@example.com", "acc-stranger": "stranger@example.com"})
    seen, unknown = sampled_people(spec, records, issues, without_fallback(spec, itsm, jira, NOW), NOW)  # type: ignore[arg-type]
    assert seen == 5  # sn-sam, sn-boss, sn-ghost (sn-old is older than the newest 50); acc-sam, acc-stranger
    assert [u.what for u in unknown] == [
        "incidents: ITSM user sn-ghost (in recent records) has no Jira account: "
        "nobody with the address ghost@example.com on the other side",
        "incidents: Jira user acc-stranger (in recent issues) has no ITSM user: "
        "nobody with the address stranger@example.com on the other side",
    ]
    assert records.asked == [(NOW - timedelta(days=30), ["assigned_to"])]
    assert issues.asked == [(NOW - timedelta(days=30), ["assignee"])]


def test_rt_owner_refusals_in_a_200_answer_are_refusals() -> None:
    """RT::Ticket::SetOwner answers 200 with these (RT 5 lib/RT/Ticket.pm); "already owns" is a no-op."""
    for refused in ("Ticket 7: You can only reassign tickets that you own or that are unowned",
                    "Ticket 7: That user does not exist", "Ticket 7: That user may not own tickets in that queue"):
        assert failed_messages([refused]) == [refused]
    assert failed_messages(["Ticket 7: Owner changed from Nobody to agent",
                            "Ticket 7: That user already owns that ticket"]) == []
