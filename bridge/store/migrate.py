"""Apply the Alembic migrations that ship inside the package, without an ``alembic.ini``.

The store calls :func:`upgrade` every time it opens, so an upgraded bridge migrates its database on
first start. The configuration is built in code and the open connection is handed to ``env.py``: no
URL (and so no password) is written to any file. On PostgreSQL the upgrade holds an advisory lock so
that replicas starting together do not race each other through the same migration.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: an arbitrary constant, distinct from every per-mapping lock key (those come from a hash)
_MIGRATION_LOCK_KEY = 0x62726964_6765_0001


def alembic_config(connection: Connection | None = None) -> Config:
    """A programmatic Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of bridge knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest)."""
    with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()
        driver = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
        previous = getattr(driver, "isolation_level", None)
        try:
            if driver is not None:
                # Python's sqlite3 commits each CREATE/ALTER on its own (it opens transactions for DML
                # only): a process killed mid-migration left tables without alembic's version row, and
                # every later start failed with "table … already exists". With the driver's implicit
                # transactions off and an explicit BEGIN, the whole upgrade commits or vanishes at once
                # (alembic joins the transaction already open on the connection).
                driver.isolation_level = None
                connection.exec_driver_sql("BEGIN")
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
        finally:
            if driver is not None:
                if connection.in_transaction():
                    connection.rollback()
                driver.isolation_level = previous
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                connection.commit()
