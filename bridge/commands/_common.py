"""What the commands share: the global options, the exception → exit code frame, loading settings,
mappings and the engine, parsing and printing.

To add a command, write a module here and register it in :mod:`bridge.cli`::

    @click.command()
    @click.pass_obj
    @bridge_command
    def sync(opts: GlobalOptions) -> int:
        settings = load_settings_for(opts)
        ...
        return ExitCode.OK
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bridge.bootstrap import ConnectorFactory, build_engine, open_store
from bridge.connectors.http import request_stop, reset_stop
from bridge.errors import BridgeError, ConfigError, MappingError, StoreUnavailableError
from bridge.exitcodes import ExitCode, exit_code_for
from bridge.logging import configure_logging, get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.settings import Settings, load_settings
from bridge.store import Store
from bridge.store.existing import StateMissingError
from bridge.sync.cycle import CycleReport
from bridge.sync.engine import Engine

log = get_logger(__name__)


@dataclass
class GlobalOptions:
    """The options given before the command name; ``None`` means "not given on the command line"."""

    config: Path | None = None
    log_level: str | None = None
    log_format: str | None = None
    #: Per-kind connector overrides (see :func:`bridge.bootstrap.build_connector`); tests pass them with
    #: ``CliRunner().invoke(cli, args, obj=GlobalOptions(connector_factories=...))``.
    connector_factories: Mapping[str, ConnectorFactory] | None = None


def symbols() -> tuple[str, str, str]:
    """✔ ✖ ⚠ when stdout can encode them, ASCII otherwise (a C locale, a Windows console)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✔✖⚠".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ("OK", "FAIL", "WARN")
    return ("✔", "✖", "⚠")


def bridge_command(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body and exit with the code it returns or the one its exception maps to.

    :func:`bridge.exitcodes.exit_code_for` is the one mapping. Configuration problems are printed,
    unexpected errors logged with their (redacted) traceback before exiting 70.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        try:
            code = func(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:
            # click reports its own usage errors with code 2 only when they escape the command; here
            # every other exception is a bug, so a usage error found in the body is printed the way
            # click would and mapped to the configuration exit code.
            exc.show()
            code = ExitCode.CONFIG
        except (ConfigError, MappingError, StateMissingError, StoreUnavailableError) as exc:
            # an operator acts on these: the message and what to do go to stderr, not only to the log
            _, cross, _ = symbols()
            click.echo(f"{cross} {exc}", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            if isinstance(exc, StoreUnavailableError):
                log.error("command failed", command=ctx.info_name, error=str(exc), error_type=type(exc).__name__)
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


def load_settings_for(opts: GlobalOptions) -> Settings:
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


def load_mappings(settings: Settings) -> list[MappingSpec]:
    """Every mapping of the configured directory; :class:`MappingError` with all problems otherwise."""
    from bridge.mapping.loader import load_or_raise
    from bridge.mapping.patterns import set_timeout_ms

    set_timeout_ms(settings.mappings.regex_timeout_ms)
    return load_or_raise(settings.mappings.directory)


def load_engine(opts: GlobalOptions, *, existing_state: bool = False) -> tuple[Settings, Engine]:
    """Settings and engine; ``existing_state``: a read-only command, refused when no state database exists."""
    settings = load_settings_for(opts)
    if existing_state:
        from bridge.store.existing import require_state

        assert settings.state.url is not None  # the settings resolve a default
        require_state(settings.state.url.get_secret_value())
    return settings, build_engine(settings, load_mappings(settings), factories=opts.connector_factories)


def load_store(opts: GlobalOptions) -> Store:
    """The state store only: for commands that read or edit bridge's own state (no vendor call)."""
    return open_store(load_settings_for(opts))


def load_existing_store(opts: GlobalOptions) -> Store:
    """The state store for a read-only command: :class:`StateMissingError` (exit 3, saying where it
    looked) instead of creating an empty database."""
    from bridge.store.existing import open_existing

    settings = load_settings_for(opts)
    assert settings.state.url is not None  # the settings resolve a default
    return open_existing(settings.state.url.get_secret_value())


def select_mappings(engine: Engine, names: Sequence[str]) -> list[MappingSpec]:
    """The named mappings (unknown names are a configuration error), else every enabled one."""
    if names:
        return [engine.mapping(name) for name in names]
    return engine.enabled_mappings()


def parse_when(value: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date-time (e.g. 2026-03-01T08:00:00Z or 2026-03-01)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@contextmanager
def stop_on_signals(engine: Engine) -> Iterator[None]:
    """SIGTERM/SIGINT raise the engine's stop flag: the current action finishes and is committed."""
    reset_stop()  # a stop of an earlier command in this process (tests) is over
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        engine.stop.set()
        request_stop()  # the HTTP layer's waits (backoff, Retry-After) wake too

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        reset_stop()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table sized to its content."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else ""


def summary(report: CycleReport) -> str:
    """One line per cycle, for people (the log line has the same figures for machines)."""
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.actions_by_kind.items())) or "none"
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(report.outcomes_by_status.items())) or "nothing to do"
    calls = sum(sum(c.values()) for c in report.calls.values())
    return (
        f"{report.mapping}: {report.records_seen} record(s) and {report.issues_seen} issue(s) seen, "
        f"{report.records_changed + report.issues_changed} changed; actions: {kinds}; {statuses}; "
        f"{report.errors} new on the error list; {calls} vendor call(s) in {report.duration:.1f}s"
    ) + "".join(f"\n  ℹ {note}" for note in report.notes)


def print_stats(report: CycleReport) -> None:
    for side, endpoints in sorted(report.calls.items()):
        for endpoint, count in sorted(endpoints.items()):
            click.echo(f"  {side:5} {count:6}  {endpoint}")
