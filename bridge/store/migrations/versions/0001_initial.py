"""Initial schema: links, link records, synced item state, comment map, cursors, journal, error list.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("issue_id", sa.String(255), nullable=False),
        sa.Column("issue_key", sa.String(255), nullable=False),
        sa.Column("issue_url", sa.Text, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_links"),
        sa.UniqueConstraint("mapping", "issue_id", name="uq_links_mapping_issue_id"),
    )
    op.create_table(
        "link_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(255), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("record_key", sa.String(255), nullable=False),
        sa.Column("record_url", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_link_records"),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_link_records_link_id_links", ondelete="CASCADE"),
        sa.UniqueConstraint("mapping", "record_id", name="uq_link_records_mapping_record_id"),
    )
    op.create_index("ix_link_records_link_id", "link_records", ["link_id"])
    op.create_table(
        "item_state",
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("status", sa.String(255), nullable=True),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("updated", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("link_id", "side", "item_id", name="pk_item_state"),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_item_state_link_id_links", ondelete="CASCADE"),
    )
    op.create_table(
        "comment_map",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("origin_side", sa.String(8), nullable=False),
        sa.Column("origin_id", sa.String(255), nullable=False),
        sa.Column("origin_item", sa.String(255), nullable=False),
        sa.Column("mirror_item", sa.String(255), nullable=False),
        sa.Column("mirror_id", sa.String(255), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_comment_map"),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_comment_map_link_id_links", ondelete="CASCADE"),
        sa.UniqueConstraint(
            "origin_side", "origin_id", "mirror_item", name="uq_comment_map_origin_side_origin_id_mirror_item"
        ),
    )
    op.create_index("ix_comment_map_link_id", "comment_map", ["link_id"])
    op.create_table(
        "cursors",
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("value", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("mapping", "side", name="pk_cursors"),
    )
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("link_id", sa.Integer, nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("remote_id", sa.String(255), nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
        sa.UniqueConstraint("idempotency_key", name="uq_journal_idempotency_key"),
    )
    op.create_index("ix_journal_mapping_state", "journal", ["mapping", "state"])
    op.create_index("ix_journal_link_id", "journal", ["link_id"])
    op.create_table(
        "errors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(600), nullable=False),
        sa.Column("item_ref", sa.String(255), nullable=True),
        sa.Column("link_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("journal_id", sa.Integer, nullable=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("resolved", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_errors"),
        sa.ForeignKeyConstraint(
            ["journal_id"], ["journal.id"], name="fk_errors_journal_id_journal", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("fingerprint", name="uq_errors_fingerprint"),
    )
    op.create_index("ix_errors_mapping_resolved", "errors", ["mapping", "resolved"])


def downgrade() -> None:
    for index, table in (
        ("ix_errors_mapping_resolved", "errors"),
        ("ix_journal_link_id", "journal"),
        ("ix_journal_mapping_state", "journal"),
        ("ix_comment_map_link_id", "comment_map"),
        ("ix_link_records_link_id", "link_records"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("errors", "journal", "cursors", "comment_map", "item_state", "link_records", "links"):
        op.drop_table(table)
