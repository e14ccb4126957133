"""Queries behind ``bridge trends``, the status page's charts and the trends digest's journal rows.

They live beside the store, not in it: apart from the digest's own journal rows (at the end), they only
read. Every function takes the store's SQLAlchemy ``Engine`` (``Store.engine``) and returns plain values,
so the report code in :mod:`bridge.trends` stays pure and testable over hand-made data. Nothing here
locks or migrates.

What the store knows, and therefore what a trend can be computed from:

* when a record was escalated: the ``done`` journal row of the ``create_issue`` / ``link_existing`` action
  that linked it (its ``updated`` time is when the remote write succeeded); the link's ``created`` time
  when the journal row is gone;
* the last synced status and mapped field values of every record and issue (``item_state``);
* the first comment mirrored from Jira onto a record (``comment_map`` with ``origin_side = 'jira'``): the
  developer's first reply as support sees it;
* every status bridge wrote (``done`` ``set_status`` journal rows), in order: resolutions and reopenings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bridge.store.tables import comment_map, item_state, journal, link_records, links

_ESCALATIONS = ("create_issue", "link_existing")


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A status bridge wrote on one item (``side`` ``itsm`` or ``jira``) at ``at``."""

    at: datetime
    side: str
    item_id: str
    status: str


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of a link, with what the store remembers of it."""

    record_id: str
    record_key: str
    record_kind: str
    record_url: str
    status: str | None
    fields: Mapping[str, Any]
    escalated_at: datetime
    #: Every Jira issue key this record was ever escalated to (journal + current links, all mappings).
    escalated_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredIssue:
    """One link: its Jira issue and its records, as the trend report needs them."""

    link_id: int
    mapping: str
    issue_id: str
    issue_key: str
    issue_url: str
    issue_type: str | None
    status: str | None
    created: datetime
    first_jira_comment: datetime | None
    records: tuple[StoredRecord, ...]
    status_events: tuple[StatusEvent, ...] = field(default_factory=tuple)


def _action(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def load_trend_facts(engine: Engine, mapping: str | None = None) -> list[StoredIssue]:
    """Every link (of ``mapping``, else of all mappings) with its records, escalation times, first developer
    comment and status history. Reads six tables in one transaction; O(links + journal rows)."""
    with engine.connect() as c:
        link_query = select(links)
        if mapping is not None:
            link_query = link_query.where(links.c.mapping == mapping)
        link_rows = {row.id: row for row in c.execute(link_query.order_by(links.c.id))}

        record_rows: dict[int, list[Any]] = defaultdict(list)
        issues_of_record: dict[str, set[str]] = defaultdict(set)
        all_links = {row.id: row.issue_key for row in c.execute(select(links.c.id, links.c.issue_key))}
        for row in c.execute(select(link_records).order_by(link_records.c.id)):
            issues_of_record[row.record_id].add(all_links.get(row.link_id, ""))
            if row.link_id in link_rows:
                record_rows[row.link_id].append(row)

        states: dict[tuple[int, str, str], Any] = {}
        for row in c.execute(select(item_state)):
            if row.link_id in link_rows:
                states[(row.link_id, row.side, row.item_id)] = row

        first_comment: dict[int, datetime] = {
            row.link_id: row.first
            for row in c.execute(
                select(comment_map.c.link_id, func.min(comment_map.c.created).label("first"))
                .where(comment_map.c.origin_side == "jira")
                .group_by(comment_map.c.link_id)
            )
        }

        escalated_at: dict[tuple[str, str], datetime] = {}  # (mapping, record id) → first escalation
        issue_type: dict[tuple[str, str], str] = {}  # (mapping, record id) → type the create asked for
        events: dict[int, list[StatusEvent]] = defaultdict(list)
        journal_query = select(
            journal.c.mapping,
            journal.c.kind,
            journal.c.link_id,
            journal.c.action,
            journal.c.remote_id,
            journal.c.updated,
        ).where(journal.c.state == "done", journal.c.kind.in_((*_ESCALATIONS, "set_status")))
        for row in c.execute(journal_query.order_by(journal.c.updated, journal.c.id)):
            data = _action(row.action)
            if row.kind in _ESCALATIONS:
                record = data.get("record") or {}
                record_id = str(record.get("id", ""))
                key = (row.mapping, record_id)
                escalated_at.setdefault(key, row.updated)
                if row.kind == "create_issue" and data.get("issue_type"):
                    issue_type.setdefault(key, str(data["issue_type"]))
                target = data.get("issue_key") or (all_links.get(row.link_id) if row.link_id else None)
                if target:
                    issues_of_record[record_id].add(str(target))
            elif row.link_id in link_rows:
                target = data.get("target") or {}
                if data.get("status") is not None and target.get("side"):
                    events[row.link_id].append(
                        StatusEvent(row.updated, str(target["side"]), str(target.get("id", "")), str(data["status"]))
                    )

    result: list[StoredIssue] = []
    for link_id, link in link_rows.items():
        records = []
        kinds: list[str] = []
        for row in record_rows.get(link_id, []):
            state = states.get((link_id, row.side, row.record_id))
            when = escalated_at.get((link.mapping, row.record_id), link.created)
            if (link.mapping, row.record_id) in issue_type:
                kinds.append(issue_type[(link.mapping, row.record_id)])
            records.append(
                StoredRecord(
                    record_id=row.record_id,
                    record_key=row.record_key,
                    record_kind=row.kind,
                    record_url=row.record_url or "",
                    status=state.status if state is not None else None,
                    fields=dict(state.fields or {}) if state is not None else {},
                    escalated_at=when,
                    escalated_to=tuple(sorted(k for k in issues_of_record.get(row.record_id, ()) if k)),
                )
            )
        issue_state = states.get((link_id, "jira", link.issue_id))
        result.append(
            StoredIssue(
                link_id=link_id,
                mapping=link.mapping,
                issue_id=link.issue_id,
                issue_key=link.issue_key,
                issue_url=link.issue_url or "",
                issue_type=kinds[0] if kinds else None,
                status=issue_state.status if issue_state is not None else None,
                created=link.created,
                first_jira_comment=first_comment.get(link_id),
                records=tuple(records),
                status_events=tuple(events.get(link_id, ())),
            )
        )
    return result


def mapping_names(engine: Engine) -> list[str]:
    """The mappings that have at least one link (for a report over all of them)."""
    with engine.connect() as c:
        return [row[0] for row in c.execute(select(links.c.mapping).distinct().order_by(links.c.mapping))]


def records_by_id(issues: Iterable[StoredIssue]) -> dict[str, StoredRecord]:
    """Index the records of ``issues`` by record id (the last link wins when a record is in several)."""
    return {record.record_id: record for issue in issues for record in issue.records}


def recently_active_links(engine: Engine, limit: int, mapping: str | None = None) -> list[int]:
    """Ids of the links whose journal changed last, newest first (the status page's "recent actions")."""
    last = func.max(journal.c.updated).label("last")
    query = select(journal.c.link_id, last).where(journal.c.link_id.is_not(None))
    if mapping is not None:
        query = query.where(journal.c.mapping == mapping)
    query = query.group_by(journal.c.link_id).order_by(last.desc(), journal.c.link_id.desc()).limit(limit)
    with engine.connect() as c:
        return [int(row.link_id) for row in c.execute(query)]


# ------------------------------------------------------------------------------ the trends digest's journal
#
# The digest's Jira write is journaled like every other write, in the same ``journal`` table, under its own
# mapping name and kind (never a sync mapping's, so the executor, reconciler and ``bridge retry`` never
# see these rows). The unique idempotency key ``digest:<target>:<period>`` is what makes "at most once per
# period" hold across restarts and replicas: the replica that inserts the row first writes; a ``pending``
# row left by a crash is never written again (at most once: the digest may be missing, never doubled).

DIGEST_MAPPING = "bridge-trends-digest"
DIGEST_KIND = "trends_digest"


def digest_begin(engine: Engine, key: str, description: str, now: datetime) -> bool:
    """Claim ``key``: True when this call inserted its ``pending`` row (and must write), False when any row
    for it exists already (written, failed, or in unknown state after a crash)."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    try:
        with engine.begin() as c:
            c.execute(
                insert(journal).values(
                    mapping=DIGEST_MAPPING,
                    idempotency_key=key,
                    kind=DIGEST_KIND,
                    action=json.dumps({"kind": DIGEST_KIND, "description": description}),
                    state="pending",
                    attempts=1,
                    created=now,
                    updated=now,
                )
            )
    except IntegrityError:
        return False
    return True


def digest_finish(
    engine: Engine, key: str, now: datetime, *, remote_id: str | None = None, error: str | None = None
) -> None:
    """Mark the digest row ``done`` (with the comment or issue it wrote) or ``failed`` (with why)."""
    from sqlalchemy import update

    with engine.begin() as c:
        c.execute(
            update(journal)
            .where(journal.c.idempotency_key == key)
            .values(state="failed" if error else "done", remote_id=remote_id, last_error=error, updated=now)
        )


def digest_state(engine: Engine, key: str) -> str | None:
    """``pending``/``done``/``failed`` for ``key``, ``None`` when never attempted."""
    with engine.connect() as c:
        return c.execute(select(journal.c.state).where(journal.c.idempotency_key == key)).scalar_one_or_none()
