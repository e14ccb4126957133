"""The ``bridge`` command line: the click group with its global options, and the commands registered on it.

Each command is a module of :mod:`bridge.commands`; what they share (the global options, the
exception → exit code frame, loading settings) is in :mod:`bridge.commands._common`. Commands only
parse, call bootstrap, print and pick an exit code.
"""

from __future__ import annotations

from pathlib import Path

import click

from bridge.commands._common import GlobalOptions
from bridge.commands.adopt import adopt
from bridge.commands.check import check
from bridge.commands.demo import demo
from bridge.commands.doctor import doctor
from bridge.commands.errors import errors
from bridge.commands.explain import explain
from bridge.commands.init import init
from bridge.commands.links import links
from bridge.commands.plan import plan
from bridge.commands.resync import resync
from bridge.commands.retry import retry
from bridge.commands.run import run
from bridge.commands.sync import sync
from bridge.commands.trends import trends
from bridge.logging import configure_logging
from bridge.resources import version_text

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("auto", "json", "console")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version_text(), "--version", prog_name="bridge", message="%(prog)s %(version)s")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="YAML config file (default: $BRIDGE_CONFIG, else ./config.yaml if present).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Overrides logging.level.",
)
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None, help="Overrides logging.format.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, log_level: str | None, log_format: str | None) -> None:
    """bridge keeps an ITSM tool (ServiceNow, Request Tracker, JSM) and Jira in sync."""
    preset = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
    ctx.obj = GlobalOptions(
        config=config,
        log_level=log_level.upper() if log_level else None,
        log_format=log_format,
        connector_factories=preset.connector_factories,
    )
    # Configured again once the settings are read; until then, flags or safe defaults.
    configure_logging(ctx.obj.log_level or "INFO", ctx.obj.log_format or "auto")


for command in (init, check, sync, plan, run, links, errors, explain, retry, resync, adopt, doctor, demo, trends):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``bridge`` script and ``python -m bridge``."""
    cli(prog_name="bridge")
