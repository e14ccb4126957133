"""Settings: one validated object built from defaults, a YAML file, the environment and credentials.

Sources, lowest to highest precedence (a higher one overrides single fields, not whole sections):

1. defaults in the models (:mod:`bridge.settings.schema`);
2. the YAML config file: ``--config PATH``, else ``$BRIDGE_CONFIG``, else ``./config.yaml``.
   A missing ``./config.yaml`` is fine (defaults and environment may suffice); a missing file
   that was named explicitly is an error;
3. environment variables ``BRIDGE_<SECTION>__<FIELD>``, e.g. ``BRIDGE_JIRA__TOKEN``;
4. files in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), one per secret, named
   ``<section>_<field>``: see :data:`CREDENTIAL_FILES`.

Why this order: the file holds what an operator reviews and versions; the environment is how
containers and CI override; credentials are what systemd hands over without putting secrets in
the unit file or the process environment, so they win.

Errors are collected: :func:`load_settings` raises one :class:`~bridge.errors.ConfigError` listing
every problem with the file and line (or variable, or credential file) to fix, never the value.

Every secret is a :class:`~pydantic.SecretStr`: ``str()``/``repr()`` of the settings never shows
one. Every secret value seen while loading, valid or not, is registered with
:func:`bridge.logging.register_secret` so no later log line can show it either.

The package: :mod:`~bridge.settings.schema` (the models), :mod:`~bridge.settings.sources` (environment,
credential files, the config file's name), :mod:`~bridge.settings.loading` (reading, validating and
reporting; positions in the YAML come from :mod:`bridge.yamlpos`).
"""

from bridge.settings.loading import load_settings
from bridge.settings.schema import (
    DEFAULT_STATE_FILE,
    EngineSettings,
    ItsmSettings,
    JiraSettings,
    LoggingSettings,
    MappingsSettings,
    MetricsSettings,
    ScheduleSettings,
    Settings,
    StateSettings,
    TimeoutSettings,
)
from bridge.settings.sources import (
    CONFIG_ENV,
    CREDENTIAL_FILES,
    DEFAULT_CONFIG,
    ENV_DELIMITER,
    ENV_PREFIX,
    credential_file_name,
    env_var_name,
    resolve_config_path,
)

__all__ = [
    "CONFIG_ENV",
    "CREDENTIAL_FILES",
    "DEFAULT_CONFIG",
    "DEFAULT_STATE_FILE",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "EngineSettings",
    "ItsmSettings",
    "JiraSettings",
    "LoggingSettings",
    "MappingsSettings",
    "MetricsSettings",
    "ScheduleSettings",
    "Settings",
    "StateSettings",
    "TimeoutSettings",
    "credential_file_name",
    "env_var_name",
    "load_settings",
    "resolve_config_path",
]
