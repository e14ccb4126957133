"""The ``bridge`` command line. Commands only parse, call bootstrap, print and pick an exit code.

To add a command::

    @cli.command()
    @click.pass_obj
    @bridge_command
    def sync(opts: GlobalOptions) -> int:
        settings = load_configured_settings(opts)
        ...
        return ExitCode.OK

:func:`bridge_command` turns every exception into its exit code with
:func:`bridge.exitcodes.exit_code_for` (the one mapping), prints configuration problems, and logs
unexpected errors with their (redacted) traceback before exiting 70.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bridge import __version__
from bridge.bootstrap import check_configuration
from bridge.commands import register
from bridge.commands.trends import trends as trends_command
from bridge.errors import BridgeError, ConfigError, MappingError
from bridge.exitcodes import ExitCode, exit_code_for
from bridge.logging import configure_logging, get_logger
from bridge.settings import Settings, load_settings

log = get_logger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("auto", "json", "console")


@dataclass
class GlobalOptions:
    """The options given before the command name; ``None`` means "not given on the command line"."""

    config: Path | None = None
    log_level: str | None = None
    log_format: str | None = None


def _symbols() -> tuple[str, str, str]:
    """✔ ✖ ⚠ when stdout can encode them, ASCII otherwise (a C locale, a Windows console)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✔✖⚠".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ("OK", "FAIL", "WARN")
    return ("✔", "✖", "⚠")


def load_configured_settings(opts: GlobalOptions) -> Settings:
    """Load the settings, then reconfigure logging from them (command-line flags still win)
    and teach the redaction every secret they hold."""
    settings = load_settings(opts.config)
    configure_logging(
        opts.log_level or settings.logging.level,
        opts.log_format or settings.logging.format,
        secrets=settings.secret_values(),
    )
    log.debug(
        "settings loaded",
        config_file=str(settings.config_file) if settings.config_file else None,
        state_url=settings.state.display_url(),
        settings=settings.model_dump(mode="json"),
    )
    return settings


def bridge_command(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body and exit with the code it returns or the one its exception maps to."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        try:
            code = func(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except (ConfigError, MappingError) as exc:
            _, cross, _ = _symbols()
            click.echo(f"{cross} {exc}", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            code = exit_code_for(exc)
        except BridgeError as exc:
            log.error("command failed", command=ctx.info_name, error=str(exc), error_type=type(exc).__name__)
            code = exit_code_for(exc)
        except KeyboardInterrupt as exc:
            code = exit_code_for(exc)
        except Exception as exc:
            log.exception("unexpected error, please report it", command=ctx.info_name)
            code = exit_code_for(exc)
        ctx.exit(int(code if code is not None else ExitCode.OK))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bridge", message="%(prog)s %(version)s")
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
    ctx.obj = GlobalOptions(
        config=config, log_level=log_level.upper() if log_level else None, log_format=log_format
    )
    # Configured again once the settings are read; until then, flags or safe defaults.
    configure_logging(ctx.obj.log_level or "INFO", ctx.obj.log_format or "auto")


@cli.command()
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
    tick, cross, warn = _symbols()
    try:
        settings = load_configured_settings(opts)
    except ConfigError as exc:
        click.echo(f"{cross} configuration invalid: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            click.echo(f"{cross} {problem}")
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
    from bridge.commands.doctor import print_sections, side_sections
    from bridge.mapping.loader import load_or_raise

    tick, cross, _ = _symbols()
    sections = side_sections(settings, load_or_raise(settings.mappings.directory))
    print_sections(sections)
    failed = sum(1 for section in sections for finding in section.findings if finding.status == "fail")
    if failed:
        click.echo(f"{cross} {failed} problem(s) on the live instances")
        return ExitCode.UNREACHABLE
    click.echo(f"{tick} both sides accept the mappings")
    return ExitCode.OK


register(cli)
cli.add_command(trends_command)


def main() -> None:
    """Entry point of the ``bridge`` script and ``python -m bridge``."""
    cli(prog_name="bridge")
