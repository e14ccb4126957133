"""``bridge resync``: forget what bridge remembers about one link and sync it from both sides' state."""

from __future__ import annotations

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_engine, stop_on_signals, summary
from bridge.exitcodes import ExitCode
from bridge.sync.resync import plan_resync, resync_link


@click.command()
@click.argument("ref")
@click.option("--dry-run", is_flag=True, help="Only show what the resync would do.")
@click.pass_obj
@bridge_command
def resync(opts: GlobalOptions, ref: str, dry_run: bool) -> int:
    """Re-plan one link (REF: link id, issue key or record key) from both sides' current state.

    The synced values are forgotten, so both sides are compared afresh with the mapping's rules and
    conflict policies; comments already mirrored stay mirrored (nothing is posted twice). Actions of the
    link on the error list do not hold the plan back: they are planned again from current data.
    """
    _, engine = load_engine(opts)
    try:
        with stop_on_signals(engine):
            report = plan_resync(engine, ref) if dry_run else resync_link(engine, ref)
    finally:
        engine.close()
    click.echo(summary(report))
    for action in report.actions if dry_run else ():
        click.echo(f"  would {action.describe()}")
    return ExitCode.RECORD_ERRORS if report.errors else ExitCode.OK
