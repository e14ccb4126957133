"""The state store: the only package that speaks SQL (SQLAlchemy Core, Alembic migrations).

Use :class:`Store` (``Store.open(url)``): the façade over the repositories of
:mod:`bridge.store.repositories` (links, synced values, cursors, journal, error list); see
:mod:`bridge.store.tables` for the schema. The store imports nothing from the engine (``bridge.sync``):
what it stores are the plain values of :mod:`bridge.core`, and what a succeeded action changed arrives
as :mod:`bridge.core.effects` (:meth:`Store.apply`).
"""

from bridge.store.entries import DONE, FAILED, PENDING, ErrorEntry, JournalEntry, MappingStatus
from bridge.store.locks import LeadershipLostError, MappingLock
from bridge.store.store import Store, masked_url

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "ErrorEntry",
    "JournalEntry",
    "LeadershipLostError",
    "MappingLock",
    "MappingStatus",
    "Store",
    "masked_url",
]
