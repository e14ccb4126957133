"""First start: when bridge first saw each mapping.

A mapping's first cycle reads everything its route selects; records closed before that moment are not
escalated (installing bridge must not flood Jira with years of resolved incidents). The moment is kept
so that later full reads (a reset cursor) draw the same line, and ``bridge sync --since`` moves it back
for an explicit backfill.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_first_seen",
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("mapping", name="pk_mapping_first_seen"),
    )


def downgrade() -> None:
    op.drop_table("mapping_first_seen")
