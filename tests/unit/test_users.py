"""users: people mapped between the systems by explicit pair, by e-mail (cached with a TTL), or to the fallback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from bridge.errors import NotFoundError
from bridge.mapping.schema import FieldRule, UserRules
from bridge.store import Store
from bridge.sync.actions import CreateIssue
from bridge.sync.planner import plan
from bridge.users.directories import JiraDirectory, ServiceNowDirectory
from bridge.users.resolve import UserResolver
from tests.fixtures.engine import World, mapping_spec
from tests.fixtures.planning import given, mapping, record
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


def test_user_true_takes_an_itsm_field_to_jira_only() -> None:
    with pytest.raises(ValueError, match="user: true"):
        FieldRule(itsm="assigned_to", user=True, direction="both")
    with pytest.raises(ValueError, match="user: true"):
        FieldRule(template="{{ assigned_to }}", user=True)


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
