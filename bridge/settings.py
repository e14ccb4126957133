"""Settings: one validated object built from defaults, a YAML file, the environment and credentials.

Sources, lowest to highest precedence (a higher one overrides single fields, not whole sections):

1. defaults in the models below;
2. the YAML config file: ``--config PATH``, else ``$BRIDGE_CONFIG``, else ``./config.yaml``.
   A missing ``./config.yaml`` is fine (defaults and environment may suffice); a missing file
   that was named explicitly is an error;
3. environment variables ``BRIDGE_<SECTION>__<FIELD>``, e.g. ``BRIDGE_JIRA__TOKEN``;
4. files in ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), one per secret, named
   ``<section>_<field>``: see :data:`CREDENTIAL_FILES`.

Why this order: the file holds what an operator reviews and versions; the environment is how
containers and CI override; credentials are what systemd hands over without putting secrets in
the unit file or the process environment, so they win.

Errors are collected, not raised one by one: :func:`load_settings` raises one
:class:`~bridge.errors.ConfigError` whose ``problems`` are all formatted
``FILE:LINE: dotted.path: message (expected ...)`` (or ``env BRIDGE_X: ...`` / the credential
file's path), so an operator fixes everything in one pass. Input values are never echoed in
problems: they may be secrets.

Every secret is a :class:`~pydantic.SecretStr`: ``str()``/``repr()`` of the settings never shows
one. Every secret value seen while loading, valid or not, is registered with
:func:`bridge.logging.register_secret` so no later log line can show it either.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bridge.errors import ConfigError
from bridge.logging import is_secret_key, register_secret
from bridge.notify.config import NotifySettings
from bridge.status.config import StatusPageSettings
from bridge.trends.config import TrendsSettings

ENV_PREFIX = "BRIDGE_"
ENV_DELIMITER = "__"
CONFIG_ENV = "BRIDGE_CONFIG"
DEFAULT_CONFIG = Path("config.yaml")
DEFAULT_STATE_FILE = "bridge.sqlite3"

#: Credential file name (in ``$CREDENTIALS_DIRECTORY``) -> settings path it fills.
CREDENTIAL_FILES: dict[str, tuple[str, str]] = {
    "jira_token": ("jira", "token"),
    "itsm_password": ("itsm", "password"),
    "itsm_token": ("itsm", "token"),
    "state_url": ("state", "url"),
    "state_password": ("state", "password"),
}


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL (expected https://host[/path])")
    if parts.password:
        raise ValueError("credentials embedded in the URL (expected them in the token/password settings)")
    return value.rstrip("/")


HttpUrlStr = Annotated[str, AfterValidator(_http_url)]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Section(BaseModel):
    """Base of every section: unknown keys are errors (typos must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class TimeoutSettings(_Section):
    """Connect and read timeouts for ``requests``; a bare number in YAML sets both."""

    connect: float = Field(5.0, gt=0)
    read: float = Field(30.0, gt=0)

    def as_tuple(self) -> tuple[float, float]:
        """The ``timeout=`` argument ``requests`` expects."""
        return (self.connect, self.read)


def _timeout(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"connect": value, "read": value}
    return value


Timeout = Annotated[TimeoutSettings, BeforeValidator(_timeout)]


class StateSettings(_Section):
    """Where links, cursors and the error list live.

    ``url`` is a SQLAlchemy URL and a secret, because PostgreSQL URLs often embed a password.
    ``password`` may instead be given on its own (e.g. as the credential file ``state_password``)
    and is then inserted into ``url``. Default: ``sqlite:///<dir>/bridge.sqlite3`` where ``<dir>``
    is ``$STATE_DIRECTORY`` (systemd ``StateDirectory=``), else the config file's directory,
    else the current directory.
    """

    url: SecretStr | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _insert_password(self) -> StateSettings:
        if self.password is None or self.url is None:
            return self
        parts = urlsplit(self.url.get_secret_value())
        if not parts.username:
            raise ValueError("state.password is set but state.url names no user (expected user@host in url)")
        if parts.password:
            raise ValueError("state.password is set and state.url already contains a password; keep one")
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{parts.username}:{quote(self.password.get_secret_value(), safe='')}@{host}"
        self.url = SecretStr(urlunsplit(parts._replace(netloc=netloc)))
        return self

    def display_url(self) -> str:
        """The URL with any password masked: safe for logs and ``bridge check`` output."""
        if self.url is None:
            return "<unset>"
        raw = self.url.get_secret_value()
        parts = urlsplit(raw)
        if parts.password is None:
            return raw
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class ScheduleSettings(_Section):
    """How often the daemon runs a cycle. ``misfire_grace_seconds`` defaults to one interval,
    because APScheduler's own default (1 s) silently skips a cycle that starts a little late."""

    interval_seconds: int = Field(60, ge=1)
    misfire_grace_seconds: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _default_grace(self) -> ScheduleSettings:
        if self.misfire_grace_seconds is None:
            self.misfire_grace_seconds = self.interval_seconds
        return self


class JiraSettings(_Section):
    """Jira Cloud (``email`` + API ``token``, basic auth) or Data Center (``token`` = PAT)."""

    url: HttpUrlStr
    deployment: Annotated[Literal["cloud", "datacenter"], BeforeValidator(_lower)] = "cloud"
    email: str | None = None
    token: SecretStr | None = None
    timeout_seconds: Timeout = Field(default_factory=TimeoutSettings)
    verify_tls: bool = True
    ca_bundle: Path | None = None
    # Atlassian's limits are per user and adaptive; 5/s stays well below what either deployment
    # throttles for a single integration user.
    requests_per_second: float = Field(5.0, gt=0, le=100)


class ItsmSettings(_Section):
    """The service desk side: ServiceNow, Request Tracker 5 (``rt``) or Jira Service Management.

    Authentication is either ``username`` + ``password`` (basic) or ``token`` (ServiceNow OAuth
    bearer token, RT auth token, JSM: use username = e-mail and password = API token).
    """

    kind: Annotated[Literal["servicenow", "rt", "jsm"], BeforeValidator(_lower)]
    url: HttpUrlStr
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout_seconds: Timeout = Field(default_factory=TimeoutSettings)
    verify_tls: bool = True
    ca_bundle: Path | None = None
    requests_per_second: float = Field(5.0, gt=0, le=100)
    # Request Tracker only: the zone RT reads TicketSQL date literals in (its $Timezone, or the bridge
    # user's own preference); `bridge doctor` verifies it. See docs/connectors/rt.md.
    timezone: str | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> ItsmSettings:
        if self.token is not None and (self.username or self.password is not None):
            raise ValueError("give either username + password or token, not both (expected one auth method)")
        if self.password is not None and not self.username:
            raise ValueError("password is set without username (expected both for basic auth)")
        return self


class MappingsSettings(_Section):
    """The directory of mapping YAML files, relative to the config file's directory."""

    directory: Path = Path("mappings")


class LoggingSettings(_Section):
    """Log level and format; ``auto`` = JSON lines unless stderr is a terminal."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)] = (
        "INFO"
    )
    format: Annotated[Literal["auto", "json", "console"], BeforeValidator(_lower)] = "auto"


_BIND = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]\s]+):(?P<port>\d{1,5})$")


def _bind(value: str | None) -> str | None:
    if value is None:
        return None
    match = _BIND.match(value)
    if not match or not 0 < int(match.group("port")) < 65536:
        raise ValueError("not a bind address (expected HOST:PORT such as 127.0.0.1:9464)")
    return value


class MetricsSettings(_Section):
    """Prometheus endpoint; off unless ``bind`` is set. Bind to loopback unless you mean otherwise."""

    bind: Annotated[str | None, AfterValidator(_bind)] = None


# --------------------------------------------------------------------------------------------
# Load context: what load_settings() knows and the sources need (env, YAML data, base directory).
# --------------------------------------------------------------------------------------------


@dataclass
class _LoadContext:
    env: Mapping[str, str]
    yaml_data: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    credentials_dir: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.config_file.parent if self.config_file else Path.cwd()


_context: contextvars.ContextVar[_LoadContext | None] = contextvars.ContextVar(
    "bridge_settings_ctx", default=None
)


def _current_context() -> _LoadContext:
    ctx = _context.get()
    if ctx is not None:
        return ctx
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    return _LoadContext(env=os.environ, credentials_dir=Path(creds) if creds else None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env_map = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._env_map)
        return {k.lower(): v for k, v in self._env_map.items()}


class _DictSource(PydanticBaseSettingsSource):
    """A source that returns a prepared nested dict (YAML data, credential files)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def _read_credentials(directory: Path | None) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
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


class Settings(BaseSettings):
    """Everything bridge is configured with. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        extra="forbid",
        nested_model_default_partial_update=False,
    )

    state: StateSettings = Field(default_factory=StateSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    jira: JiraSettings
    itsm: ItsmSettings
    mappings: MappingsSettings = Field(default_factory=MappingsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    trends: TrendsSettings = Field(default_factory=TrendsSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    status_page: StatusPageSettings = Field(default_factory=StatusPageSettings)

    _config_file: Path | None = PrivateAttr(default=None)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest precedence first: init kwargs, credential files, environment, YAML."""
        ctx = _current_context()
        creds, _ = _read_credentials(ctx.credentials_dir)
        return (
            init_settings,
            _DictSource(settings_cls, creds),
            _MappingEnvSource(settings_cls, ctx.env),
            _DictSource(settings_cls, ctx.yaml_data),
        )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Relative paths are relative to the config file's directory, not to wherever the
        daemon happens to be started from."""
        ctx = _current_context()
        base = ctx.base_dir
        self.mappings.directory = _absolute(self.mappings.directory, base)
        for side in (self.jira, self.itsm):
            if side.ca_bundle is not None:
                side.ca_bundle = _absolute(side.ca_bundle, base)
        if self.state.url is None:
            state_dir = (ctx.env.get("STATE_DIRECTORY") or "").split(":")[0]
            directory = Path(state_dir) if state_dir else base
            self.state.url = SecretStr(f"sqlite:///{(directory / DEFAULT_STATE_FILE).absolute()}")
        else:
            self.state.url = SecretStr(_absolute_sqlite(self.state.url.get_secret_value(), base))
        return self

    @property
    def config_file(self) -> Path | None:
        """The YAML file these settings were read from, if any."""
        return self._config_file

    @property
    def warnings(self) -> list[str]:
        """Non-fatal findings (e.g. a secret written in plain text in the YAML file)."""
        return list(self._warnings)

    def secret_values(self) -> Iterator[str]:
        """Every secret value in these settings (for the log redaction)."""
        for section in (self.state, self.jira, self.itsm):
            for name in type(section).model_fields:
                value = getattr(section, name)
                if isinstance(value, SecretStr) and (section, name) != (self.state, "url"):
                    yield value.get_secret_value()
        if self.state.url is not None:
            # The URL is secret only through its password; redacting a whole sqlite path
            # would hide useful information for nothing.
            yield from _url_secrets(self.state.url.get_secret_value())


def _url_secrets(url: str) -> Iterator[str]:
    password = urlsplit(url).password
    if password:
        yield url
        yield password
        yield unquote(password)


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).absolute()


def _absolute_sqlite(url: str, base: Path) -> str:
    """Make ``sqlite:///relative.db`` relative to ``base``; other URLs are returned unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith("sqlite:////"):
        return url
    rest = url[len(prefix) :]
    if not rest or rest.startswith(":memory:") or rest.startswith("file:"):
        return url
    return prefix + str((base / rest).absolute())


# --------------------------------------------------------------------------------------------
# Loading and error reporting
# --------------------------------------------------------------------------------------------


def _secret_paths() -> set[tuple[str, str]]:
    paths: set[tuple[str, str]] = set()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, sub in model.model_fields.items():
                if sub.annotation == SecretStr | None or sub.annotation is SecretStr:
                    paths.add((section, name))
    return paths


def env_var_name(path: tuple[str, ...] | list[str]) -> str:
    """The environment variable that sets a settings path, e.g. ``BRIDGE_JIRA__TOKEN``."""
    return ENV_PREFIX + ENV_DELIMITER.join(p.upper() for p in path)


def credential_file_name(path: tuple[str, ...]) -> str | None:
    """The ``$CREDENTIALS_DIRECTORY`` file name that sets a settings path, if it is a secret."""
    for name, target in CREDENTIAL_FILES.items():
        if target == tuple(path):
            return name
    return None


def _plain(node: Any) -> Any:
    """ruamel's round-trip types -> plain Python, so pydantic sees ordinary values."""
    if isinstance(node, CommentedMap | dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq | list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _yaml_line(tree: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node of ``loc`` present in the YAML tree (key line)."""
    line: int | None = None
    node = tree
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _iter_leaves(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _iter_leaves(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _iter_leaves(value, (*prefix, str(index)))
    else:
        yield prefix, data


def _register_raw_secrets(*sources: Any) -> None:
    """Register every value that is, or looks like, a secret, before validation can fail:
    an invalid configuration must not lead to a log line that shows a password."""
    secret_paths = _secret_paths()
    for data in sources:
        for path, value in _iter_leaves(data):
            if not isinstance(value, str):
                continue
            if path[:2] == ("state", "url"):
                for secret in _url_secrets(value):
                    register_secret(secret)
            elif path[:2] in secret_paths or any(is_secret_key(p) for p in path):
                register_secret(value)


def _env_origins(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    origins: dict[tuple[str, ...], str] = {}
    for name in env:
        if name.upper().startswith(ENV_PREFIX) and name.upper() != CONFIG_ENV:
            path = tuple(name[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER))
            origins[path] = name
    return origins


def _env_data(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path, name in _env_origins(env).items():
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = env[name]
    return data


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Settings
    for part in loc:
        info = model.model_fields.get(str(part))
        annotation = info.annotation if info else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "path_type": "a file system path",
}


def _describe(error: Mapping[str, Any]) -> str:
    """``message (expected ...)`` for one pydantic error, never including the input value."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        typed = str(loc[-1])
        # difflib catches typos; the prefix test catches abbreviations ("misfire").
        hint = difflib.get_close_matches(typed, known, n=1) or [k for k in known if k.startswith(typed)][:1]
        message = "unknown key"
        if hint:
            message += f"; did you mean '{hint[0]}'?"
        return f"{message} (expected one of: {', '.join(known)})"
    if kind == "missing":
        return f"required setting is missing (expected a value in the config file or {env_var_name(loc)})"
    if kind == "literal_error":
        return f"invalid choice (expected {ctx.get('expected')})"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        return text if "(expected" in text else f"{text} (expected a valid value)"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        bound = next(iter(ctx.values()), "?")
        return f"{error['msg']} (expected {op} {bound})"
    expected = _EXPECTED.get(kind, "a valid value")
    return f"{error['msg']} (expected {expected})"


@dataclass
class _Origins:
    config_file: Path | None
    yaml_tree: Any
    env: dict[tuple[str, ...], str]
    credentials: dict[tuple[str, ...], str]

    def where(self, loc: tuple[Any, ...]) -> str:
        """Name the source of the value at ``loc``: the one with the highest precedence wins."""
        key = tuple(str(p) for p in loc)
        for origins, label in ((self.credentials, "{}"), (self.env, "env {}")):
            for length in range(len(key), 0, -1):
                if key[:length] in origins:
                    return label.format(origins[key[:length]])
        name = str(self.config_file) if self.config_file else "<defaults>"
        line = _yaml_line(self.yaml_tree, loc) if self.yaml_tree is not None else None
        if line:
            return f"{name}:{line}"
        # A section-level error (e.g. two settings that contradict each other) whose section
        # is not in the file: name the variables / credential files that set it.
        children = [o for k, o in sorted(self.credentials.items()) if k[: len(key)] == key]
        children += [f"env {o}" for k, o in sorted(self.env.items()) if k[: len(key)] == key]
        return ", ".join(children) if key and children else name


def resolve_config_path(config_path: Path | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The config file to read and whether it was named explicitly (then it must exist)."""
    if config_path is not None:
        return Path(config_path), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    return DEFAULT_CONFIG, False


def _read_yaml(path: Path) -> tuple[Any, dict[str, Any]]:
    yaml = YAML(typ="rt")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {path}", [f"{path}: cannot read the file: {exc.__class__.__name__}"]
        ) from None
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"invalid YAML in {path}", [f"{path}{line}: {problem} (expected valid YAML)"]
        ) from None
    except YAMLError as exc:
        raise ConfigError(
            f"invalid YAML in {path}", [f"{path}: {exc.__class__.__name__} (expected valid YAML)"]
        ) from None
    if tree is None:
        return None, {}
    if not isinstance(tree, CommentedMap):
        raise ConfigError(
            f"invalid config file {path}",
            [f"{path}:1: <root>: not a mapping (expected section: keys at top level)"],
        )
    return tree, _plain(tree)


def _plaintext_secret_warnings(tree: Any, data: dict[str, Any], config_file: Path) -> list[str]:
    warnings = []
    for section, key in sorted(_secret_paths()):
        value = (data.get(section) or {}).get(key) if isinstance(data.get(section), dict) else None
        if not isinstance(value, str) or not value:
            continue
        if (section, key) == ("state", "url") and not urlsplit(value).password:
            continue  # a URL without a password is not a secret worth warning about
        line = _yaml_line(tree, (section, key))
        cred = credential_file_name((section, key))
        warnings.append(
            f"{config_file}:{line}: {section}.{key}: secret written in plain text in the config file; "
            f"prefer the environment variable {env_var_name((section, key))} or the credential file "
            f"'{cred}' in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
        )
    return warnings


def load_settings(config_path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, merge and validate all sources; raise :class:`ConfigError` listing every problem.

    ``config_path`` is ``--config``; ``env`` defaults to ``os.environ`` (tests pass their own,
    which also supplies ``BRIDGE_CONFIG``, ``CREDENTIALS_DIRECTORY`` and ``STATE_DIRECTORY``).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path, explicit = resolve_config_path(config_path, environ)
    tree: Any = None
    data: dict[str, Any] = {}
    config_file: Path | None = None
    if path is not None and path.exists():
        config_file = path.absolute()
        tree, data = _read_yaml(config_file)
    elif explicit:
        raise ConfigError(
            f"config file {path} not found", [f"{path}: config file not found (expected a YAML file)"]
        )

    creds_dir = Path(environ["CREDENTIALS_DIRECTORY"]) if environ.get("CREDENTIALS_DIRECTORY") else None
    creds, cred_origins = _read_credentials(creds_dir)
    _register_raw_secrets(data, _env_data(environ), creds)

    ctx = _LoadContext(env=environ, yaml_data=data, config_file=config_file, credentials_dir=creds_dir)
    token = _context.set(ctx)
    try:
        settings = Settings()
    except ValidationError as exc:
        origins = _Origins(config_file, tree, _env_origins(environ), cred_origins)
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = tuple(error["loc"])
            dotted = ".".join(str(p) for p in loc) or "<root>"
            problems.append(f"{origins.where(loc)}: {dotted}: {_describe(error)}")
        raise ConfigError(f"{len(problems)} configuration problem(s)", problems) from None
    finally:
        _context.reset(token)

    settings._config_file = config_file
    if config_file is not None:
        settings._warnings = _plaintext_secret_warnings(tree, data, config_file)
    for value in settings.secret_values():
        register_secret(value)
    return settings
