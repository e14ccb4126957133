"""Link lifecycle: a link is open, or closed with a time and a reason.

A link closes when one of its items is deleted (ServiceNow or Jira answer 404, an RT ticket is in
status ``deleted``) or merged into another ticket (RT): bridge must never write to such an item again,
and never escalate its record again, so the fact has to outlive the cycle that saw it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table in every way PostgreSQL can; Alembic copies it when needed
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("closed", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("closed_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("closed_reason")
        batch.drop_column("closed")
