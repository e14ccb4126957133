"""``bridge check``: validate the configuration and mappings offline; with ``--online`` also against
both sides (the doctor's side checks, :func:`bridge.commands.doctor.side_sections`)."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.bootstrap import check_configuration
from bridge.commands._common import GlobalOptions, bridge_command, load_mappings, load_settings_for, symbols
from bridge.commands.doctor import print_sections, side_sections
from bridge.errors import ConfigError
from bridge.exitcodes import ExitCode
from bridge.settings import Settings


@click.command()
@click.option(
    "--config",
    "command_config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Same as the global --config.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Also contact both sides: credentials, projects, issue types, fields, statuses, ITSM fields and states.",
)
@click.pass_obj
@bridge_command
def check(opts: GlobalOptions, command_config: Path | None, online: bool) -> int:
    """Validate the configuration and mappings without contacting any server (--online: and against both sides).

    Exit codes: 0 valid; 2 configuration or mappings invalid; 3 (--online) a side unreachable, the
    credentials refused, or a mapping naming what the side does not have.
    """
    if command_config is not None:
        opts.config = command_config
    tick, cross, warn = symbols()
    try:
        settings = load_settings_for(opts)
    except ConfigError as exc:
        click.echo(f"{cross} configuration invalid: {len(exc.problems)} problem(s)")
        for text in exc.problems:
            click.echo(f"{cross} {text}")
        return ExitCode.CONFIG
    source = settings.config_file or "defaults and environment (no config file)"
    click.echo(f"{tick} settings valid: {source}")
    click.echo(f"{tick} state database: {settings.state.display_url()}")
    problems = check_configuration(settings)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(f"{cross if problem.severity == 'error' else warn} {problem}")
    if errors:
        click.echo(f"{cross} {len(errors)} error(s)")
        return ExitCode.CONFIG
    click.echo(f"{tick} mappings directory: {settings.mappings.directory}")
    click.echo(f"{tick} configuration OK" + (f" ({len(problems)} warning(s))" if problems else ""))
    if online:
        return _check_online(settings)
    return ExitCode.OK


def _check_online(settings: Settings) -> int:
    """The doctor's side checks for every mapping (disabled ones too: they are checked before enabling)."""
    tick, cross, _ = symbols()
    sections = side_sections(settings, load_mappings(settings))
    print_sections(sections)
    failed = sum(1 for section in sections for finding in section.findings if finding.status == "fail")
    if failed:
        click.echo(f"{cross} {failed} problem(s) on the live instances")
        return ExitCode.UNREACHABLE
    click.echo(f"{tick} both sides accept the mappings")
    return ExitCode.OK
