"""Composition root: turns :class:`~bridge.settings.Settings` into working parts.

Only this module knows how the pieces are wired (settings -> connectors, store, engine); the CLI
calls it and prints. Today it holds the configuration check; connectors, store and cycle are
built here as they arrive.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from bridge.connectors.base import Connector
from bridge.errors import ConfigError
from bridge.logging import get_logger
from bridge.mapping import check as mapping_check
from bridge.mapping.catalog import system_of
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.metrics import Metrics
from bridge.model import Side
from bridge.settings import Settings, credential_file_name, env_var_name
from bridge.store import Store
from bridge.sync.engine import Engine, EngineOptions

log = get_logger(__name__)


class ProblemLike(Protocol):
    """What ``bridge check`` prints: :class:`Problem` and :class:`bridge.errors.MappingProblem`."""

    @property
    def severity(self) -> str: ...

    def __str__(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :func:`check_configuration`; ``severity`` is ``error`` or ``warning``."""

    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def _credential_hint(section: str, key: str) -> str:
    name = credential_file_name((section, key))
    files = f" or the credential file '{name}'" if name else ""
    return f"{env_var_name((section, key))}{files}"


def check_settings(settings: Settings) -> list[Problem]:
    """Findings pydantic cannot make alone: missing credentials, drivers not installed.

    Missing credentials are warnings, not errors: ``config.example.yaml`` must pass the check
    as shipped, and a sync command fails with exit code 3 anyway when a side refuses.
    """
    problems: list[Problem] = [Problem("", w, "warning") for w in settings.warnings]
    jira = settings.jira
    if jira.token is None:
        problems.append(Problem("jira.token", f"not set; set {_credential_hint('jira', 'token')}", "warning"))
    if jira.deployment == "cloud" and not jira.email:
        problems.append(
            Problem("jira.email", "not set; Jira Cloud authenticates with e-mail + API token", "warning")
        )
    itsm = settings.itsm
    if itsm.token is None and itsm.password is None:
        problems.append(
            Problem(
                "itsm",
                "no credentials; set itsm.username with "
                f"{_credential_hint('itsm', 'password')}, or {_credential_hint('itsm', 'token')}",
                "warning",
            )
        )
    url = settings.state.url.get_secret_value() if settings.state.url else ""
    if url.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
        problems.append(
            Problem("state.url", "PostgreSQL needs the psycopg driver: pip install 'bridge-sync[postgres]'")
        )
    elif not (url.startswith("sqlite") or url.startswith("postgresql")):
        problems.append(
            Problem("state.url", "unsupported database (expected sqlite:/// or postgresql+psycopg://)")
        )
    return problems


def check_mappings(directory: Path) -> list[ProblemLike]:
    """Validate the mapping files in ``directory``: schema, templates, statuses, cross-file checks.

    Pure and offline: every problem of every file at once, errors first (see docs/mappings.md).
    """
    return list(mapping_check.check_mappings(directory))


def check_configuration(settings: Settings) -> list[ProblemLike]:
    """Everything ``bridge check`` verifies without touching the network, as one list.

    Errors make ``bridge check`` exit with code 2; warnings are printed but do not fail it.
    """
    problems: list[ProblemLike] = list(check_settings(settings))
    directory = settings.mappings.directory
    if not directory.is_dir():
        problems.append(
            Problem(
                str(directory),
                "mappings directory not found (set mappings.directory, relative to the config file)",
            )
        )
    else:
        problems.extend(check_mappings(directory))
        problems.extend(check_systems(settings, directory))
    return problems


def foreign_mappings(settings: Settings, mappings: Sequence[MappingSpec]) -> list[tuple[MappingSpec, str]]:
    """Mappings written for another ITSM than ``itsm.kind``, with the system each is written for."""
    found: list[tuple[MappingSpec, str]] = []
    for spec in mappings:
        system = system_of(spec.route.record_type, spec.route.system)
        if system != settings.itsm.kind:
            found.append((spec, system))
    return found


def check_systems(settings: Settings, directory: Path) -> list[ProblemLike]:
    """Errors only ``itsm.kind`` reveals: enabled mappings for another ITSM, no enabled mapping at all."""
    from bridge.mapping.checks_across import check_for_system
    from bridge.mapping.loader import load_mappings

    result = load_mappings(directory)
    if result.errors or not result.mappings:
        return []  # the files' own errors (or the empty directory's warning) already say it
    return list(check_for_system(result.mappings, settings.itsm.kind))


# ------------------------------------------------------------------------------------------------
# Engine: settings -> store, connectors, engine (the sync commands and the daemon start here).
# ------------------------------------------------------------------------------------------------

#: Builds one side's connector from the settings.
ConnectorFactory = Callable[[Settings], Connector]


def _adapter(module: str, cls: str) -> ConnectorFactory:
    """A factory importing its vendor adapter lazily: a missing optional module fails as a config error."""

    def factory(settings: Settings) -> Connector:
        try:
            adapter = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            raise ConfigError(
                f"the {cls} connector is not available in this installation", [f"cannot import {module}.{cls}"]
            ) from None
        connector: Connector = adapter.from_settings(settings)
        return connector

    return factory


#: How remote links on Jira issues name the ITSM application (Jira REST "Create or update remote issue link").
ITSM_APPLICATIONS: dict[str, tuple[str, str]] = {
    "servicenow": ("com.servicenow", "ServiceNow"),
    "rt": ("com.bestpractical.rt", "Request Tracker"),
    "jsm": ("com.atlassian.servicedesk", "Jira Service Management"),
}


def _jira(settings: Settings) -> Connector:
    """The Jira side: its own section, plus the ITSM's URL and name for the remote links back."""
    from bridge.connectors.jira import JiraConnector

    return JiraConnector.from_settings(
        settings.jira,
        itsm_base_url=settings.itsm.url,
        itsm_application=ITSM_APPLICATIONS.get(settings.itsm.kind),
    )


#: The real connectors, by kind (``settings.itsm.kind``; ``"jira"`` for the Jira side). Read-only: callers
#: that need other connectors (tests with the memory fakes or a sandbox) pass their own ``factories`` to
#: :func:`build_connector`, :func:`build_connectors` or :func:`build_engine` (the CLI takes them from
#: :class:`bridge.cli.GlobalOptions`), so no process-wide state is ever swapped.
DEFAULT_CONNECTOR_FACTORIES: Mapping[str, ConnectorFactory] = MappingProxyType(
    {
        "jira": _jira,
        "servicenow": _adapter("bridge.connectors.servicenow", "ServiceNowConnector"),
        "rt": _adapter("bridge.connectors.rt", "RTConnector"),
        "jsm": _adapter("bridge.connectors.jsm", "JsmConnector"),
    }
)


def build_connector(
    kind: str, settings: Settings, factories: Mapping[str, ConnectorFactory] | None = None
) -> Connector:
    """The connector of ``kind``: from ``factories`` when it has that kind, else the real default.

    ``factories`` overrides per kind, so a test can replace one side (the ITSM with a memory fake) and
    keep the other real (Jira against its sandbox).
    """
    if factories is not None and kind in factories:
        return factories[kind](settings)
    return DEFAULT_CONNECTOR_FACTORIES[kind](settings)


def open_store(settings: Settings) -> Store:
    """The state store of ``settings`` (migrated to the newest schema)."""
    assert settings.state.url is not None  # the settings resolve a default
    return Store.open(settings.state.url.get_secret_value())


def build_connectors(
    settings: Settings, factories: Mapping[str, ConnectorFactory] | None = None
) -> dict[Side, Connector]:
    """Both sides' connectors (see :func:`build_connector` for ``factories``)."""
    itsm = build_connector(settings.itsm.kind, settings, factories)
    try:
        jira = build_connector("jira", settings, factories)
    except BaseException:
        itsm.close()
        raise
    return {Side.ITSM: itsm, Side.JIRA: jira}


def attachment_work_dir(state_url: str | None) -> str | None:
    """Where copied files wait between download and upload: ``files/`` in the state directory (next to
    a SQLite state file, else ``$STATE_DIRECTORY`` as systemd sets it), ``None`` (the system's) otherwise."""
    if state_url and state_url.startswith("sqlite:///") and ":memory:" not in state_url:
        return str(Path(state_url.removeprefix("sqlite:///")).parent / "files")
    state_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return str(Path(state_dir) / "files") if state_dir else None


def build_engine(
    settings: Settings,
    mappings: Sequence[MappingSpec],
    connectors: Mapping[Side, Connector] | None = None,
    *,
    metrics: Metrics | None = None,
    factories: Mapping[str, ConnectorFactory] | None = None,
) -> Engine:
    """The composition root of syncing: store + connectors + mappings. ``connectors`` lets tests
    inject ready connectors; otherwise they are built by :func:`build_connectors` with ``factories``.
    ``metrics`` receives each cycle's figures (the daemon's ``/metrics``, a one-shot run's textfile)."""
    foreign = foreign_mappings(settings, mappings)
    for spec, system in foreign:
        if spec.enabled:
            log.warning("mapping not run: written for another ITSM", mapping=spec.name, system=system,
                        itsm_kind=settings.itsm.kind)
    mappings = [spec for spec in mappings if all(spec is not other for other, _ in foreign)]
    built = dict(connectors) if connectors is not None else build_connectors(settings, factories)
    try:
        store = open_store(settings)
    except BaseException:
        if connectors is None:
            for connector in built.values():
                connector.close()
        raise
    options = EngineOptions(index_lag_itsm=timedelta(seconds=settings.itsm.index_lag_seconds),
                            index_lag_jira=timedelta(seconds=settings.jira.index_lag_seconds),
                            backfill_window=timedelta(days=settings.schedule.backfill_window_days),
                            journal_retention=timedelta(days=settings.state.journal_retention_days),
                            parallel_sides=settings.engine.parallel_sides,
                            workers_per_side=settings.engine.workers_per_side,
                            cycle_budget=settings.engine.cycle_budget or None,
                            cycle_seconds=settings.engine.cycle_seconds or None,
                            work_dir=attachment_work_dir(settings.state.url.get_secret_value() if settings.state.url
                                                         else None))
    return Engine(store, built[Side.ITSM], built[Side.JIRA], mappings, options=options, metrics=metrics)
