"""The settings model: sections and fields, their defaults and validation.

Every section forbids unknown keys, so a typo is an error rather than a silently ignored setting. Every
secret is a :class:`~pydantic.SecretStr`: ``str()``/``repr()`` of the settings never shows one. Relative
paths are made absolute against the config file's directory by :class:`Settings` itself, which reads
what :mod:`bridge.settings.loading` found through :func:`bridge.settings.sources.current_context`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bridge.hints.config import HintsSettings
from bridge.notify.config import NotifySettings
from bridge.settings.sources import (
    ENV_DELIMITER,
    ENV_PREFIX,
    DictSource,
    MappingEnvSource,
    current_context,
    read_credentials,
)
from bridge.status.config import StatusPageSettings
from bridge.trends.config import TrendsSettings

DEFAULT_STATE_FILE = "bridge.sqlite3"


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

    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=30.0, gt=0)

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
    # Done journal rows of links that no longer sync (closed, forgotten) are deleted after this many days,
    # at most once a day; an open link keeps its whole audit trail (docs/operations.md §11).
    journal_retention_days: int = Field(default=90, ge=1, le=36500)

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

    interval_seconds: int = Field(default=60, ge=1)
    misfire_grace_seconds: int | None = Field(default=None, ge=1)
    # Where a side with no cursor yet starts reading once the mapping's first cycle is past (an empty
    # route): this many days before now, so it costs one empty page per cycle, not the whole table
    # (docs/operations.md, "Cursors and the overlap window"). `bridge sync --since` reaches further back.
    backfill_window_days: float = Field(default=7, gt=0, le=3650)

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
    requests_per_second: float = Field(default=5.0, gt=0, le=100)
    # How long Jira's search index may lag behind a write: an idle cycle's cursor stays this far
    # behind the time of its search (docs/operations.md, "Cursors and the overlap window").
    index_lag_seconds: float = Field(default=5.0, ge=0, le=600)


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
    requests_per_second: float = Field(default=5.0, gt=0, le=100)
    # How long the service desk's search may lag behind a write (see jira.index_lag_seconds).
    index_lag_seconds: float = Field(default=2.0, ge=0, le=600)
    # Request Tracker only: the zone RT reads TicketSQL date literals in (its $Timezone, or the bridge
    # user's own preference); `bridge doctor` verifies it. See docs/connectors/rt.md.
    timezone: str | None = None
    # ServiceNow only: send a cycle's change search and its journal read as one Batch API call; false
    # sends them as two (docs/connectors/servicenow.md, "Batch API").
    batch_api: bool = True
    # True when the account bridge signs in with is bridge's alone (no person uses it): every comment it
    # wrote is then bridge's own, even a customer reply without a marker, so nothing is mirrored back
    # after a lost state store. Off by default: on a shared account a person's comment would be ignored.
    # `bridge doctor` says whether the account's comments look dedicated. See docs/mappings.md, "comments".
    dedicated_account: bool = False
    # Request Tracker only: the name of a transaction custom field an RT admin created for bridge and
    # applied to the queues (Admin → Custom Fields, "Applies to: Ticket Transactions"). Bridge writes the
    # origin of each mirror there, invisible in the requestor's e-mail. See docs/connectors/rt.md.
    transaction_custom_field: str | None = None

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
    regex_timeout_ms: float = Field(default=50, gt=0, le=10_000)
    """How long one mapping regex (route ``matches``, ``comments.skip``) may search one value."""


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


class EngineSettings(_Section):
    """How a cycle applies its actions. Both sides at once, two lanes each, by default: a backlog is then
    bound by the busier vendor's rate limit instead of both sides' calls added up, and a second lane hides
    a vendor's latency (docs/operations.md, "Performance")."""

    #: apply the ITSM side's and the Jira side's actions of a cycle at the same time
    parallel_sides: bool = True
    #: concurrent lanes per side (each link stays in one lane, so its actions keep their order)
    workers_per_side: int = Field(default=2, ge=1, le=8)
    #: about how many actions one cycle of a mapping applies; a larger backlog drains over the next cycles,
    #: which the daemon starts at once, while a change made meanwhile is still mirrored by the next cycle
    #: (docs/operations.md, "Backlogs and the cycle budget"); 0 applies everything in one cycle
    cycle_budget: int = Field(default=200, ge=0, le=1_000_000)
    #: about how long one cycle of a mapping may take, seconds: past it the cycle stops between actions and
    #: leaves the rest pending for the next cycle, which the daemon starts at once. A change made as a cycle
    #: starts waits for that cycle and is applied first by the next, so this plus one search must stay under
    #: the interval + 5 s (docs/operations.md, "Backlogs and the cycle budget"); 0: no time bound
    cycle_seconds: float = Field(default=20.0, ge=0, le=86_400)


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
    engine: EngineSettings = Field(default_factory=EngineSettings)
    hints: HintsSettings = Field(default_factory=HintsSettings)
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
        ctx = current_context()
        creds, _ = read_credentials(ctx.credentials_dir)
        return (
            init_settings,
            DictSource(settings_cls, creds),
            MappingEnvSource(settings_cls, ctx.env),
            DictSource(settings_cls, ctx.yaml_data),
        )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Relative paths are relative to the config file's directory, not to wherever the
        daemon happens to be started from."""
        ctx = current_context()
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
        for section in (self.state, self.jira, self.itsm, self.hints):
            for name in type(section).model_fields:
                value = getattr(section, name)
                if isinstance(value, SecretStr) and (section, name) != (self.state, "url"):
                    yield value.get_secret_value()
        if self.state.url is not None:
            # The URL is secret only through its password; redacting a whole sqlite path
            # would hide useful information for nothing.
            yield from url_secrets(self.state.url.get_secret_value())


def url_secrets(url: str) -> Iterator[str]:
    """What to redact of a URL: the URL itself and its password (as written and decoded), if it has one."""
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


def secret_paths() -> set[tuple[str, str]]:
    """The (section, field) of every secret setting (their values are redacted from every log line)."""
    paths: set[tuple[str, str]] = set()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, sub in model.model_fields.items():
                if sub.annotation == SecretStr | None or sub.annotation is SecretStr:
                    paths.add((section, name))
    return paths
