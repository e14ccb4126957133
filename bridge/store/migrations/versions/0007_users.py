"""Users: who a person is on the other side, cached per mapping (the mapping's ``users:`` section).

Mapping people costs vendor calls (a user lookup, a search by e-mail); the answers, found or not, are
kept with the time they were found so a cycle asks again only after ``users.cache_hours``.

Revision ID: 0007_users
Revises: 0005_leader_epoch
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0007_users"
down_revision = "0006_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_map",
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("handle", sa.String(255), nullable=False),
        sa.Column("answer", sa.String(255), nullable=True),
        sa.Column("resolved_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("mapping", "direction", "handle", name="pk_user_map"),
    )


def downgrade() -> None:
    op.drop_table("user_map")
