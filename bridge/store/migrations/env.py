"""Alembic environment: runs on the connection :func:`bridge.store.migrate.upgrade` hands over.

There is no ``alembic.ini`` and no URL in the configuration: the store passes an open connection in
``config.attributes["connection"]``, so the database password is never written anywhere.
"""

from __future__ import annotations

from alembic import context

from bridge.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running `alembic` by hand
    raise RuntimeError("bridge migrations run through bridge.store.migrate.upgrade(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
