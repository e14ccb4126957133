"""What every repository of the store shares: the engine, and the transaction a call joins or opens.

:class:`Database` is the root of the repositories (:mod:`bridge.store.repositories`); the
:class:`~bridge.store.Store` façade combines them. Every method runs in its own transaction unless
called inside :meth:`Database.transaction`, in which case it joins it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bridge.errors import StoreError
from bridge.model import FieldValue
from bridge.store.faults import store_error

CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def now() -> datetime:
    return datetime.now(UTC)


def chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def json_fields(values: Mapping[str, FieldValue]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def field_values(raw: Mapping[str, Any] | None) -> dict[str, FieldValue]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in (raw or {}).items()}



def reason(exc: BaseException) -> str:
    """A short reason for a database error, without SQL parameters (they may hold customer data)."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else type(exc).__name__
    return text.splitlines()[0][:300] if text else type(exc).__name__



class Database:
    """The engine and the per-thread current transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the store calls made inside into one transaction (nested calls join the outer one)."""
        if getattr(self._local, "connection", None) is not None:
            yield
            return
        try:
            with self.engine.begin() as connection:
                self._local.connection = connection
                try:
                    yield
                finally:
                    self._local.connection = None
        except IntegrityError as exc:
            raise StoreError(f"state store integrity error: {reason(exc)}") from None
        except SQLAlchemyError as exc:  # read-only, damaged, disk full: an operator's message (exit 3)
            raise store_error(exc, self.engine, "state store failed", reason(exc)) from None

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self.transaction():
            yield self._local.connection


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT`` made (every bridge table has a one-column integer key)."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - only for executemany inserts, which the store never makes
        raise StoreError("the database did not return the new row's id")
    return int(key[0])
