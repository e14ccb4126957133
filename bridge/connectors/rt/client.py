"""The REST2 client under :class:`~bridge.connectors.rt.RTConnector`: settings, authentication, JSON
answers, list paging, and the per-queue custom field cache that writes and checks share.

Why bridge speaks REST2 itself rather than through the PyPI ``rt`` package: the package docstring.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote as url_quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from bridge.connectors.base import Connector
from bridge.connectors.http import HttpClient, HttpOptions
from bridge.connectors.rt_parse import next_page, rt_vendor_message, ticket_id
from bridge.errors import ConfigError, ConnectorError, PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side

MAX_PER_PAGE = 100  # RT caps per_page at 100 (and silently turns 0 or junk into 20)
#: Core fields every search fetches: what Record needs, and what the version digest covers (fixed, so a
#: ticket's version does not depend on which fields a caller asked for).
BASE_FIELDS = ("Subject", "Status", "Queue", "LastUpdated", "LastUpdatedBy")
VERSION_FIELDS = (
    "Status", "Subject", "Queue", "Owner", "Priority", "FinalPriority", "Type", "Due", "Starts", "Started",
    "Resolved", "Told", "TimeWorked", "TimeLeft", "LastUpdatedBy", "Requestor", "Cc", "AdminCc", "CustomFields",
)
COMMENT_TYPES = {"Comment": "comment", "Correspond": "correspond"}
CHANNELS = {"comment": "comment", "correspond": "correspond"}
#: Link type names usable as ``links.itsm_url_field``: the Jira URL becomes an RT link of that type.
LINK_FIELDS = ("RefersTo", "DependsOn")
IDS_PER_QUERY = 50  # keeps TransactionSQL URLs well below common proxy limits
#: Times a change search is re-read when a ticket moved between two of its pages (see search_changed).
MAX_REPAIR_PASSES = 2


class RTClient(Connector):
    """State and HTTP plumbing shared by the reading, writing and checking halves of the RT connector."""

    def __init__(
        self,
        url: str,
        *,
        token: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        options: HttpOptions | None = None,
        timezone: str = "UTC",
        bridge_user: str | None = None,
        page_size: int = MAX_PER_PAGE,
        dedicated_account: bool = False,
        origin_field: str | None = None,
    ) -> None:
        """``url`` is RT's web root (``https://rt.example.com`` or Debian's ``…/rt``), not the REST2 path.

        Authenticate with an auth ``token`` (sent as ``Authorization: token …``) or ``username`` and
        ``password`` (basic auth). ``timezone`` is RT's ``$Timezone`` (or the bridge user's own time zone
        preference, which RT uses instead): TicketSQL date literals are read in it. ``bridge_user`` is the
        RT login bridge writes as; it identifies bridge's own changes (``Item.updated_by``) and is what
        :meth:`check` verifies. ``page_size`` (1..100) is the ``per_page`` of every list request.
        ``dedicated_account`` (``itsm.dedicated_account``): the bridge user is bridge's alone, so a
        transaction it created is bridge's own (:attr:`bridge.model.Comment.own`) even without a marker.
        ``origin_field`` (``itsm.transaction_custom_field``): a transaction custom field an RT admin made
        for bridge; every comment and reply bridge writes names its origin there, invisibly.
        """
        super().__init__()
        if token is None and (username is None or password is None):
            raise ConfigError("Request Tracker needs an auth token, or a username and a password")
        try:
            self.timezone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone for Request Tracker: {timezone!r}") from None
        self.web_url = url.rstrip("/")
        self.rest_url = f"{self.web_url}/REST/2.0"
        self.bridge_user = bridge_user
        self.dedicated_account = dedicated_account
        self.origin_field = origin_field or None
        if not 1 <= page_size <= MAX_PER_PAGE:
            raise ConfigError(f"Request Tracker page size must be 1..{MAX_PER_PAGE}, not {page_size}")
        self.page_size = page_size
        options = replace(options, base_url=self.rest_url) if options else HttpOptions(base_url=self.rest_url)
        headers: dict[str, str] = {}
        auth: tuple[str, str] | None = None
        if token is not None:
            headers["Authorization"] = f"token {token.get_secret_value()}"
        else:
            assert username is not None
            assert password is not None
            auth = (username, password.get_secret_value())
        self.http = HttpClient(
            "rt", options, auth=auth, headers=headers, vendor_message=rt_vendor_message, counter=self.calls
        )
        self._queue_fields: dict[str, dict[str, int]] = {}
        self._mappings: dict[str, MappingSpec] = {}  # by queue: whose link fields get() reads
        self._time_zone_checked = False

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """Build from :class:`bridge.settings.Settings` (``itsm.kind: rt``) or its ``itsm`` section alone.

        The time zone comes from ``itsm.timezone`` when the settings carry one, else UTC (``bridge doctor``
        verifies it against RT); the bridge user is ``itsm.username``, or the owner of the auth token
        (tokens are ``1-<user id>-<secret>``; RT resolves a numeric id as well as a login).
        """
        itsm = getattr(settings, "itsm", settings)
        token = itsm.token
        bridge_user = itsm.username or getattr(itsm, "bridge_user", None)
        if bridge_user is None and token is not None:
            parts = token.get_secret_value().split("-")
            bridge_user = parts[1] if len(parts) == 3 and parts[1].isdigit() else None
        options = HttpOptions(
            base_url=str(itsm.url),
            connect_timeout=itsm.timeout_seconds.connect,
            read_timeout=itsm.timeout_seconds.read,
            verify_tls=itsm.verify_tls,
            requests_per_second=itsm.requests_per_second,
        )
        return cls(
            str(itsm.url),
            token=token,
            username=itsm.username if token is None else None,
            password=itsm.password,
            options=options,
            timezone=getattr(itsm, "timezone", None) or "UTC",
            bridge_user=bridge_user,
            dedicated_account=bool(getattr(itsm, "dedicated_account", False)),
            origin_field=getattr(itsm, "transaction_custom_field", None),
        )

    def _bridge_login(self) -> str:
        """The bridge user's login; a numeric id (taken from the auth token) is resolved once."""
        if self.bridge_user and self.bridge_user.isdigit():
            try:
                user = self._json("GET", f"user/{self.bridge_user}") or {}
                self.bridge_user = str(user.get("Name") or self.bridge_user)
            except ConnectorError:
                return self.bridge_user
        return self.bridge_user or ""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PermanentError(
                "rt answered something that is not JSON (is the URL RT's web root?)",
                side="rt",
                method=method,
                endpoint=path.split("?")[0],
                status=response.status_code,
            ) from None

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], datetime | None]]:
        """Each page of a REST2 list (``GET`` only: a POSTed search loses its query in ``next_page``)."""
        page = 1
        while True:
            response = self.http.request("GET", path, params={**params, "page": page, "per_page": self.page_size})
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise PermanentError("rt answered a list request without items", side="rt", endpoint=path)
            yield data, server_time(response.headers.get("Date"))
            following = next_page(data, page, self.page_size)
            if following is None or not data["items"]:
                return
            page = following

    def _ref(self, queue: str, rt_id: str) -> Ref:
        return Ref(
            side=Side.ITSM,
            kind=queue,
            id=rt_id,
            key=f"RT#{rt_id}",
            url=f"{self.web_url}/Ticket/Display.html?id={rt_id}",
        )

    def _custom_fields_of(self, queue: str) -> dict[str, int]:
        """The ticket custom fields applied to ``queue`` that the bridge user can see (cached)."""
        if queue not in self._queue_fields:
            data = self._json("GET", f"queue/{url_quote(queue, safe='')}")
            fields: dict[str, int] = {}
            for cf in (data or {}).get("TicketCustomFields") or []:
                if isinstance(cf, dict) and cf.get("name"):
                    fields[str(cf["name"])] = int(ticket_id(cf.get("id")))
            self._queue_fields[queue] = fields
        return self._queue_fields[queue]

    def close(self) -> None:
        self.http.close()


def chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    """``values`` in lists of at most ``size``: TransactionSQL and attachment searches take bounded ID lists."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def server_time(header: str | None) -> datetime | None:
    """RT's clock from an HTTP ``Date`` header: comment and page times come from the server, not from us."""
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        return None
