"""The trend report as one self-contained HTML file with inline SVG charts.

Charts are drawn by matplotlib's SVG backend (``matplotlib.figure.Figure``, no pyplot state, so this is
safe in the daemon's threads) with ``svg.fonttype = path``: every label, vendor strings included, becomes
glyph outlines, so no text from a record can turn into markup inside the SVG. Everything else goes through
:func:`html.escape`. No script, no external stylesheet or font: the file opens offline and can be attached
to a meeting invitation.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence

from bridge.trends.formats import sections, title
from bridge.trends.report import TrendReport

_MAX_BARS = 15
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)  # RDF boilerplate: nothing a reader sees

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
th{background:#f0f0f0}td.n{text-align:right}.chart svg{max-width:100%;height:auto}
"""


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def bar_chart_svg(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, heading: str, horizontal: bool = True
) -> str:
    """An inline ``<svg>`` bar chart (grouped bars, one group per label). Empty string without data."""
    if not labels:
        return ""
    from matplotlib import rc_context

    labels = [_short(x) for x in labels[:_MAX_BARS]]
    # svg.hashsalt: stable ids, so the same report renders the same file
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "bridge-trends"}):
        return _draw(labels, series, heading=heading, horizontal=horizontal)


def _draw(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, heading: str, horizontal: bool
) -> str:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    height = max(2.0, 0.35 * len(labels) + 1.2) if horizontal else 3.2
    fig = Figure(figsize=(8, height))
    ax = fig.add_subplot()
    count = len(series)
    width = 0.8 / count
    for index, (name, values) in enumerate(series):
        positions = [i + (index - (count - 1) / 2) * width for i in range(len(labels))]
        if horizontal:
            ax.barh(positions, list(values[: len(labels)]), height=width, label=name)
        else:
            ax.bar(positions, list(values[: len(labels)]), width=width, label=name)
    if horizontal:
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        pad = max(0.0, (6 - len(labels)) / 2)  # a week or two must not become one wall-wide bar
        ax.set_xlim(-0.5 - pad, len(labels) - 0.5 + pad)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(heading)
    if count > 1:
        ax.legend()
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)


def charts(report: TrendReport) -> list[str]:
    """The report's charts as inline SVG strings (also embedded by the status page)."""
    out = [
        bar_chart_svg(
            [x.issue_key for x in report.issues],
            [
                ("linked records", [x.linked_total for x in report.issues]),
                ("open", [x.linked_open for x in report.issues]),
            ],
            heading="Jira issues by linked records",
        ),
        bar_chart_svg(
            [w.label for w in report.per_week],
            [("records escalated", [w.count for w in report.per_week])],
            heading="Records escalated per week",
            horizontal=False,
        ),
    ]
    for name, counts in report.per_field.items():
        out.append(
            bar_chart_svg(
                [c.label for c in counts], [("records", [c.count for c in counts])], heading=f"Escalated per {name}"
            )
        )
    return [svg for svg in out if svg]


def html_tables(report: TrendReport) -> str:
    parts: list[str] = []
    for heading, headers, rows in sections(report):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
            continue
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="n">{html.escape(_cell(c))}</td>'
                if isinstance(c, int | float)
                else f"<td>{html.escape(_cell(c))}</td>"
                for c in row
            )
            + "</tr>"
            for row in rows
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "\n".join(parts)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_html(report: TrendReport) -> str:
    svgs = "\n".join(f'<div class="chart">{svg}</div>' for svg in charts(report))
    heading = html.escape(title(report))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{heading}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{heading}</h1>\n"
        f"<p>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>\n"
        f"{svgs}\n{html_tables(report)}\n</body></html>\n"
    )
