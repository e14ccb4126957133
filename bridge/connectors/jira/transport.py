"""The Jira connector's transport: one :class:`~bridge.connectors.http.HttpClient` per site, Jira's error rules.

Every Jira request goes through the shared HTTP layer (budget, timeouts, TLS, the one retry policy,
per-endpoint counts, typed errors). What is Jira-specific is only what Jira's answers mean
(docs/connectors/jira.md, "Errors and authentication"):

* a success status (2xx/3xx) can still be a refused login: Jira serves the request as anonymous and
  says so in ``X-Seraph-LoginReason: AUTHENTICATED_FAILED`` (JRA-41559);
* a 403 with ``X-Seraph-LoginReason``/``X-Authentication-Denied-Reason`` naming a denial or a CAPTCHA
  is an authentication problem, not a permission one;
* Jira's error text is its ErrorCollection (``errorMessages`` + ``errors`` by field).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from bridge.connectors.base import Connector
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.connectors.jira.common import Deployment, jira_message, zone_info
from bridge.connectors.jira_workflow import WorkflowGraph
from bridge.errors import AuthError, ConfigError, ConnectorError, PermanentError

#: Jira's own success rule (any status below 400), so the answers count as they always did.
_OK = tuple(range(200, 400))
#: Headers every Jira request carries besides the shared client's (the ``jira`` library sent the same):
#: ``X-Atlassian-Token: no-check`` keeps Data Center's XSRF check from refusing a write.
_HEADERS = {"Cache-Control": "no-cache", "X-Atlassian-Token": "no-check"}


class _BearerAuth(requests.auth.AuthBase):
    """Data Center personal access token (``Authorization: Bearer``), kept out of the session's headers."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def auth_error(response: requests.Response) -> ConnectorError | None:
    """The authentication failure a Jira answer hides, or None: the shared client types the rest."""
    endpoint = urlsplit(response.url).path
    method = response.request.method if response.request is not None else None
    if response.status_code >= 400:
        reason = response.headers.get("X-Seraph-LoginReason", "") + response.headers.get(
            "X-Authentication-Denied-Reason", ""
        )
        if response.status_code == 403 and ("DENIED" in reason.upper() or "CAPTCHA" in reason.upper()):
            return AuthError(
                "jira refused the login (CAPTCHA or denied)",
                side="jira",
                method=method,
                endpoint=endpoint,
                status=403,
                vendor_message=jira_message(response),
            )
        return None
    if "AUTHENTICATED_FAILED" in response.headers.get("X-Seraph-LoginReason", ""):
        # Jira served the request as anonymous after refusing the credentials (JRA-41559).
        return AuthError(
            "jira refused the credentials (served as anonymous)",
            side="jira",
            method=method,
            endpoint=endpoint,
            status=response.status_code,
        )
    return None


class JiraTransport(Connector):
    """The state and the requests every part of the Jira connector shares (see :class:`JiraConnector`)."""

    def __init__(
        self,
        url: str,
        *,
        deployment: Deployment,
        token: SecretStr,
        email: str | None = None,
        http: HttpOptions | None = None,
        time_zone: str | None = None,
        overlap: timedelta = timedelta(minutes=2),
        page_size: int = 100,
        itsm_base_url: str | None = None,
        itsm_application: tuple[str, str] | None = None,
        max_transition_steps: int = 12,
        ca_bundle: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if deployment not in ("cloud", "datacenter"):
            raise ConfigError(f"jira deployment must be 'cloud' or 'datacenter', not {deployment!r}")
        if deployment == "cloud" and not email:
            raise ConfigError("Jira Cloud needs the account's email address with the API token")
        if not token.get_secret_value():
            raise ConfigError("the Jira token is empty")
        if time_zone is not None:
            zone_info(time_zone)
        self.url = url.rstrip("/")
        self.deployment: Deployment = deployment
        self.http = http or HttpOptions(base_url=self.url)
        self.overlap = overlap
        self.page_size = max(1, min(page_size, 100))
        self.itsm_base_url = itsm_base_url.rstrip("/") if itsm_base_url else None
        self.itsm_application = itsm_application
        self.max_transition_steps = max_transition_steps
        self._zone_override = time_zone
        # fields.py: the account and the field catalogue, each read once
        self._myself: dict[str, Any] | None = None
        self._fields_by_id: dict[str, dict[str, Any]] | None = None
        self._marker_fields: set[str] = set()
        # workflow.py: the transitions learnt per (project key, issue type name)
        self._graphs: dict[tuple[str, str], WorkflowGraph] = {}
        #: writes.py: the status (name, category key) a new issue starts in, per (project key, issue type name),
        #: learnt from the first read after a create; later creates of that pair are not read back
        self._initial_status: dict[tuple[str, str], tuple[str, str | None]] = {}
        #: created.py: when each initial status was learnt (monotonic seconds): it is trusted for an hour
        self._initial_learnt: dict[tuple[str, str], float] = {}
        #: workflow.py: each issue's status and workflow (project key, issue type name) as the last answer that
        #: read the issue showed it (insertion-ordered, bounded): set_status starts from it without a GET
        self._issue_states: dict[str, tuple[str, tuple[str, str]]] = {}
        # comments.py
        self._text_markers = False  # set when a DC server drops comment properties
        #: per issue of the last change search: its comments (id, created, JSON), or None when Jira's inline
        #: list was incomplete (see :meth:`JiraComments.comments_since`)
        self._comment_hints: dict[str, list[tuple[str, datetime, dict[str, Any] | None]] | None] = {}
        #: ids of the comments this process wrote (insertion-ordered, bounded)
        self._own_comments: dict[str, None] = {}
        secret = token.get_secret_value()
        #: names what :meth:`JiraFields.vendor_facts` describe: this site as this account (a digest, so a
        #: cache of them changes with the credentials and holds no secret)
        digest = hashlib.sha256(f"{self.url}\0{deployment}\0{email}\0{secret}".encode()).hexdigest()
        self.facts_key = f"jira:{digest[:24]}"
        auth: requests.auth.AuthBase | tuple[str, str] = (
            (email or "", secret) if deployment == "cloud" else _BearerAuth(secret)
        )
        self._client = HttpClient(
            "jira",
            self.http,
            auth=auth,
            headers=_HEADERS,
            vendor_message=jira_message,
            counter=self.calls,
            sleep=sleep,
            inspect=auth_error,
        )
        if ca_bundle is not None and self.http.verify_tls:
            self._client.session.verify = str(ca_bundle)
        self._api = f"{self.url}/rest/api/{'3' if deployment == 'cloud' else '2'}/"

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """One API call under the shared retry policy; ``path`` is relative to ``/rest/api/{3|2}/``, or
        site-relative when it starts with ``/rest/`` (other REST APIs of the same site, e.g. JSM's
        ``/rest/servicedeskapi/``). ``idempotent=False`` marks a write Jira would apply twice (create,
        comment): it is repeated only when Jira certainly did not process it (429, connection refused)."""
        url = self.url + path if path.startswith("/rest/") else self._api + path.lstrip("/")
        return self._client.request(
            method, url, params=dict(params) if params else None, json=body, ok=_OK, idempotent=idempotent
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PermanentError(
                "jira answered with something that is not JSON",
                side="jira",
                method=method,
                endpoint=urlsplit(response.url).path,
                status=response.status_code,
            ) from None

    def close(self) -> None:
        self._client.close()
