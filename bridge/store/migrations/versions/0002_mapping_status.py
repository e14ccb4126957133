"""Mapping status: when each mapping's last cycle and last successful cycle ended.

A one-shot run (``bridge sync --once --textfile``) starts with empty metrics; without this table it
could not tell node_exporter when a mapping last synced, and a run that failed would look like a
mapping that never synced. ``bridge doctor`` prints it too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_status",
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("last_cycle", UTCDateTime, nullable=True),
        sa.Column("last_ok", sa.Boolean, nullable=True),
        sa.Column("last_success", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("mapping", name="pk_mapping_status"),
    )


def downgrade() -> None:
    op.drop_table("mapping_status")
