"""What the sync commands share: loading settings, mappings and the engine, parsing and printing."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from bridge.bootstrap import build_engine, open_store
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.settings import Settings
from bridge.store import Store
from bridge.sync.cycle import CycleReport
from bridge.sync.engine import Engine

if TYPE_CHECKING:
    from bridge.cli import GlobalOptions


def bridge_command(func: Callable[..., int | None]) -> Callable[..., None]:
    """:func:`bridge.cli.bridge_command` (exceptions → exit codes), imported when the command runs:
    :mod:`bridge.cli` imports this package while it is being defined."""

    @functools.wraps(func)
    def usage_errors(*args: Any, **kwargs: Any) -> int | None:
        # click reports its own usage errors with code 2 only when they escape the command; the CLI
        # frame treats every exception but Exit as a bug, so a usage error found in the body is
        # printed here the way click would and mapped to the configuration exit code.
        try:
            return func(*args, **kwargs)
        except click.ClickException as exc:
            exc.show()
            return 2

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from bridge.cli import bridge_command as wrap

        wrap(usage_errors)(*args, **kwargs)

    return wrapper


def load_settings_for(opts: GlobalOptions) -> Settings:
    from bridge.cli import load_configured_settings

    return load_configured_settings(opts)


def load_mappings(settings: Settings) -> list[MappingSpec]:
    """Every mapping of the configured directory; :class:`MappingError` with all problems otherwise."""
    from bridge.mapping.loader import load_or_raise

    return load_or_raise(settings.mappings.directory)


def load_engine(opts: GlobalOptions) -> tuple[Settings, Engine]:
    settings = load_settings_for(opts)
    return settings, build_engine(settings, load_mappings(settings), factories=opts.connector_factories)


def load_store(opts: GlobalOptions) -> Store:
    """The state store only: for commands that read or edit bridge's own state (no vendor call)."""
    return open_store(load_settings_for(opts))


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
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        engine.stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


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
    )


def print_stats(report: CycleReport) -> None:
    for side, endpoints in sorted(report.calls.items()):
        for endpoint, count in sorted(endpoints.items()):
            click.echo(f"  {side:5} {count:6}  {endpoint}")
