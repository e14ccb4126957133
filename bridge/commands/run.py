"""``bridge run``: the daemon (see :mod:`bridge.daemon`), with ``/metrics`` and ``/healthz`` when
``metrics.bind`` is set, and systemd notifications when started by a ``Type=notify`` unit."""

from __future__ import annotations

import click

from bridge.bootstrap import build_engine, check_configuration
from bridge.commands._common import GlobalOptions, bridge_command, load_mappings, load_settings_for, select_mappings
from bridge.daemon import Daemon
from bridge.errors import ConfigError
from bridge.logging import get_logger
from bridge.mapping.catalog import system_of
from bridge.mapping.checks_across import require_enabled
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.metrics import Metrics
from bridge.notify.hook import build_hook
from bridge.progress import Progress
from bridge.settings import Settings
from bridge.status.page import build_status_page
from bridge.trends.digest import schedule_digest

log = get_logger(__name__)


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
            mappings=names if mapping_names else None,  # None: every enabled one, as a reload leaves them
            metrics_bind=settings.metrics.bind,
            reload=lambda: reloaded_mappings(opts, settings, mapping_names),
            on_cycle=build_hook(
                settings.notify, engine.store, names, interval_seconds=settings.schedule.interval_seconds
            ),
        )
        daemon.enable_hints(settings.hints)
        daemon.status_page = build_status_page(
            settings.status_page, settings.trends, engine.store, lambda: daemon.health.check().body
        )
        if settings.trends.digest is not None:
            schedule_digest(daemon, settings.trends, engine)
        return daemon.run_forever()
    finally:
        engine.close()


def reloaded_mappings(opts: GlobalOptions, running: Settings, named: tuple[str, ...]) -> list[MappingSpec]:
    """The configuration re-read for SIGHUP, validated as ``bridge check`` validates it: ConfigError or
    MappingError (the daemon refuses the reload and keeps the running one) on any error."""
    settings = load_settings_for(opts)
    errors = [str(p) for p in check_configuration(settings) if p.severity == "error"]
    if errors:
        raise ConfigError(f"configuration invalid: {len(errors)} error(s)", errors)
    mappings = load_mappings(settings)
    require_enabled(mappings, settings.itsm.kind, str(settings.mappings.directory), named)
    unchanged = {"mappings"}
    if settings.model_dump(mode="json", exclude=unchanged) != running.model_dump(mode="json", exclude=unchanged):
        log.warning("settings other than the mappings changed: restart bridge to apply them (the reload applies "
                    "the mappings only)")
    return [m for m in mappings if system_of(m.route.record_type, m.route.system) == running.itsm.kind]
