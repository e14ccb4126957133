"""The state store's schema, as SQLAlchemy Core tables.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the two, so an
edit here without a migration fails the suite.

* ``links`` + ``link_records``: one Jira issue per link, one or more records per link (``link_existing``
  fans in). A record belongs to at most one link per mapping (unique ``mapping, record_id``). A link
  is open, or closed (``closed`` time and ``closed_reason``) once an item of it is deleted or merged.
* ``item_state``: the last synced values of every mapped field on each item of a link, in Jira's
  vocabulary (see :mod:`bridge.core.state`), plus the item version last fully processed.
* ``comment_map``: every mirrored comment, so a comment is mirrored once and never back to its origin.
* ``attachment_map``: every copied file, with the sha256 of its bytes, likewise.
* ``cursors``: per mapping and side, the high-water mark of changes processed.
* ``journal``: every action, before (pending) and after (done/failed) its remote write: the audit
  trail, and what makes the executor idempotent across crashes.
* ``errors``: the error list: failed actions and non-action problems (conflicts, template errors,
  poisoned records), de-duplicated by ``fingerprint`` with a count and first/last seen.
* ``mapping_status``: per mapping, the end of its last cycle and of its last successful one.
* ``leader_epochs``: per mapping, the leadership epoch (fencing token) of its lock on PostgreSQL.
* ``key_values``: cached vendor facts with a time-to-live, and housekeeping marks (journal pruning).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from bridge.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(255)
MAPPING = String(64)

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mapping", MAPPING, nullable=False),
    Column("issue_id", ID, nullable=False),
    Column("issue_key", ID, nullable=False),
    Column("issue_url", Text, nullable=False, default=""),
    Column("created", UTCDateTime, nullable=False),
    # the lifecycle (migration 0003): set when an item of the link was deleted or merged away
    Column("closed", UTCDateTime, nullable=True),
    Column("closed_reason", Text, nullable=True),
    UniqueConstraint("mapping", "issue_id"),
)

link_records = Table(
    "link_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link_id", Integer, ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
    Column("mapping", MAPPING, nullable=False),
    Column("side", String(8), nullable=False),
    Column("kind", ID, nullable=False),
    Column("record_id", ID, nullable=False),
    Column("record_key", ID, nullable=False),
    Column("record_url", Text, nullable=False, default=""),
    # migration 0006: this record left a link that other records still share (deleted, merged, detached)
    Column("closed", UTCDateTime, nullable=True),
    Column("closed_reason", Text, nullable=True),
    UniqueConstraint("mapping", "record_id"),
    Index(None, "link_id"),
)

item_state = Table(
    "item_state",
    metadata,
    Column("link_id", Integer, ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
    Column("side", String(8), primary_key=True),
    Column("item_id", ID, primary_key=True),
    Column("fields", JSON, nullable=False),
    Column("status", ID, nullable=True),
    Column("version", ID, nullable=False, default=""),
    Column("updated", UTCDateTime, nullable=True),
)

comment_map = Table(
    "comment_map",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link_id", Integer, ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
    Column("origin_side", String(8), nullable=False),
    Column("origin_id", ID, nullable=False),
    Column("origin_item", ID, nullable=False),
    Column("mirror_item", ID, nullable=False),
    Column("mirror_id", ID, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("origin_side", "origin_id", "mirror_item"),
    Index(None, "link_id"),
)

#: Every copied file (migration 0006): a file is copied once and never back to its origin; ``sha256`` lets
#: the executor recognise a copy already on the other side after the store was lost.
attachment_map = Table(
    "attachment_map",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("link_id", Integer, ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
    Column("origin_side", String(8), nullable=False),
    Column("origin_id", ID, nullable=False),
    Column("origin_item", ID, nullable=False),
    Column("mirror_item", ID, nullable=False),
    Column("mirror_id", ID, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("filename", Text, nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("origin_side", "origin_id", "mirror_item"),
    Index(None, "link_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("mapping", MAPPING, primary_key=True),
    Column("side", String(8), primary_key=True),
    Column("value", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mapping", MAPPING, nullable=False),
    Column("idempotency_key", String(512), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("link_id", Integer, nullable=True),
    Column("action", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("remote_id", ID, nullable=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index(None, "mapping", "state"),
    Index(None, "link_id"),
)

errors = Table(
    "errors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mapping", MAPPING, nullable=False),
    Column("fingerprint", String(600), nullable=False, unique=True),
    Column("item_ref", ID, nullable=True),
    Column("link_id", Integer, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("journal_id", Integer, ForeignKey("journal.id", ondelete="SET NULL"), nullable=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False, default=1),
    Column("resolved", Boolean, nullable=False, default=False),
    Index(None, "mapping", "resolved"),
)

#: Per mapping, when its last cycle ended and when its last successful one did (migration 0002). A
#: one-shot ``bridge sync --once --textfile`` seeds its metrics from it, so a failed run still reports
#: how long ago the mapping last synced; ``bridge doctor`` prints it.
mapping_status = Table(
    "mapping_status",
    metadata,
    Column("mapping", MAPPING, primary_key=True),
    Column("last_cycle", UTCDateTime, nullable=True),
    Column("last_ok", Boolean, nullable=True),
    Column("last_success", UTCDateTime, nullable=True),
)

#: Per mapping, when bridge first saw it (migration 0003): records closed before then are not escalated
#: by the first cycle (:mod:`bridge.sync.first_start`); ``bridge sync --since`` backfills them.
mapping_first_seen = Table(
    "mapping_first_seen",
    metadata,
    Column("mapping", MAPPING, primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
)

#: Per mapping, the leadership epoch (migration 0005): bumped by every replica that takes the mapping's
#: PostgreSQL lock, and compared in the transaction that journals an action, so a replica that lost
#: the lock without noticing is refused before its action reaches a vendor (:mod:`bridge.store.locks`).
leader_epochs = Table(
    "leader_epochs",
    metadata,
    Column("mapping", MAPPING, primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", String(63), nullable=False),
    Column("acquired", UTCDateTime, nullable=False),
)

#: Per mapping and direction, who an ITSM or Jira user is on the other side (migration 0007_users): lookups
#: found or not (``answer`` NULL), kept for the mapping's ``users.cache_hours`` (:mod:`bridge.users`).
user_map = Table(
    "user_map",
    metadata,
    Column("mapping", MAPPING, primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("handle", String(255), primary_key=True),
    Column("answer", String(255), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=False),
)

#: Small values kept between runs (migration 0008_vendor_cache): vendor facts cached with a time-to-live
#: (``expires``; ``None``: no expiry) and housekeeping marks such as when the journal was last pruned.
key_values = Table(
    "key_values",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=True),
)
