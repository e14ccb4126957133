"""One-shot runs keep Jira's field catalogue and the account (its time zone) in the state store for an
hour: the second run reads neither ``GET /field`` nor ``GET /myself`` again."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bridge.commands._vendor_cache import VENDOR_FACTS_TTL, keep_vendor_facts, prime_vendor_facts
from bridge.connectors.jira import JiraConnector
from bridge.connectors.memory import MemoryItsm
from bridge.store import Store
from bridge.sync.engine import Engine
from tests.fixtures.engine import mapping_spec
from tests.fixtures.jira_sandbox import JiraEnv, jira_env  # noqa: F401


def one_shot(env: JiraEnv, store: Store) -> dict[str, int]:
    """What one run reads before its first search: the account's zone and a custom field's id."""
    jira = env.connector()
    engine = Engine(store, MemoryItsm(), jira, [mapping_spec()])
    primed = prime_vendor_facts(engine)
    jira.user_zone()
    jira.field_id("ITSM Reference")
    keep_vendor_facts(engine, primed)
    return jira.calls.snapshot()


def test_the_second_run_reads_neither_the_catalogue_nor_the_account(jira_env: JiraEnv, tmp_path: Path) -> None:  # noqa: F811
    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    try:
        first = one_shot(jira_env, store)
        assert sum(first.values()) == 2, first  # GET /myself and GET /field
        assert one_shot(jira_env, store) == {}
        key = jira_env.connectors[0].facts_key
        assert jira_env.connectors[1].facts_key == key
        assert store.cached(key) is not None
        assert VENDOR_FACTS_TTL.total_seconds() == 3600
    finally:
        store.close()


def test_other_credentials_do_not_share_the_cache(jira_env: JiraEnv) -> None:  # noqa: F811
    other = JiraConnector(jira_env.url, deployment="datacenter", token=SecretStr("another-token"))
    try:
        assert other.facts_key != jira_env.connector().facts_key
        assert "another-token" not in other.facts_key
    finally:
        other.close()
