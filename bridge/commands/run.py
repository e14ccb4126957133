"""``bridge run``: the daemon (see :mod:`bridge.daemon`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bridge.commands._common import bridge_command, load_engine, select_mappings
from bridge.daemon import Daemon

if TYPE_CHECKING:
    from bridge.cli import GlobalOptions


@click.command()
@click.option("--mapping", "mapping_names", multiple=True, metavar="NAME", help="Only this mapping (repeatable).")
@click.pass_obj
@bridge_command
def run(opts: GlobalOptions, mapping_names: tuple[str, ...]) -> int:
    """Sync on a schedule until SIGTERM/SIGINT (then finish the current action and exit 0).

    A mapping another replica holds is watched on standby and taken over when its lock frees.
    """
    settings, engine = load_engine(opts)
    try:
        names = [m.name for m in select_mappings(engine, mapping_names)]
        daemon = Daemon(
            engine,
            interval_seconds=settings.schedule.interval_seconds,
            misfire_grace_seconds=settings.schedule.misfire_grace_seconds,
            mappings=names,
        )
        return daemon.run_forever()
    finally:
        engine.close()
