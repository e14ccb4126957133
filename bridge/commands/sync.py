"""``bridge sync``: one cycle of each mapping, then exit (cron, systemd timers, backfills)."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.bootstrap import build_engine
from bridge.commands._common import (
    GlobalOptions,
    bridge_command,
    load_mappings,
    load_settings_for,
    parse_when,
    print_stats,
    select_mappings,
    stop_on_signals,
    summary,
)
from bridge.commands._vendor_cache import keep_vendor_facts, prime_vendor_facts
from bridge.errors import SafetyRailError, StoreError
from bridge.exitcodes import ExitCode
from bridge.logging import get_logger
from bridge.mapping.checks_across import require_enabled
from bridge.metrics import Metrics, write_textfile
from bridge.progress import Progress
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine

log = get_logger(__name__)


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
@click.option(
    "--textfile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="PATH",
    help="At the end, write the run's metrics for node_exporter's textfile collector (PATH ends in .prom).",
)
@click.pass_obj
@bridge_command
def sync(
    opts: GlobalOptions,
    once: bool,
    mapping_names: tuple[str, ...],
    since: str | None,
    stats: bool,
    textfile: Path | None,
) -> int:
    """Sync every enabled mapping once.

    Exit codes: 0 done; 1 something went to the error list (see `bridge errors`); 2 invalid
    configuration or mappings; 3 a side or the database unreachable, or credentials refused;
    4 another bridge process is syncing (lock held).
    """
    start = parse_when(since) if since else None
    if textfile is not None and textfile.suffix != ".prom":
        raise click.BadParameter(f"{textfile}: node_exporter only reads files ending in .prom", param_hint="--textfile")
    settings = load_settings_for(opts)
    metrics = Metrics(interval_seconds=settings.schedule.interval_seconds) if textfile is not None else None
    mappings = load_mappings(settings)
    require_enabled(mappings, settings.itsm.kind, str(settings.mappings.directory), mapping_names)
    engine = build_engine(settings, mappings, metrics=metrics, factories=opts.connector_factories)
    engine.progress = Progress()
    code = ExitCode.OK
    primed = prime_vendor_facts(engine)
    try:
        if metrics is not None:
            _seed_metrics(engine, metrics)
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
        keep_vendor_facts(engine, primed)
        try:
            written = metrics is None or textfile is None or _write(textfile, engine, metrics)
        finally:
            engine.close()
    if not written:
        click.echo(f"✖ could not write the metrics textfile {textfile}", err=True)
        return ExitCode.CONFIG
    return code


def _seed_metrics(engine: Engine, metrics: Metrics) -> None:
    """A one-shot run starts with empty metrics: take each mapping's last success from the store, so a
    run that fails still tells node_exporter how long ago the mapping last synced."""
    try:
        statuses = engine.store.mapping_statuses()
    except StoreError as exc:
        log.warning("could not read the mappings' last successes for the metrics", error=str(exc))
        return
    for status in statuses.values():
        if status.last_success is not None:
            metrics.restore_last_success(status.mapping, status.last_success.timestamp())


def _write(textfile: Path, engine: Engine, metrics: Metrics) -> bool:
    """The textfile is written whatever happened (a failed run is what the alerts must see). Never raises,
    so a write failure cannot hide the exit code of the run's own failure."""
    try:
        metrics.record_store(engine.store, [m.name for m in engine.enabled_mappings()])
    except StoreError as exc:
        log.warning("could not count the error list for the metrics", error=str(exc))
    try:
        write_textfile(textfile, metrics)
    except OSError as exc:
        log.error("could not write the metrics textfile", path=str(textfile), error=exc.strerror or str(exc))
        return False
    return True

