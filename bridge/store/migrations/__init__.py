"""Alembic migrations of the state store, applied by :func:`bridge.store.migrate.upgrade` at start."""
