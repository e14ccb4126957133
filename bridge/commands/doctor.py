"""``bridge doctor``: the one command an operator runs first when something is wrong.

It walks the chain a cycle depends on, in order, and says for each link ✔ or ✖ with a fix:

1. **configuration**: settings and mappings valid (exit 2 here: nothing further can be trusted);
2. **state store**: there (a missing database is ✖: the doctor never creates one), reachable, at the schema
   this bridge expects (migrations run at start; the doctor itself never migrates, locks or writes
   anything, so it is safe next to a running daemon); a SQLite database, journal or lock file the
   group or others can read is a ⚠ (the state holds work notes);
3. **each side**: reachable with the configured credentials, and what the account may do there —
   the connector's own :meth:`~bridge.connectors.base.Connector.check` (projects, issue types, fields,
   statuses, permissions; ITSM tables, fields, states) — plus the **clock skew** against the vendor
   (from the ``Date`` header of its answers): cursors and Jira's minute-granular JQL assume clocks
   roughly agree, and a skew beyond the cursor overlap window can lose changes;
4. **locks**: which process holds each mapping's lock, asked of the lock's owner and never of a replica's
   memory (PostgreSQL: ``pg_locks`` joined to ``pg_stat_activity`` for ``application_name``, client
   address and connection start, plus the mapping's leadership epoch; SQLite: the lock file's holder pid);
5. **work**: each mapping's last successful cycle, its pending actions, and the error list.

Exit code 0 when nothing is ✖ (⚠ lines are worth reading but do not fail), 3 otherwise, 2 for an
invalid configuration. ``bridge check --online`` runs step 3 only (:func:`side_sections`).
"""

from __future__ import annotations

import shlex
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click

from bridge.bootstrap import ITSM_APPLICATIONS, ConnectorFactory, build_connector, check_configuration
from bridge.commands._common import GlobalOptions, bridge_command, load_settings_for, symbols
from bridge.connectors.base import CheckResult, Connector
from bridge.errors import (
    AuthError,
    BridgeError,
    ConfigError,
    ConnectorError,
    MappingError,
    NotFoundError,
    RateLimitedError,
    StoreError,
)
from bridge.exitcodes import ExitCode
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.settings import Settings
from bridge.settings.schema import DEFAULT_STATE_FILE
from bridge.store import Store
from bridge.store.diagnostics import lock_holders, schema_status, sqlite_file
from bridge.store.existing import SYSTEMD_STATE_DIRECTORY, StateMissingError
from bridge.store.permissions import exposed_state_files
from bridge.sync.engine import EngineOptions

OK, WARN, FAIL = "ok", "warn", "fail"
#: Clock skew worth a warning: JQL compares to the minute, so half a minute is already visible.
SKEW_WARN_SECONDS = 30.0
#: Clock skew that can lose changes: beyond the cursor overlap window (see docs/operations.md).
SKEW_FAIL_SECONDS = EngineOptions().overlap.total_seconds()
#: A pending action older than this is stuck rather than waiting for its backoff.
STUCK_PENDING_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the doctor's answer."""

    status: str
    text: str
    hint: str | None = None


@dataclass
class Section:
    """A titled group of findings (one part of the chain)."""

    title: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, status: str, text: str, hint: str | None = None) -> None:
        self.findings.append(Finding(status, text, hint))

    @property
    def failed(self) -> bool:
        return any(f.status == FAIL for f in self.findings)


def _symbols() -> dict[str, str]:
    tick, cross, warn = symbols()
    return {OK: tick, FAIL: cross, WARN: warn}


def print_sections(sections: Sequence[Section], *, quiet: bool = False) -> None:
    """Each section's findings, each distinct finding once; ``quiet``: only ✖ and ⚠ (under their title)."""
    symbols = _symbols()
    for section in sections:
        findings = list(dict.fromkeys(section.findings))
        if quiet:
            findings = [f for f in findings if f.status != OK]
            if not findings:
                continue
        click.echo(section.title)
        for finding in findings:
            click.echo(f"  {symbols[finding.status]} {finding.text}")
            if finding.hint and finding.status != OK:
                click.echo(f"      → {finding.hint}")


def count(sections: Sequence[Section], status: str) -> int:
    """Distinct findings of ``status`` (the same line printed once is counted once)."""
    return sum(1 for s in sections for f in dict.fromkeys(s.findings) if f.status == status)


BUSY_STATUSES = (429, 503)


def connector_failure(exc: ConnectorError, side: str) -> CheckResult:
    """What an error while checking a side means to an operator: busy, one endpoint missing, or unreachable."""
    where = " ".join(p for p in (exc.method, exc.endpoint) if p) or "a request"
    if isinstance(exc, RateLimitedError) or exc.status in BUSY_STATUSES:
        return CheckResult(False, f"{side} is busy: {where} answered {exc.status} — try again later",
                           "the vendor is rate-limiting or under maintenance; nothing to change here if a later "
                           "run passes (bridge retries such answers itself)")
    if isinstance(exc, NotFoundError):
        return CheckResult(False, f"{side}: {where} answered 404 (the rest of this side was not checked)",
                           "that endpoint is missing at this URL: check the URL's path (context path, API "
                           "version) and the account's access to it")
    if exc.status is not None:
        return CheckResult(False, f"{side}: {where} answered {exc.status}: {exc}",
                           "the side is reachable but refused this request")
    return CheckResult(False, f"not reachable: {exc}", "check the URL, the network and TLS")


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


# ------------------------------------------------------------------------------------------ sides


def side_sections(
    settings: Settings, mappings: Sequence[MappingSpec], factories: Mapping[str, ConnectorFactory] | None = None
) -> list[Section]:
    """Each side reachable with the configured credentials, what the account may do, clock skew.

    Connectors come from :func:`bridge.bootstrap.build_connector` with ``factories``, as for a sync.
    """
    itsm_name = ITSM_APPLICATIONS.get(settings.itsm.kind, (settings.itsm.kind, settings.itsm.kind))[1]
    return [
        _side_section(f"itsm: {itsm_name} at {settings.itsm.url}", settings.itsm.kind, settings, mappings, factories),
        _side_section(f"jira: {settings.jira.url} ({settings.jira.deployment})", "jira", settings, mappings, factories),
    ]


def _side_section(
    title: str,
    kind: str,
    settings: Settings,
    mappings: Sequence[MappingSpec],
    factories: Mapping[str, ConnectorFactory] | None,
) -> Section:
    section = Section(title)
    try:
        connector: Connector = build_connector(kind, settings, factories)
    except ConfigError as exc:
        section.add(FAIL, f"cannot build the connector: {exc}", "; ".join(exc.problems) or "fix the configuration")
        return section
    except BridgeError as exc:
        section.add(FAIL, f"cannot build the connector: {exc}")
        return section
    try:
        try:
            results = connector.check(list(mappings))
        except AuthError as exc:
            results = [CheckResult(False, f"credentials refused: {exc}", "check the user and token/password")]
        except ConnectorError as exc:
            label = "Jira" if kind == "jira" else ITSM_APPLICATIONS.get(kind, (kind, kind))[1]
            results = [connector_failure(exc, label)]
        for result in results:
            section.add(OK if result.ok else FAIL, result.what, result.hint)
        _clock_finding(section, connector)
    finally:
        connector.close()
    return section


def _clock_finding(section: Section, connector: Connector) -> None:
    offset = connector.calls.clock_offset
    if offset is None:
        return  # no HTTP answer carried a Date header (an in-memory connector, or nothing answered)
    direction = "ahead of" if offset > 0 else "behind"
    text = f"clock: {abs(offset):.0f} s {direction} this host"
    hint = "synchronise the clocks with NTP (chrony, systemd-timesyncd); vendors' clocks are usually right"
    if abs(offset) > SKEW_FAIL_SECONDS:
        section.add(FAIL, text + f" (beyond the {SKEW_FAIL_SECONDS:.0f} s overlap window: changes can be missed)",
                    hint)
    elif abs(offset) > SKEW_WARN_SECONDS:
        section.add(WARN, text, hint)
    else:
        section.add(OK, "clock agrees with this host" + (f" ({offset:+.0f} s)" if round(offset) else ""))


# ------------------------------------------------------------------------------------------ store


def _store_sections(settings: Settings, mappings: Sequence[MappingSpec]) -> list[Section]:
    assert settings.state.url is not None  # the settings resolve a default
    url = settings.state.url.get_secret_value()
    section = Section(f"state store: {settings.state.display_url()}")
    path = sqlite_file(url)
    if path is not None and not path.exists():
        missing = StateMissingError(f"no state database at {path}", [])
        section.add(FAIL, str(missing), _state_hint(str(path)))
        return [section]
    if path is not None:
        _permission_finding(section, path)
    try:
        store = Store.open(url, migrate_schema=False)
    except StoreError as exc:
        section.add(FAIL, str(exc), "check state.url, the credentials and that the database server runs")
        return [section]
    try:
        try:
            schema = schema_status(store)
        except StoreError as exc:
            section.add(FAIL, f"not reachable: {exc}", "check state.url, the password and the network")
            return [section]
        if schema.up_to_date:
            section.add(OK, f"reachable; schema at revision {schema.head} (current)")
        elif schema.current is None:
            section.add(FAIL, "reachable but holds no bridge state (no schema yet)", _state_hint(section.title))
            return [section]
        else:
            section.add(
                FAIL,
                f"schema at revision {schema.current}, this bridge needs {schema.head}",
                "start `bridge run` or `bridge sync` once: migrations run at start (back up first); a revision "
                "unknown to this bridge means a newer bridge migrated the database — upgrade this one",
            )
            return [section]
        return [section, *_state_sections(settings, store, mappings)]
    finally:
        store.close()


def _state_hint(looked: str) -> str:
    """Where the daemon's state probably is, and that only a sync creates it."""
    return (f"not where the daemon keeps it? under systemd that is its StateDirectory, likely "
            f"{SYSTEMD_STATE_DIRECTORY}/{DEFAULT_STATE_FILE} (set STATE_DIRECTORY or state.url); a fresh "
            "install gets it from the first `bridge sync` or `bridge run`")


def _permission_finding(section: Section, database: Path) -> None:
    """The state holds descriptions and work notes: warn about every state file others can read."""
    exposed = exposed_state_files(database)
    if not exposed:
        return
    files = ", ".join(f"{p.name} ({stat.filemode(m)[1:]})" for p, m in exposed)
    section.add(
        WARN,
        f"state files readable by the group or others: {files}",
        f"chmod 600 {' '.join(shlex.quote(str(p)) for p, _ in exposed)}; chmod 700 "
        f"{shlex.quote(str(database.parent))} (bridge creates new ones private; systemd's UMask=0077 too)",
    )


def _state_sections(settings: Settings, store: Store, mappings: Sequence[MappingSpec]) -> list[Section]:
    names = [m.name for m in mappings if m.enabled]
    locks = Section("locks")
    work = Section("work")
    try:
        holders = lock_holders(store, names)
        epochs = store.leader_epochs(names)
        statuses = store.mapping_statuses()
        open_errors = store.open_error_count()
        pending = {name: store.pending_entries(name) for name in names}
    except StoreError as exc:
        locks.add(FAIL, f"cannot read the state: {exc}")
        return [locks]
    for name in names:
        holder, epoch = holders[name], epochs.get(name)
        locks.add(OK, f"{name}: {holder.describe()}" + (f" (leadership {epoch.describe()})" if epoch else ""))
    now = time.time()
    stale_after = 3 * settings.schedule.interval_seconds
    for name in names:
        status = statuses.get(name)
        entries = pending[name]
        parts = []
        level = OK
        hint = None
        if status is None or status.last_success is None:
            parts.append("never synced")
            level = WARN
            hint = "start `bridge run` (or the timer) and look at its log"
        else:
            age = now - status.last_success.timestamp()
            parts.append(f"last successful cycle {_ago(age)}")
            if status.last_ok is False and status.last_cycle is not None:
                parts.append(f"last cycle FAILED {_ago(now - status.last_cycle.timestamp())}")
            if age > stale_after:
                level = WARN
                hint = "is bridge running? the logs of the failed cycles say why (exit 3: a side or the database)"
        if entries:
            oldest = min(entries, key=lambda e: e.created)
            parts.append(f"{len(entries)} pending action(s)")
            if now - oldest.created.astimezone(UTC).timestamp() > STUCK_PENDING_SECONDS:
                level = WARN
                parts.append(f"oldest since {oldest.created.strftime('%Y-%m-%d %H:%M:%SZ')}, "
                             f"{oldest.attempts} attempt(s)")
                hint = f"last error: {oldest.last_error}" if oldest.last_error else hint
        else:
            parts.append("no pending action")
        work.add(level, f"{name}: " + ", ".join(parts), hint)
    if open_errors:
        work.add(WARN, f"error list: {open_errors} open entr{'y' if open_errors == 1 else 'ies'}",
                 "`bridge errors` shows them with the vendor's reason; fix the cause, then `bridge retry ID`")
    else:
        work.add(OK, "error list: empty")
    return [locks, work]


# ------------------------------------------------------------------------------------------ command


def _configuration(opts: GlobalOptions) -> tuple[Settings, list[MappingSpec], Section] | int:
    from bridge.mapping.loader import load_or_raise

    section = Section("configuration")
    try:
        settings = load_settings_for(opts)
    except ConfigError as exc:
        section.add(FAIL, f"configuration invalid: {len(exc.problems)} problem(s)")
        for text in exc.problems:
            section.add(FAIL, text)
        print_sections([section])
        return ExitCode.CONFIG
    section.add(OK, f"settings valid: {settings.config_file or 'defaults and environment (no config file)'}")
    problems = check_configuration(settings)
    for problem in problems:
        section.add(FAIL if problem.severity == "error" else WARN, str(problem))
    if section.failed:
        print_sections([section])
        return ExitCode.CONFIG
    try:
        mappings = load_or_raise(settings.mappings.directory)
    except (MappingError, ConfigError) as exc:
        section.add(FAIL, str(exc))
        print_sections([section])
        return ExitCode.CONFIG
    enabled = [m.name for m in mappings if m.enabled]
    section.add(
        OK if enabled else WARN,
        f"{len(enabled)} enabled mapping(s) of {len(mappings)}" + (f": {', '.join(enabled)}" if enabled else ""),
        None if enabled else "set `enabled: true` in a mapping under " + str(settings.mappings.directory),
    )
    return settings, mappings, section


@click.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only ✖ and ⚠ findings (and the closing line).")
@click.pass_obj
@bridge_command
def doctor(opts: GlobalOptions, quiet: bool) -> int:
    """Diagnose a bridge installation: configuration, state store, both sides, locks, pending work.

    Prints ✔/✖ per check with a fix. Exit codes: 0 nothing wrong; 3 something is ✖; 2 invalid
    configuration. Reads only: safe to run next to a running daemon.
    """
    configured = _configuration(opts)
    if isinstance(configured, int):
        return configured
    settings, mappings, section = configured
    enabled = [m for m in mappings if m.enabled]
    sections = [section]
    print_sections(sections, quiet=quiet)
    for part in (*_store_sections(settings, mappings), *side_sections(settings, enabled, opts.connector_factories)):
        print_sections([part], quiet=quiet)
        sections.append(part)
    failures = count(sections, FAIL)
    warnings = count(sections, WARN)
    symbols = _symbols()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if failures:
        click.echo(f"{symbols[FAIL]} {failures} problem(s), {warnings} warning(s) ({when})")
        return ExitCode.UNREACHABLE
    click.echo(f"{symbols[OK]} no problem found" + (f", {warnings} warning(s)" if warnings else "") + f" ({when})")
    return ExitCode.OK
