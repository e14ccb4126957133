"""The trend report as text: an aligned table, CSV, JSON. The HTML form is in :mod:`bridge.trends.html`.

CSV is one long table (``section,item,metric,value``) so every part of the report fits in one file a
spreadsheet pivots; JSON is the report's structure as is, for scripts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from bridge.trends.report import TrendReport

FORMATS = ("table", "csv", "json", "html")


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def title(report: TrendReport) -> str:
    scope = f"mapping {report.mapping}" if report.mapping else "all mappings"
    return (
        f"bridge trends: {scope}, since {report.since:%Y-%m-%d %H:%M} UTC "
        f"({report.escalated_in_period} record(s) escalated in the period)"
    )


def sections(report: TrendReport) -> Iterator[tuple[str, Sequence[str], list[Sequence[object]]]]:
    """(heading, column names, rows) of every part of the report, in reading order (table and HTML)."""
    # VIA: of RECORDS, those counted through a linked record (the incidents of an escalated problem)
    issue_cols = ("#", "ISSUE", "TYPE", "STATUS", "RECORDS", "OPEN", "ADDED", "VIA", "MAPPING")

    def issue_rows(lines: Sequence[Any]) -> list[Sequence[object]]:
        return [
            (x.rank, x.issue_key, x.issue_type, x.status, x.linked_total, x.linked_open, x.added_in_period,
             x.via_related, x.mapping)
            for x in lines
        ]

    yield "Jira issues by linked records", issue_cols, issue_rows(report.issues)
    yield "Jira issues by records added in the period", issue_cols, issue_rows(report.by_added)
    yield "Records escalated per week", ("WEEK", "RECORDS"), [(x.label, x.count) for x in report.per_week]
    for name, lines in report.per_field.items():
        yield f"Records escalated per {name}", (name.upper(), "RECORDS"), [(x.label, x.count) for x in lines]
    yield (
        "Median hours from escalation, per issue type",
        ("TYPE", "ISSUES", "TO 1ST DEV COMMENT", "N", "TO RESOLUTION", "N"),
        [
            (
                m.issue_type,
                m.issues,
                m.first_comment_hours,
                m.first_comment_samples,
                m.resolution_hours,
                m.resolution_samples,
            )
            for m in report.medians
        ],
    )
    yield (
        "Records escalated more than once",
        ("RECORD", "ESCALATIONS", "ISSUES", "MAPPING"),
        [(x.record_key, x.escalations, ", ".join(x.issues), x.mapping) for x in report.recurring],
    )
    yield (
        "Done issues whose records were reopened",
        ("ISSUE", "STATUS", "REOPENED RECORDS", "MAPPING"),
        [(x.issue_key, x.status, ", ".join(x.records), x.mapping) for x in report.reopened],
    )


def render_table(report: TrendReport) -> str:
    parts = [title(report)]
    for heading, headers, rows in sections(report):
        parts.append("")
        parts.append(heading)
        parts.append(text_table(headers, rows) if rows else "  (none)")
    return "\n".join(parts) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def report_dict(report: TrendReport) -> dict[str, Any]:
    data: dict[str, Any] = _jsonable(asdict(report))
    return data


def render_json(report: TrendReport) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=True) + "\n"


def render_csv(report: TrendReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "item", "metric", "value"))
    for name, lines in (("issues", report.issues), ("issues_by_added", report.by_added)):
        for x in lines:
            for metric in ("rank", "issue_type", "status", "linked_total", "linked_open", "added_in_period",
                           "via_related", "mapping"):
                writer.writerow((name, x.issue_key, metric, getattr(x, metric)))
    for w in report.per_week:
        writer.writerow(("per_week", w.label, "records", w.count))
    for field_name, counts in report.per_field.items():
        for c in counts:
            writer.writerow((f"per_{field_name}", c.label, "records", c.count))
    for m in report.medians:
        for metric in (
            "issues",
            "first_comment_hours",
            "first_comment_samples",
            "resolution_hours",
            "resolution_samples",
        ):
            value = getattr(m, metric)
            writer.writerow(("medians", m.issue_type, metric, "" if value is None else value))
    for r in report.recurring:
        writer.writerow(("recurring", r.record_key, "escalations", r.escalations))
        writer.writerow(("recurring", r.record_key, "issues", " ".join(r.issues)))
    for o in report.reopened:
        writer.writerow(("reopened", o.issue_key, "records", " ".join(o.records)))
    return buffer.getvalue()


def render(report: TrendReport, fmt: str) -> str:
    if fmt == "table":
        return render_table(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        from bridge.trends.html import render_html

        return render_html(report)
    raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
