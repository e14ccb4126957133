"""``bridge trends``: the ranked report of what support escalates (see :mod:`bridge.trends`).

Reads the state store only: no vendor call, so it can run on any replica, any time, as often as wanted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_mappings, load_settings_for
from bridge.errors import ConfigError
from bridge.exitcodes import ExitCode
from bridge.trends.formats import FORMATS


@click.command()
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Start of the period: 30d, 12w, 48h or an ISO date (default: trends.since_days, 30 days).",
)
@click.option("--mapping", metavar="NAME", default=None, help="Only this mapping's links.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file instead of stdout.",
)
@click.option(
    "--top", type=click.IntRange(min=1), default=None, help="At most this many lines per ranking (default: trends.top)."
)
@click.option(
    "--online",
    is_flag=True,
    help="Also read both sides once per mapping (one search each) for group_by fields the mappings do not "
    "sync and the issues' current status, and the incidents related to escalated problems (problem_id).",
)
@click.pass_obj
@bridge_command
def trends(
    opts: GlobalOptions,
    since: str | None,
    mapping: str | None,
    fmt: str,
    out: Path | None,
    top: int | None,
    online: bool,
) -> int:
    """A ranked report of what support escalates: issues by linked records, escalations per week and
    per field, median times to the first developer comment and to resolution, recurring and reopened
    records. From the state store; with --online also one search per side and mapping.
    """
    from bridge.bootstrap import open_store
    from bridge.store.trends_queries import load_trend_facts
    from bridge.trends.formats import render
    from bridge.trends.report import StatusPolicy, build_report, parse_since

    settings = load_settings_for(opts)
    config = settings.trends
    specs = {spec.name: spec for spec in load_mappings(settings)}
    if mapping is not None and mapping not in specs:
        raise ConfigError(f"unknown mapping {mapping!r}", [f"known mappings: {', '.join(sorted(specs)) or 'none'}"])
    now = datetime.now(UTC)
    try:
        start = parse_since(since or f"{config.since_days}d", now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    sides = None
    related = None
    if online:
        from bridge.bootstrap import build_engine
        from bridge.trends.related import read_related
        from bridge.trends.sides import read_sides

        engine = build_engine(settings, list(specs.values()), factories=opts.connector_factories)
        try:
            wanted = [specs[mapping]] if mapping is not None else engine.enabled_mappings()
            sides = read_sides(engine.itsm, engine.jira, wanted, start, config.group_by)
            facts = load_trend_facts(engine.store.engine, mapping)
            related = {}
            for spec in wanted:  # incidents of an escalated problem count towards its issue
                parents = [r.record_id for f in facts if f.mapping == spec.name for r in f.records]
                related.update(read_related(engine.itsm, spec, parents))
        finally:
            engine.close()
    else:
        store = open_store(settings)
        try:
            facts = load_trend_facts(store.engine, mapping)
        finally:
            store.close()
    report = build_report(
        facts,
        now=now,
        since=start,
        policy=StatusPolicy.of(config.closed_states, config.done_statuses),
        group_by=config.group_by,
        mapping=mapping,
        issue_types={name: spec.target.issue_type for name, spec in specs.items()},
        top=top or config.top,
        record_fields=sides.record_fields if sides is not None else None,
        issue_status=sides.issue_status if sides is not None else None,
        related=related,
    )
    text = render(report, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} ({fmt}, {len(report.issues)} issue(s))", err=True)
    return ExitCode.OK
