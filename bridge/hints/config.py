"""The ``hints`` settings section (a model of its own, like ``notify``, so the settings schema stays small)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

_BIND = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]\s]+):(?P<port>\d{1,5})$")


def _bind(value: str | None) -> str | None:
    if value is None:
        return None
    match = _BIND.match(value)
    if not match or not 0 <= int(match.group("port")) < 65536:  # 0: any free port (tests, the bench)
        raise ValueError("not a bind address (expected HOST:PORT such as 127.0.0.1:9465)")
    return value


class HintsSettings(BaseModel):
    """Webhook hints; off unless ``bind`` is set. Every secret comes from a credential file
    (``hints_jira_secret``, ``hints_jira_url_token``, ``hints_itsm_token``) or the environment; an
    endpoint whose secret is not set answers 404, so nothing is ever accepted unauthenticated."""

    model_config = ConfigDict(extra="forbid")

    bind: Annotated[str | None, AfterValidator(_bind)] = None
    #: the Jira webhook's secret: Jira signs each body with it (``X-Hub-Signature: sha256=…``)
    jira_secret: SecretStr | None = None
    #: for Jira deployments that cannot sign: a token the webhook URL carries (``?token=…``)
    jira_url_token: SecretStr | None = None
    #: the bearer token the ServiceNow REST message, the RT scrip or the JSM rule sends
    itsm_token: SecretStr | None = None
    #: how long a mini-cycle waits after the first hint, gathering the hints that follow it
    debounce_seconds: float = Field(default=0.3, ge=0, le=60)
    #: at most this many items per mini-cycle; more wait for the next one (or for the poll)
    max_items: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _some_secret(self) -> HintsSettings:
        if self.bind is not None and not (self.jira_secret or self.jira_url_token or self.itsm_token):
            raise ValueError(
                "hints.bind is set but no secret is (expected hints.jira_secret, hints.jira_url_token or "
                "hints.itsm_token, e.g. as the credential file hints_jira_secret)"
            )
        return self
