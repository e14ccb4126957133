"""Where setting values come from besides the YAML file: the environment and the credentials directory.

:func:`bridge.settings.loading.load_settings` decides what to read (the env mapping, the YAML data, the
credentials directory) and hands it to the model through a :class:`LoadContext` in a context variable:
pydantic-settings builds its sources inside the model (``Settings.settings_customise_sources``), which
takes no arguments. Without a context (a bare ``Settings(...)``), ``os.environ`` is used.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

ENV_PREFIX = "BRIDGE_"
ENV_DELIMITER = "__"
CONFIG_ENV = "BRIDGE_CONFIG"
DEFAULT_CONFIG = Path("config.yaml")

#: Credential file name (in ``$CREDENTIALS_DIRECTORY``) -> settings path it fills.
CREDENTIAL_FILES: dict[str, tuple[str, str]] = {
    "jira_token": ("jira", "token"),
    "itsm_password": ("itsm", "password"),
    "itsm_token": ("itsm", "token"),
    "state_url": ("state", "url"),
    "state_password": ("state", "password"),
    "hints_jira_secret": ("hints", "jira_secret"),
    "hints_jira_url_token": ("hints", "jira_url_token"),
    "hints_itsm_token": ("hints", "itsm_token"),
}


@dataclass
class LoadContext:
    """What one :func:`~bridge.settings.loading.load_settings` call read, for the model's sources and
    validators."""

    env: Mapping[str, str]
    yaml_data: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    credentials_dir: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.config_file.parent if self.config_file else Path.cwd()


load_context: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar(
    "bridge_settings_ctx", default=None
)


def current_context() -> LoadContext:
    ctx = load_context.get()
    if ctx is not None:
        return ctx
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    return LoadContext(env=os.environ, credentials_dir=Path(creds) if creds else None)


class MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env_map = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._env_map)
        return {k.lower(): v for k, v in self._env_map.items()}


class DictSource(PydanticBaseSettingsSource):
    """A source that returns a prepared nested dict (YAML data, credential files)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def read_credentials(directory: Path | None) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Nested data and origins from the known credential files; other files are ignored."""
    data: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    if directory is None:
        return data, origins
    for name, (section, key) in CREDENTIAL_FILES.items():
        path = directory / name
        if path.is_file():
            # Trailing newlines come from `echo secret > file`; they are never part of a secret.
            data.setdefault(section, {})[key] = path.read_text(encoding="utf-8").rstrip("\r\n")
            origins[(section, key)] = str(path)
    return data, origins


def env_var_name(path: tuple[str, ...] | list[str]) -> str:
    """The environment variable that sets a settings path, e.g. ``BRIDGE_JIRA__TOKEN``."""
    return ENV_PREFIX + ENV_DELIMITER.join(p.upper() for p in path)


def credential_file_name(path: tuple[str, ...]) -> str | None:
    """The ``$CREDENTIALS_DIRECTORY`` file name that sets a settings path, if it is a secret."""
    for name, target in CREDENTIAL_FILES.items():
        if target == tuple(path):
            return name
    return None


def env_origins(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Settings path -> the ``BRIDGE_…`` variable that sets it."""
    origins: dict[tuple[str, ...], str] = {}
    for name in env:
        if name.upper().startswith(ENV_PREFIX) and name.upper() != CONFIG_ENV:
            path = tuple(name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER))
            origins[path] = name
    return origins


def env_data(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``BRIDGE_…`` variables as nested data (to register the secrets among them before validating)."""
    data: dict[str, Any] = {}
    for path, name in env_origins(env).items():
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = env[name]
    return data


def resolve_config_path(config_path: Path | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The config file to read and whether it was named explicitly (then it must exist)."""
    if config_path is not None:
        return Path(config_path), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    return DEFAULT_CONFIG, False
