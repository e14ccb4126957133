"""A small key-value table: vendor facts cached with a time-to-live, and housekeeping marks.

A one-shot run (``bridge sync --once`` from cron or a timer) starts from nothing each time; what it
would otherwise re-read from a vendor on every run (Jira's field catalogue, the account's time zone) can
be kept here until ``expires``. The journal pruning step also notes here when it last ran, so a
one-shot run prunes at most once a day.

Revision ID: 0008_vendor_cache
Revises: 0005_leader_epoch
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0008_vendor_cache"
down_revision = "0007_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_values",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.Column("expires", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_key_values"),
    )


def downgrade() -> None:
    op.drop_table("key_values")
