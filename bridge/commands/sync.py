"""``bridge sync``: one cycle of each mapping, then exit (cron, systemd timers, backfills)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bridge.commands._common import (
    bridge_command,
    load_engine,
    parse_when,
    print_stats,
    select_mappings,
    stop_on_signals,
    summary,
)
from bridge.errors import SafetyRailError
from bridge.exitcodes import ExitCode
from bridge.sync.cycle import run_cycle

if TYPE_CHECKING:
    from bridge.cli import GlobalOptions


@click.command()
@click.option("--once", is_flag=True, help="One cycle per mapping, then exit (the default; for cron and timers).")
@click.option("--mapping", "mapping_names", multiple=True, metavar="NAME", help="Only this mapping (repeatable).")
@click.option(
    "--since",
    metavar="DATETIME",
    help="Read changes since DATETIME (ISO 8601, UTC without an offset) instead of the cursors: "
    "backfill or replay a window. Already-synced changes are recognised and not applied twice.",
)
@click.option("--stats", is_flag=True, help="Print the vendor calls per endpoint of each cycle.")
@click.pass_obj
@bridge_command
def sync(opts: GlobalOptions, once: bool, mapping_names: tuple[str, ...], since: str | None, stats: bool) -> int:
    """Sync every enabled mapping once.

    Exit codes: 0 done; 1 something went to the error list (see `bridge errors`); 2 invalid
    configuration or mappings; 3 a side or the database unreachable, or credentials refused;
    4 another bridge process is syncing (lock held).
    """
    start = parse_when(since) if since else None
    _, engine = load_engine(opts)
    code = ExitCode.OK
    try:
        with stop_on_signals(engine):
            for spec in select_mappings(engine, mapping_names):
                try:
                    report = run_cycle(engine, spec, since=start)
                except SafetyRailError as exc:
                    click.echo(f"✖ {spec.name}: {exc}", err=True)
                    code = ExitCode.RECORD_ERRORS
                    continue
                click.echo(summary(report))
                if stats:
                    print_stats(report)
                if report.errors:
                    code = ExitCode.RECORD_ERRORS
                if engine.stop.is_set():
                    click.echo("stopped by a signal after the current action", err=True)
                    break
    finally:
        engine.close()
    return code
