"""Attachments: every file copied between a record and its issue, with the sha256 of its bytes.

A file is copied once: the pair (origin attachment id, mirror attachment id) keeps the next cycle from
copying it again or mirroring the copy back; the hash and name let a restored store recognise copies
already made.

Revision ID: 0006_attachments
Revises: 0005_leader_epoch
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0006_attachments"
down_revision = "0005_leader_epoch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_map",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("origin_side", sa.String(8), nullable=False),
        sa.Column("origin_id", sa.String(255), nullable=False),
        sa.Column("origin_item", sa.String(255), nullable=False),
        sa.Column("mirror_item", sa.String(255), nullable=False),
        sa.Column("mirror_id", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachment_map"),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name="fk_attachment_map_link_id_links", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "origin_side", "origin_id", "mirror_item", name="uq_attachment_map_origin_side_origin_id_mirror_item"
        ),
    )
    op.create_index("ix_attachment_map_link_id", "attachment_map", ["link_id"])


def downgrade() -> None:
    op.drop_index("ix_attachment_map_link_id", table_name="attachment_map")
    op.drop_table("attachment_map")
