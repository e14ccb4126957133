"""The trend report: what support carries, computed from stored facts by pure functions.

Input is what :func:`bridge.store.trends_queries.load_trend_facts` returns (or hand-made values in tests);
output is a :class:`TrendReport` that :mod:`bridge.trends.formats` renders. No clock, no I/O: ``now`` and
``since`` are arguments, so the numbers of a known scenario can be asserted exactly.

Definitions (also in docs/operations.md, "Trends, status page and notifications"):

* a record is *open* when its last synced status is not one of the closed states;
* *added in the period*: records whose escalation (the successful create/link write) is at or after
  ``since``; the weekly and per-field counts count those escalations;
* *time to first comment*: from the link's first escalation to the first comment mirrored from Jira;
  *time to resolution*: to the first Done status bridge saw written after it (or, when the issue is Done
  now and bridge wrote no status, to the issue's last synced update); medians per issue type, over
  issues first escalated in the period;
* *recurring*: a record escalated to more than one Jira issue;
* *reopened*: an issue that was Done (now, or by a status bridge wrote) while one of its records was
  reopened afterwards (a record status bridge saw leave a closed state, or an open record on a Done issue).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bridge.store.trends_queries import StoredIssue, StoredRecord

UNSET = "(none)"


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    """Which statuses finish a record or an issue (compared case-insensitively)."""

    closed_states: frozenset[str]
    done_statuses: frozenset[str]

    @classmethod
    def of(cls, closed_states: Iterable[str], done_statuses: Iterable[str]) -> StatusPolicy:
        return cls(frozenset(s.casefold() for s in closed_states), frozenset(s.casefold() for s in done_statuses))

    def record_open(self, status: str | None) -> bool:
        return status is None or status.casefold() not in self.closed_states

    def issue_done(self, status: str | None) -> bool:
        return status is not None and status.casefold() in self.done_statuses


@dataclass(frozen=True, slots=True)
class RelatedRecord:
    """A record pointing at a linked record (an incident at its problem): see :mod:`bridge.trends.related`."""

    record_id: str
    record_key: str
    status: str | None
    opened_at: datetime | None
    parent_id: str


@dataclass(frozen=True, slots=True)
class IssueLine:
    rank: int
    mapping: str
    issue_key: str
    issue_url: str
    issue_type: str
    status: str
    linked_total: int
    linked_open: int
    added_in_period: int
    #: Of ``linked_total``: records counted through a linked record (incidents of a linked problem).
    via_related: int = 0


@dataclass(frozen=True, slots=True)
class CountLine:
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class MedianLine:
    issue_type: str
    issues: int
    first_comment_hours: float | None
    first_comment_samples: int
    resolution_hours: float | None
    resolution_samples: int


@dataclass(frozen=True, slots=True)
class RecurringLine:
    record_key: str
    mapping: str
    escalations: int
    issues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReopenedLine:
    issue_key: str
    mapping: str
    status: str
    records: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrendReport:
    generated_at: datetime
    since: datetime
    mapping: str | None
    issues: tuple[IssueLine, ...]
    by_added: tuple[IssueLine, ...]
    per_week: tuple[CountLine, ...]
    per_field: dict[str, tuple[CountLine, ...]] = field(default_factory=dict)
    medians: tuple[MedianLine, ...] = ()
    recurring: tuple[RecurringLine, ...] = ()
    reopened: tuple[ReopenedLine, ...] = ()
    escalated_in_period: int = 0


def parse_since(value: str, now: datetime) -> datetime:
    """``30d``, ``12w``, ``48h`` or an ISO date/time → the start of the period (aware UTC)."""
    text = value.strip().lower()
    units = {"d": "days", "w": "weeks", "h": "hours"}
    if text and text[-1] in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--since {value!r}: expected a duration such as 30d, 12w, 48h or an ISO date") from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def week_label(when: datetime) -> str:
    """ISO week, ``2026-W49``: sorts as text and reads the same in every locale."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _text(value: object) -> str:
    if value is None or value == "" or value == ():
        return UNSET
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):  # a reference field synced as {"value": ..., "display_value": ...}
        return str(value.get("display_value") or value.get("name") or value.get("value") or UNSET)
    return str(value)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _resolved_at(issue: StoredIssue, policy: StatusPolicy, start: datetime) -> datetime | None:
    for event in issue.status_events:
        if event.at < start:
            continue
        if (event.side == "jira" and policy.issue_done(event.status)) or (
            event.side == "itsm" and not policy.record_open(event.status)
        ):
            return event.at
    return None


def _reopened(issue: StoredIssue, policy: StatusPolicy) -> tuple[str, ...]:
    keys = {r.record_id: r.record_key for r in issue.records}
    done_at: datetime | None = None
    reopened: list[str] = []
    for event in issue.status_events:
        finished = policy.issue_done(event.status) if event.side == "jira" else not policy.record_open(event.status)
        if finished:
            done_at = done_at or event.at
        elif done_at is not None and event.side == "jira" and not policy.issue_done(event.status):
            # bridge reopened the issue: a record it carries left its closed state
            reopened.extend(r.record_key for r in issue.records if policy.record_open(r.status))
    if policy.issue_done(issue.status):
        reopened.extend(r.record_key for r in issue.records if policy.record_open(r.status) and r.status is not None)
    seen = dict.fromkeys(k for k in reopened if k in keys.values())
    return tuple(seen)


def _first(records: Sequence[StoredRecord]) -> datetime | None:
    return min((r.escalated_at for r in records), default=None)


def build_report(
    facts: Sequence[StoredIssue],
    *,
    now: datetime,
    since: datetime,
    policy: StatusPolicy,
    group_by: Sequence[str] = (),
    mapping: str | None = None,
    issue_types: dict[str, str] | None = None,
    top: int | None = None,
    record_fields: Mapping[str, Mapping[str, Any]] | None = None,
    issue_status: Mapping[str, str] | None = None,
    related: Mapping[str, Sequence[RelatedRecord]] | None = None,
) -> TrendReport:
    """Rank and count ``facts``. ``issue_types`` names the issue type per mapping for links whose create
    the journal no longer shows (a ``link_existing`` fan-in onto a developer's issue). ``record_fields``
    (by record id) and ``issue_status`` (by issue id) are current values read from the vendors
    (:mod:`bridge.trends.sides`); they win over the stored ones. ``related`` (by linked record id) are
    records that count towards the issue of the record they point at (:mod:`bridge.trends.related`);
    one that is linked itself counts once, where it is linked."""
    facts = [
        _refreshed(f, record_fields or {}, issue_status or {}) for f in facts if mapping is None or f.mapping == mapping
    ]
    issue_types = issue_types or {}

    related = related or {}
    linked_ids = {r.record_id for issue in facts for r in issue.records}
    lines: list[IssueLine] = []
    for issue in facts:
        kind = issue.issue_type or issue_types.get(issue.mapping) or "?"
        extra = list(
            {
                x.record_id: x
                for r in issue.records
                for x in related.get(r.record_id, ())
                if x.record_id not in linked_ids
            }.values()
        )
        lines.append(
            IssueLine(
                rank=0,
                mapping=issue.mapping,
                issue_key=issue.issue_key,
                issue_url=issue.issue_url,
                issue_type=kind,
                status=issue.status or "?",
                linked_total=len(issue.records) + len(extra),
                linked_open=sum(1 for r in issue.records if policy.record_open(r.status))
                + sum(1 for x in extra if policy.record_open(x.status)),
                added_in_period=sum(1 for r in issue.records if r.escalated_at >= since)
                + sum(1 for x in extra if x.opened_at is not None and x.opened_at >= since),
                via_related=len(extra),
            )
        )
    ranked = sorted(lines, key=lambda x: (-x.linked_total, -x.linked_open, -x.added_in_period, x.issue_key))
    ranked = [_rank(line, i) for i, line in enumerate(ranked, 1)]
    by_added = sorted(
        (x for x in lines if x.added_in_period),
        key=lambda x: (-x.added_in_period, -x.linked_total, x.issue_key),
    )
    by_added = [_rank(line, i) for i, line in enumerate(by_added, 1)]

    period_records = [r for issue in facts for r in issue.records if r.escalated_at >= since]
    weeks = Counter(week_label(r.escalated_at) for r in period_records)
    per_field = {
        name: tuple(
            CountLine(label, count)
            for label, count in sorted(
                Counter(_text(r.fields.get(name)) for r in period_records).items(), key=lambda kv: (-kv[1], kv[0])
            )
        )
        for name in group_by
    }

    first_comment: dict[str, list[float]] = defaultdict(list)
    resolution: dict[str, list[float]] = defaultdict(list)
    counted: Counter[str] = Counter()
    for issue, line in zip(facts, lines, strict=True):
        start = _first(issue.records) or issue.created
        if start < since:
            continue
        counted[line.issue_type] += 1
        if issue.first_jira_comment is not None and issue.first_jira_comment >= start:
            first_comment[line.issue_type].append(_hours(issue.first_jira_comment - start))
        resolved = _resolved_at(issue, policy, start)
        if resolved is not None:
            resolution[line.issue_type].append(_hours(resolved - start))
    medians = tuple(
        MedianLine(
            issue_type=kind,
            issues=counted[kind],
            first_comment_hours=_median(first_comment[kind]),
            first_comment_samples=len(first_comment[kind]),
            resolution_hours=_median(resolution[kind]),
            resolution_samples=len(resolution[kind]),
        )
        for kind in sorted(counted)
    )

    recurring: dict[str, RecurringLine] = {}
    for issue in facts:
        for record in issue.records:
            if len(record.escalated_to) > 1 and record.record_id not in recurring:
                recurring[record.record_id] = RecurringLine(
                    record.record_key, issue.mapping, len(record.escalated_to), record.escalated_to
                )
    reopened = [
        ReopenedLine(issue.issue_key, issue.mapping, issue.status or "?", records)
        for issue in facts
        if (records := _reopened(issue, policy))
    ]

    limit = top if top is not None else len(ranked)
    return TrendReport(
        generated_at=now,
        since=since,
        mapping=mapping,
        issues=tuple(ranked[:limit]),
        by_added=tuple(by_added[:limit]),
        per_week=tuple(CountLine(w, weeks[w]) for w in sorted(weeks)),
        per_field=per_field,
        medians=medians,
        recurring=tuple(sorted(recurring.values(), key=lambda x: (-x.escalations, x.record_key))[:limit]),
        reopened=tuple(sorted(reopened, key=lambda x: (-len(x.records), x.issue_key))[:limit]),
        escalated_in_period=len(period_records),
    )


def _refreshed(
    issue: StoredIssue, record_fields: Mapping[str, Mapping[str, Any]], issue_status: Mapping[str, str]
) -> StoredIssue:
    if not record_fields and not issue_status:
        return issue
    records = tuple(
        replace(r, fields={**r.fields, **record_fields[r.record_id]}) if r.record_id in record_fields else r
        for r in issue.records
    )
    return replace(issue, records=records, status=issue_status.get(issue.issue_id, issue.status))


def _rank(line: IssueLine, rank: int) -> IssueLine:
    return replace(line, rank=rank)
