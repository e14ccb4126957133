"""Closed records: one record of a shared link leaves it while the issue stays linked to the others.

A link that several records share (``links.link_existing`` fans in) must not close as a whole when one
of them is deleted, merged away or leaves its route with ``links.on_route_exit: detach``: only that
record's row is closed (time and reason), and the issue goes on syncing with the others. The record
is then never synced nor escalated again, as for a closed link.

Revision ID: 0009_closed_records
Revises: 0005_leader_epoch
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0009_closed_records"
down_revision = "0008_vendor_cache"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table in every way PostgreSQL can; Alembic copies it when needed
    with op.batch_alter_table("link_records") as batch:
        batch.add_column(sa.Column("closed", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("closed_reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_records") as batch:
        batch.drop_column("closed_reason")
        batch.drop_column("closed")
