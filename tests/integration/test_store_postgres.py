"""PostgreSQL specifics: advisory locks across replicas, leadership loss, no password in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from bridge.errors import LockHeldError, StoreError
from bridge.store import LeadershipLostError, Store
from bridge.store.locks import advisory_key
from tests.fixtures.store import _reset_postgres

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    _reset_postgres(postgres_url)
    return postgres_url


def test_one_replica_per_mapping(pg_url: str) -> None:
    first, second = Store.open(pg_url), Store.open(pg_url)
    try:
        first.acquire_lock("incidents")
        with pytest.raises(LockHeldError, match="replica"):
            second.acquire_lock("incidents")
        second.acquire_lock("changes")
        first.close()  # a replica going away frees its mappings
        second.acquire_lock("incidents").check()
    finally:
        first.close()
        second.close()


def test_losing_the_lock_connection_is_losing_leadership(pg_url: str) -> None:
    store = Store.open(pg_url)
    admin = sqlalchemy.create_engine(pg_url)
    try:
        lock = store.acquire_lock("incidents")
        lock.check()
        with admin.begin() as connection:
            killed = connection.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": advisory_key("incidents") & 0xFFFFFFFFFFFFFFFF},
            ).all()
        assert killed, "the advisory lock was not visible in pg_locks"
        with pytest.raises(LeadershipLostError):
            lock.check()
        other = Store.open(pg_url)
        try:
            other.acquire_lock("incidents").check()  # the server dropped the lock with the session
        finally:
            other.close()
    finally:
        admin.dispose()
        store.close()


def test_the_database_password_is_not_stored_anywhere(pg_url: str) -> None:
    password = sqlalchemy.engine.make_url(pg_url).password
    assert password
    store = Store.open(pg_url)
    try:
        store.report_problem("incidents", "fp", "poisoned_record", "bad record", item_ref="INC1")
        assert password not in store.display_url
        assert password not in repr(store.dump())
        with store.engine.connect() as connection:
            settings = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).all()
        assert password not in repr(settings)
    finally:
        store.close()


def test_unreachable_database_is_a_store_error_without_the_password(pg_url: str) -> None:
    url = sqlalchemy.engine.make_url(pg_url).set(port=1, password="s3cret-pw")
    with pytest.raises(StoreError) as info:
        Store.open(url.render_as_string(hide_password=False))
    assert "s3cret-pw" not in str(info.value)


def test_cycles_crash_and_reconcile_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from bridge.connectors.memory import SimulatedCrash
    from tests.fixtures.engine import World, mapping_spec

    world = World(tmp_path, mapping_spec(), database_url=pg_url)
    try:
        record = world.incident("Printer on fire", state="2")
        world.itsm.comment(record, "it smokes")
        world.jira.crash_after_next_write("add_comment")
        with pytest.raises(SimulatedCrash):
            world.cycle()
        world.restart()
        world.settle()
        [issue] = world.jira.issues()
        assert issue.status == "In Progress"
        assert len(world.jira.comments(issue.ref)) == 1
        assert world.itsm.record(record).fields["correlation_id"] == issue.ref.key
        assert world.store.dialect == "postgresql"
    finally:
        world.close()


def test_link_lifecycle_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """Migration 0003 on PostgreSQL: a deleted record closes its link, a merge moves or closes one, and
    closed links are kept, listed with their reason, and never loaded for planning."""
    from tests.fixtures.engine import World, mapping_spec

    world = World(tmp_path, mapping_spec(), database_url=pg_url)
    try:
        deleted, moved, survivor = (world.incident(f"Printer {n} on fire", state="2") for n in range(3))
        world.cycle()
        world.settle()
        world.itsm.delete(deleted)
        world.itsm.merge(moved, survivor)
        world.clock.advance(seconds=5)
        for ref in (deleted, moved):
            world.jira.comment(world.issue_of(ref), "any news?")
        world.settle()
        gone = world.store.link_for_record(world.spec.name, deleted.id)
        assert gone is not None
        assert gone.closed is not None
        assert gone.closed_reason == f"{deleted.key} was deleted in ServiceNow"
        merged = world.store.link_for_record(world.spec.name, moved.id)
        assert merged is not None
        assert merged.closed_reason is not None
        assert merged.closed_reason.startswith(f"{moved.key} was merged into {survivor.key}")
        assert world.store.load_link_states(world.spec.name, [deleted.id, moved.id, survivor.id], []) == [
            s for s in world.store.load_link_states(world.spec.name, [survivor.id], []) if s.link.closed is None
        ]
        assert world.store.link_count(world.spec.name, open_only=True) == 1
        assert world.store.link_count(world.spec.name) == 3
        assert world.store.dialect == "postgresql"
    finally:
        world.close()
