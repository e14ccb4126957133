"""Request Tracker users as the ``users:`` section asks for them: a login's address, an address's login.

RT 5 REST2 (``docs/connectors/rt.md``, "Users"; RT's own REST2 documentation, "Users"):

* ``GET /REST/2.0/user/{login}`` reads one user. For an account without ``AdminUsers`` RT shows only
  the fields of ``$UserSummaryExtraInfo`` (default ``RealName, EmailAddress, Name``): enough here.
* ``GET /REST/2.0/users?query=<JSON>`` searches users with a JSON search
  (``[{"field": "EmailAddress", "value": …}]``). Without ``AdminUsers`` only the same summary fields are
  searchable, ``EmailAddress`` among them; both need a privileged account, which the bridge user is.
* ``Nobody`` is RT's owner of an unowned ticket: not a person, never looked up.

Why ``GET`` with ``query=`` rather than the ``POST`` form of the search: both are documented, and a
``GET`` is safe to retry on a network error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from bridge.errors import NotFoundError

if TYPE_CHECKING:
    from bridge.connectors.rt.client import RTClient

#: RT's pseudo-owner of unowned tickets (``RT::Nobody``): an empty person, not an account.
NOBODY = "Nobody"


class RTUserLookup:
    """The user questions bridge asks RT, one REST2 call each."""

    nobody = NOBODY

    def __init__(self, connector: RTClient) -> None:
        self.connector = connector

    def email_of(self, handle: str) -> str | None:
        """The address of login ``handle`` (``None``: it has none); :class:`NotFoundError` for no such user."""
        if not handle or handle == NOBODY:
            raise NotFoundError(f"rt has no user {handle!r}", side="rt")
        found: Any = self.connector._json("GET", f"user/{url_quote(handle, safe='')}")
        if not isinstance(found, dict) or found.get("Disabled") in (1, "1"):
            raise NotFoundError(f"rt has no enabled user {handle!r}", side="rt")
        email = str(found.get("EmailAddress") or "").strip()
        return email or None

    def find_by_email(self, email: str) -> str | None:
        """The login of the one user with address ``email`` (RT compares addresses case-insensitively)."""
        query = json.dumps([{"field": "EmailAddress", "operator": "=", "value": email}])
        found: Any = self.connector._json(
            "GET", "users", params={"query": query, "fields": "Name,EmailAddress", "per_page": 10}
        )
        items = found.get("items") if isinstance(found, dict) else None
        logins = {str(u["Name"]) for u in items or [] if isinstance(u, dict) and u.get("Name")
                  and str(u.get("EmailAddress") or "").lower() == email.lower()}
        logins.discard(NOBODY)
        return logins.pop() if len(logins) == 1 else None
