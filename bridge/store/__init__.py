"""The state store: the only package that speaks SQL (SQLAlchemy Core, Alembic migrations).

Use :class:`Store` (``Store.open(url)``); see :mod:`bridge.store.store` for the API and
:mod:`bridge.store.tables` for the schema.
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
