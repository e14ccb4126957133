"""The ``notify:`` section of the configuration.

Secrets (the webhook's HMAC key, the SMTP password, Slack's and Teams' webhook URLs, which are bearer
secrets themselves) are never written in the YAML file: each target names a *credential file*, read from
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) or given as an absolute path, into a
:class:`~pydantic.SecretStr` by :func:`read_credential`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bridge.errors import ConfigError


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: how the target is named in logs and in ``bridge doctor`` (never its URL: it may be a secret)
    name: str | None = None


class WebhookTarget(_Target):
    """A generic webhook: a JSON ``POST`` signed with HMAC-SHA256 (``X-Bridge-Signature``)."""

    kind: Literal["webhook"]
    url: str
    secret_credential: str = Field(description="credential file holding the HMAC key")


class SlackTarget(_Target):
    """A Slack incoming webhook; its URL is the secret, so it comes from a credential file."""

    kind: Literal["slack"]
    url_credential: str


class TeamsTarget(_Target):
    """A Microsoft Teams incoming webhook (or Workflows webhook); URL from a credential file."""

    kind: Literal["teams"]
    url_credential: str


class EmailTarget(_Target):
    """E-mail over SMTP: STARTTLS on 587 by default, ``tls: implicit`` for 465, ``none`` only on loopback."""

    kind: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password_credential: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0)


Target = Annotated[WebhookTarget | SlackTarget | TeamsTarget | EmailTarget, Field(discriminator="kind")]


class NotifySettings(BaseModel):
    """Who is told, when, and how often at most. No target: no notification (the default)."""

    model_config = ConfigDict(extra="forbid")

    targets: list[Target] = Field(default_factory=list)
    #: a mapping is stale when its last successful cycle is older than this; ``null``: 3 intervals
    stale_after_seconds: int | None = Field(default=None, ge=1)
    #: per-mapping staleness limits overriding ``stale_after_seconds``
    mapping_stale_after_seconds: dict[str, int] = Field(default_factory=dict)
    #: more events than this in one check are sent as one summary message
    summary_after: int = Field(default=3, ge=1)
    #: at most ``max_messages`` messages per ``window_seconds``; the rest wait and go out as a summary
    max_messages: int = Field(default=10, ge=1)
    window_seconds: int = Field(default=3600, ge=1)

    @property
    def enabled(self) -> bool:
        return bool(self.targets)


def read_credential(name: str, environ: Mapping[str, str] | None = None) -> SecretStr:
    """The secret in credential file ``name``: an absolute path, or a name in ``$CREDENTIALS_DIRECTORY``.
    Trailing newlines (``echo secret > file``) are never part of a secret."""
    env = os.environ if environ is None else environ
    path = Path(name)
    if not path.is_absolute():
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                f"notify: credential {name!r} needs $CREDENTIALS_DIRECTORY",
                ["give an absolute path, or run under systemd with LoadCredential= (see docs/operations.md)"],
            )
        path = Path(directory) / name
    try:
        return SecretStr(path.read_text(encoding="utf-8").rstrip("\r\n"))
    except OSError as exc:
        raise ConfigError(f"notify: cannot read credential file {path}: {exc.strerror or exc}") from None
