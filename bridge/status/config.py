"""The ``status_page:`` section: a read-only HTML page on the metrics listener, off by default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StatusPageSettings(BaseModel):
    """``enabled`` serves the page at ``/`` of ``metrics.bind``. Only loopback clients are answered unless
    ``allow_remote``; ``auth: basic`` (``username`` + ``password_credential``) or ``auth: bearer``
    (``token_credential``) protect it, their secrets read from credential files."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    allow_remote: bool = False
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str | None = None
    password_credential: str | None = None
    token_credential: str | None = None
    recent_links: int = Field(default=10, ge=0, le=200)
    actions_per_link: int = Field(default=5, ge=1, le=100)
    trends_since_days: int = Field(default=30, ge=1, le=3650)

    @model_validator(mode="after")
    def _auth_complete(self) -> StatusPageSettings:
        if self.auth == "basic" and not (self.username and self.password_credential):
            raise ValueError("auth: basic needs username and password_credential")
        if self.auth == "bearer" and not self.token_credential:
            raise ValueError("auth: bearer needs token_credential")
        return self
