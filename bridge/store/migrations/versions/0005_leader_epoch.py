"""Leader epoch: a fencing token per mapping for replicas on PostgreSQL.

A replica whose lock connection died keeps running until it notices; in that window another replica
may take the mapping over. Each acquisition of a mapping's advisory lock increments the mapping's
epoch here, and the transaction that journals an action compares it with the epoch the replica got:
a stale leader's action is refused before it reaches a vendor (docs/operations.md, "Replicas").

Revision ID: 0005_leader_epoch
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0005_leader_epoch"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leader_epochs",
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(63), nullable=False),
        sa.Column("acquired", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("mapping", name="pk_leader_epochs"),
    )


def downgrade() -> None:
    op.drop_table("leader_epochs")
