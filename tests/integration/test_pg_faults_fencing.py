"""The fencing token on a real PostgreSQL: a replica that lost its lock without noticing is refused in
the transaction that journals its next action, so the action never reaches a vendor."""

from __future__ import annotations

import pytest
import sqlalchemy

from bridge.errors import LockHeldError
from bridge.store import LeadershipLostError, Store
from bridge.store.locks import AdvisoryLock, advisory_key
from bridge.store.tables import leader_epochs
from tests.fixtures.store import _reset_postgres
from tests.unit.test_store import create_action

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    _reset_postgres(postgres_url)
    return postgres_url


def terminate_lock_connection(url: str, mapping: str) -> None:
    """What a database restart or a network cut does to the lock: its session goes, and the lock with it."""
    admin = sqlalchemy.create_engine(url)
    try:
        with admin.begin() as connection:
            killed = connection.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": advisory_key(mapping) & 0xFFFFFFFFFFFFFFFF},
            ).scalars().all()
    finally:
        admin.dispose()
    assert killed == [True]


def epoch_row(store: Store, mapping: str) -> tuple[int, str]:
    with store.engine.connect() as connection:
        row = connection.execute(
            sqlalchemy.select(leader_epochs.c.epoch, leader_epochs.c.holder).where(leader_epochs.c.mapping == mapping)
        ).one()
    return int(row.epoch), str(row.holder)


def test_every_acquisition_takes_a_new_epoch(pg_url: str) -> None:
    first, second = Store.open(pg_url), Store.open(pg_url)
    try:
        lock = first.acquire_lock("incidents")
        assert isinstance(lock, AdvisoryLock)
        assert epoch_row(first, "incidents")[0] == lock.epoch == 1
        assert epoch_row(first, "incidents")[1].startswith("bridge@")
        with pytest.raises(LockHeldError):
            second.acquire_lock("incidents")
        assert epoch_row(first, "incidents")[0] == 1  # a refused attempt takes no epoch
        first.release_lock("incidents")
        taken = second.acquire_lock("incidents")
        assert isinstance(taken, AdvisoryLock)
        assert taken.epoch == 2
        taken.check()
    finally:
        first.close()
        second.close()


def test_a_stale_leader_is_refused_when_it_journals(pg_url: str) -> None:
    stale, fresh = Store.open(pg_url), Store.open(pg_url)
    try:
        stale.acquire_lock("incidents")
        terminate_lock_connection(pg_url, "incidents")
        # the stale leader has not probed its lock yet; the other replica takes the mapping over
        assert isinstance(fresh.acquire_lock("incidents"), AdvisoryLock)
        with pytest.raises(LeadershipLostError, match=r"epoch 1.*epoch 2.*refused before it reached a vendor"):
            stale.journal_begin(create_action(1))
        assert stale.journal_counts("incidents") == {}  # nothing journaled: the executor never sends it
        with pytest.raises(LeadershipLostError):
            stale.held_lock("incidents").check()  # type: ignore[union-attr]
        fresh.journal_begin(create_action(1))  # the new leader journals as usual
        assert fresh.journal_counts("incidents") == {"pending": 1}
    finally:
        stale.close()
        fresh.close()


def journal_both(store: Store) -> None:
    """Two actions in one transaction, as the executor journals a cycle's batch."""
    with store.transaction():
        store.journal_begin(create_action(1))
        store.journal_begin(create_action(2))


def test_a_batch_journaled_in_one_transaction_is_refused_whole(pg_url: str) -> None:
    stale, fresh = Store.open(pg_url), Store.open(pg_url)
    try:
        stale.acquire_lock("incidents")
        terminate_lock_connection(pg_url, "incidents")
        fresh.acquire_lock("incidents")
        with pytest.raises(LeadershipLostError):
            journal_both(stale)
        assert fresh.journal_counts("incidents") == {}
    finally:
        stale.close()
        fresh.close()


def test_the_probe_sees_a_lost_lock_connection_while_idle(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        lock = store.acquire_lock("incidents")
        lock.check()
        terminate_lock_connection(pg_url, "incidents")
        with pytest.raises(LeadershipLostError, match="lost the database connection"):
            lock.check()
        with pytest.raises(LeadershipLostError):
            lock.check()  # stays lost: the daemon releases it and goes on standby
    finally:
        store.close()


def test_the_doctor_reads_the_newest_epoch_from_the_database(pg_url: str) -> None:
    first, second = Store.open(pg_url), Store.open(pg_url)
    try:
        assert first.leader_epochs(["incidents"]) == {}
        first.acquire_lock("incidents")
        first.release_lock("incidents")
        second.acquire_lock("incidents")
        found = first.leader_epochs(["incidents", "never-led"])
        assert set(found) == {"incidents"}
        assert found["incidents"].epoch == 2
        assert found["incidents"].describe().startswith("epoch 2, taken by bridge@")
    finally:
        first.close()
        second.close()
