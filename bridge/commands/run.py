"""``bridge run``: the daemon (see :mod:`bridge.daemon`), with ``/metrics`` and ``/healthz`` when
``metrics.bind`` is set, and systemd notifications when started by a ``Type=notify`` unit."""

from __future__ import annotations

import click

from bridge.bootstrap import build_engine
from bridge.commands._common import GlobalOptions, bridge_command, load_mappings, load_settings_for, select_mappings
from bridge.daemon import Daemon
from bridge.mapping.checks import require_enabled
from bridge.metrics import Metrics
from bridge.progress import Progress


@click.command()
@click.option("--mapping", "mapping_names", multiple=True, metavar="NAME", help="Only this mapping (repeatable).")
@click.pass_obj
@bridge_command
def run(opts: GlobalOptions, mapping_names: tuple[str, ...]) -> int:
    """Sync on a schedule until SIGTERM/SIGINT (then finish the current action and exit 0).

    A mapping another replica holds is watched on standby and taken over when its lock frees.
    With metrics.bind set, serves /metrics (Prometheus) and /healthz (JSON) there.
    """
    settings = load_settings_for(opts)
    metrics = Metrics(interval_seconds=settings.schedule.interval_seconds)
    mappings = load_mappings(settings)
    require_enabled(mappings, settings.itsm.kind, str(settings.mappings.directory), mapping_names)
    engine = build_engine(settings, mappings, metrics=metrics, factories=opts.connector_factories)
    engine.progress = Progress()
    try:
        names = [m.name for m in select_mappings(engine, mapping_names)]
        daemon = Daemon(
            engine,
            interval_seconds=settings.schedule.interval_seconds,
            misfire_grace_seconds=settings.schedule.misfire_grace_seconds,
            mappings=names,
            metrics_bind=settings.metrics.bind,
        )
        return daemon.run_forever()
    finally:
        engine.close()
