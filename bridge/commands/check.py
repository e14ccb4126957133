"""``bridge check``: validate the configuration and mappings offline; with ``--online`` also against
both sides (the doctor's side checks, :func:`bridge.commands.doctor.side_sections`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from bridge.bootstrap import ConnectorFactory, check_configuration
from bridge.commands._common import GlobalOptions, bridge_command, load_mappings, load_settings_for, symbols
from bridge.commands._users import users_sections
from bridge.commands.doctor import FAIL, count, print_sections, side_sections
from bridge.errors import ConfigError
from bridge.exitcodes import ExitCode
from bridge.mapping.catalog import system_of
from bridge.mapping.checks_across import SYSTEM_NAMES
from bridge.mapping.schema import Mapping as MappingSpec
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
@click.option("--quiet", "-q", is_flag=True, help="Print only the problems (and the closing line).")
@click.pass_obj
@bridge_command
def check(opts: GlobalOptions, command_config: Path | None, online: bool, quiet: bool) -> int:
    """Validate the configuration and mappings without contacting any server (--online: and against both sides).

    Exit codes: 0 valid; 2 configuration or mappings invalid; 3 (--online) a side unreachable, the
    credentials refused, or a mapping naming what the side does not have.
    """
    if command_config is not None:
        opts.config = command_config
    tick, cross, warn = symbols()

    def say(text: str) -> None:
        if not quiet:
            click.echo(text)

    try:
        settings = load_settings_for(opts)
    except ConfigError as exc:
        click.echo(f"{cross} configuration invalid: {len(exc.problems)} problem(s)")
        for text in exc.problems:
            click.echo(f"{cross} {text}")
        return ExitCode.CONFIG
    source = settings.config_file or "defaults and environment (no config file)"
    say(f"{tick} settings valid: {source}")
    say(f"{tick} state database: {settings.state.display_url()}")
    problems = check_configuration(settings)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        click.echo(f"{cross if problem.severity == 'error' else warn} {problem}")
    if errors:
        click.echo(f"{cross} {len(errors)} error(s)")
        return ExitCode.CONFIG
    say(f"{tick} mappings directory: {settings.mappings.directory}")
    mappings = load_mappings(settings)
    for line in mapping_lines(settings, mappings):
        say(f"  {line}")
    click.echo(f"{tick} configuration OK" + (f" ({len(problems)} warning(s))" if problems else ""))
    if online:
        return _check_online(settings, mappings, opts.connector_factories, quiet=quiet)
    return ExitCode.OK


def mapping_lines(settings: Settings, mappings: list[MappingSpec]) -> list[str]:
    """One line per loaded mapping: its name, the system it is written for, and whether it runs here."""
    lines = []
    for spec in mappings:
        system = system_of(spec.route.record_type, spec.route.system)
        name = SYSTEM_NAMES.get(system, system)
        state = "enabled" if spec.enabled else "disabled"
        if system != settings.itsm.kind:
            state += f"; not for itsm.kind {settings.itsm.kind}: skipped online"
        lines.append(f"mapping {spec.name}: {name} {spec.route.record_type} → Jira {spec.target.project} "
                     f"{spec.target.issue_type} ({state})")
    return lines


def _check_online(
    settings: Settings,
    mappings: list[MappingSpec],
    factories: Mapping[str, ConnectorFactory] | None,
    *,
    quiet: bool = False,
) -> int:
    """The doctor's side checks for the mappings written for ``itsm.kind`` (disabled ones too: they are
    checked before enabling); a mapping for another ITSM is listed as skipped, never checked against this one."""
    tick, cross, _ = symbols()
    own = [m for m in mappings if system_of(m.route.record_type, m.route.system) == settings.itsm.kind]
    sections = side_sections(settings, own, factories) + users_sections(settings, own, factories)
    print_sections(sections, quiet=quiet)
    failed = count(sections, FAIL)
    if failed:
        click.echo(f"{cross} {failed} problem(s) on the live instances")
        return ExitCode.UNREACHABLE
    click.echo(f"{tick} both sides accept the mappings")
    return ExitCode.OK
