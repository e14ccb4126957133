"""Each vendor's users, as :class:`bridge.users.resolve.Directory` asks for them (one call per question).

* ServiceNow: ``sys_user`` by ``sys_id`` (what ``assigned_to`` and ``caller_id`` hold) for the address,
  by ``email`` for the person (Table API, docs/connectors/servicenow.md).
* Jira: ``GET /user?accountId=`` (Cloud) or ``?username=`` (Data Center) for the address, and
  ``GET /user/search?query=`` (Cloud) or ``?username=`` (Data Center) for the person. Cloud returns
  ``emailAddress`` only when the account's profile visibility lets bridge's account see it
  (docs/connectors/jira.md, "Users").
* Request Tracker: ``GET /user/{login}`` for the address and a JSON search of ``/users`` by
  ``EmailAddress`` for the person (:mod:`bridge.connectors.rt.users`, docs/connectors/rt.md, "Users").
* The in-memory fakes have no directory here: their people map through ``users.table`` and
  ``users.fallback`` only.
"""

from __future__ import annotations

import itertools
from typing import Any

from bridge.connectors.jira import JiraConnector
from bridge.connectors.rt import RTConnector
from bridge.connectors.rt.users import RTUserLookup
from bridge.connectors.servicenow import ServiceNowConnector
from bridge.connectors.servicenow_query import literal
from bridge.errors import NotFoundError
from bridge.users.resolve import Directory


class ServiceNowDirectory:
    def __init__(self, connector: ServiceNowConnector) -> None:
        self.connector = connector

    def _rows(self, query: str, field: str) -> list[dict[str, Any]]:
        return list(itertools.islice(self.connector._pages("sys_user", query, f"sys_id,{field}"), 1))

    def email_of(self, handle: str) -> str | None:
        """The address of the active user with sys_id ``handle``; :class:`NotFoundError` when there is none."""
        rows = self._rows(f"sys_id={handle}^active=true", "email") if literal(handle) == handle else []
        if not rows:
            raise NotFoundError(f"servicenow has no active sys_user {handle!r}", side="servicenow")
        return str(rows[0].get("email") or "") or None

    def find_by_email(self, email: str) -> str | None:
        if literal(email) != email:
            return None
        rows = self._rows(f"email={email}^active=true^ORDERBYsys_created_on", "sys_id")
        return str(rows[0]["sys_id"]) if rows and rows[0].get("sys_id") else None


class JiraDirectory:
    def __init__(self, connector: JiraConnector) -> None:
        self.connector = connector

    def email_of(self, handle: str) -> str | None:
        params = {"accountId": handle} if self.connector.cloud else {"username": handle}
        found: Any = self.connector._json("GET", "user", params=params)
        email = found.get("emailAddress") if isinstance(found, dict) else None
        return str(email) if email else None

    def find_by_email(self, email: str) -> str | None:
        key = "accountId" if self.connector.cloud else "name"
        params = {"query": email} if self.connector.cloud else {"username": email}
        found: Any = self.connector._json("GET", "user/search", params={**params, "maxResults": 10})
        users = [u for u in found if isinstance(u, dict) and u.get(key) and u.get("active", True)] if found else []
        exact = [u for u in users if str(u.get("emailAddress", "")).lower() == email.lower()]
        chosen = exact or (users if len(users) == 1 else [])
        return str(chosen[0][key]) if len(chosen) == 1 else None


def directory_of(connector: object) -> Directory | None:
    """The directory of a connector bridge can ask about users, ``None`` for the others."""
    if isinstance(connector, ServiceNowConnector):
        return ServiceNowDirectory(connector)
    if isinstance(connector, JiraConnector):
        return JiraDirectory(connector)
    if isinstance(connector, RTConnector):
        return RTUserLookup(connector)
    return None
