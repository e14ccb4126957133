"""Composition root: turns :class:`~bridge.settings.Settings` into working parts.

Only this module knows how the pieces are wired (settings -> connectors, store, engine); the CLI
calls it and prints. Today it holds the configuration check; connectors, store and cycle are
built here as they arrive.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bridge.settings import Settings, credential_file_name, env_var_name


class ProblemLike(Protocol):
    """What ``bridge check`` prints: :class:`Problem` and :class:`bridge.errors.MappingProblem`."""

    severity: str

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
    """Validate the mapping files in ``directory``.

    MAPPING VALIDATION PLUGS IN HERE: once ``bridge.mapping.loader`` exists, this becomes
    ``return list(load_mappings(directory).problems)``. Until then only the directory is checked
    (by :func:`check_configuration`).
    """
    return []


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
    return problems
