"""``bridge adopt``: rebuild the state store from the vendors after it was lost or restored from a backup."""

from __future__ import annotations

import click

from bridge.commands._common import GlobalOptions, bridge_command, load_engine, select_mappings, stop_on_signals
from bridge.exitcodes import ExitCode
from bridge.progress import Progress
from bridge.sync.rebuild import adopt_mapping


@click.command()
@click.option("--mapping", "mapping_names", multiple=True, metavar="NAME", help="Only this mapping (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only show what would be adopted; write nothing.")
@click.pass_obj
@bridge_command
def adopt(opts: GlobalOptions, mapping_names: tuple[str, ...], dry_run: bool) -> int:
    """Find every link the vendors still show and remember it (docs/operations.md §11).

    Reads every record the mapping selects and every issue carrying its label, pairs those without a
    stored link by the record's back-reference and the marker on the issue, and records the link with
    both sides' current values and the comments already mirrored. Nothing is written to either side.
    Conflicting evidence (two issues for one record) is listed and left for a person to settle.

    Exit codes: 0 done; 1 conflicts were found (on the error list, see `bridge errors`).
    """
    _, engine = load_engine(opts)
    engine.progress = Progress()  # the adoptions written: "n of N, ETA" on a terminal, a log line otherwise
    conflicts = 0
    try:
        with stop_on_signals(engine):
            for spec in select_mappings(engine, mapping_names):
                if not dry_run:
                    engine.lead(spec.name)
                report = adopt_mapping(engine, spec, dry_run=dry_run, progress=lambda line: click.echo(line, err=True))
                verb = "would adopt" if dry_run else "adopted"
                for action in report.adopted:
                    click.echo(f"  {verb} {action.issue.key} for {action.record.key} (by {action.evidence})")
                for conflict in report.conflicts:
                    click.echo(f"  conflict: {conflict}")
                for failure in report.failed:
                    click.echo(f"  failed: {failure}")
                click.echo(
                    f"{spec.name}: {len(report.adopted)} {verb}, {report.known} already known, "
                    f"{len(report.conflicts)} conflict(s), {report.unmatched} without an issue"
                    + (" (dry run: nothing written)" if dry_run else "")
                )
                conflicts += len(report.conflicts) + len(report.failed)
    finally:
        engine.close()
    return ExitCode.RECORD_ERRORS if conflicts else ExitCode.OK
