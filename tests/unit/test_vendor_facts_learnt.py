"""What bridge learns at a first change is kept in the store between processes: the ServiceNow journal
authors' names, Jira's initial status and workflows (bridge/commands/_vendor_cache.py), for one-shot runs
and for a restarted daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.commands._vendor_cache import keep_vendor_facts, prime_vendor_facts
from bridge.connectors.base import CreateSpec
from bridge.connectors.memory import MemoryItsm
from bridge.daemon import Daemon
from bridge.model import Ref, Side
from bridge.store import Store
from bridge.sync.engine import Engine
from tests.fixtures.engine import mapping_spec
from tests.fixtures.jira_sandbox import JiraEnv, jira_env  # noqa: F401
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox() as env:
        yield env


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        yield opened
    finally:
        opened.close()


def test_journal_authors_names_are_kept_for_the_next_process(snow: Snow) -> None:
    made = snow.app.create_incident("Printer down", category="software")
    snow.app.add_customer_comment("incident", made["sys_id"], "Still down", author="Carol Caller")
    ref = Ref(Side.ITSM, "incident", made["sys_id"], made["number"])
    first = make_connector(snow.url)
    comments = first.comments_since([ref], None)
    assert first.calls.snapshot().get("GET /api/now/table/sys_user") == 1
    facts = json.loads(json.dumps(first.vendor_facts()))  # as the store keeps them
    assert "Carol Caller" in facts["people"].values()
    second = make_connector(snow.url)
    second.prime(facts)
    assert second.comments_since([ref], None) == comments
    assert "GET /api/now/table/sys_user" not in second.calls.snapshot()
    # the dictionary's facts (another part of the connector) still go through the same two calls
    second.prime({"field_lengths": {"incident": {"short_description": 160}}, **facts})
    assert second.vendor_facts()["field_lengths"] == {"incident": {"short_description": 160}}


def test_a_one_shot_run_keeps_what_its_first_create_and_status_change_learnt(
    jira_env: JiraEnv, store: Store,  # noqa: F811
) -> None:
    spec = CreateSpec("OPS", "Bug", {"summary": "Printer down"}, "itsm-incident-sys0001", labels=("bridge",))

    def one_shot(marker: str) -> dict[str, int]:
        jira = jira_env.connector()
        engine = Engine(store, MemoryItsm(), jira, [mapping_spec()])
        primed = prime_vendor_facts(engine)
        issue = jira.create(CreateSpec(spec.project, spec.issue_type, spec.fields, marker, labels=spec.labels))
        jira.set_status(issue.ref, "In Progress", {})
        keep_vendor_facts(engine, primed)
        return jira.calls.snapshot()

    first = one_shot("itsm-incident-sys0001")
    assert any("/transitions" in k and k.startswith("GET") for k in first)
    second = one_shot("itsm-incident-sys0002")
    api = jira_env.sandbox.api
    assert second == {f"POST {api}/issue": 1, f"POST {api}/issue/{{id}}/transitions": 1}


def test_a_restarted_daemon_primes_what_the_last_one_learnt(jira_env: JiraEnv, store: Store) -> None:  # noqa: F811
    jira = jira_env.connector()
    engine = Engine(store, MemoryItsm(), jira, [mapping_spec()])
    daemon = Daemon(engine, interval_seconds=60)
    daemon.run_all()
    jira.create(CreateSpec("OPS", "Bug", {"summary": "Printer down"}, "itsm-incident-sys0001", labels=("bridge",)))
    daemon.run_all()  # kept after the pass
    cached = store.cached(jira.facts_key)
    assert cached is not None
    assert cached["initial_statuses"][0]["status"] == "To Do"
    restarted = jira_env.connector()
    Daemon(Engine(store, MemoryItsm(), restarted, [mapping_spec()]), interval_seconds=60).run_all()
    assert restarted.initial_statuses() == {("OPS", "Bug"): ("To Do", "new")}
