"""``bridge doctor`` / ``check --online``: does anybody but bridge write with bridge's ITSM account?

With ``itsm.dedicated_account: true`` every comment bridge's account wrote is bridge's own, even one
without a marker (a reply the customer reads carries none): that is what keeps such a reply from being
mirrored back after the state database is lost (docs/mappings.md, "comments"). It is only safe when no
person uses the account, because a person's comment made with it would never be mirrored. Bridge
writes its marker on every **internal** comment (work notes, RT comments), so an internal comment by
the account without one is the sign of a person (or of a comment made before bridge used the account).
One search of the newest such comments per check; nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.connectors.base import CheckResult
from bridge.connectors.rt_query import quote
from bridge.errors import ConnectorError
from bridge.model import Marker

if TYPE_CHECKING:
    from bridge.connectors.rt.checks import RTChecks
    from bridge.connectors.servicenow_checks import ServiceNowChecks

#: How many of the account's newest internal comments are looked at.
SAMPLE = 20


def account_result(account: str | None, dedicated: bool, stray: str | None) -> CheckResult:
    """The doctor line for ``account``: ``stray`` names an internal comment by it without bridge's marker."""
    if not account:
        if not dedicated:
            return CheckResult(True, "itsm.dedicated_account: false (bridge's account name is unknown)")
        return CheckResult(False, "itsm.dedicated_account: bridge knows the name of its account", (
            "with a token bridge cannot tell which account it writes as: set itsm.username (basic auth), "
            "or set itsm.dedicated_account: false"))
    if stray is None:
        state = "true" if dedicated else "false (it could be true)"
        return CheckResult(True, f"itsm.dedicated_account: {state}: every recent internal comment by "
                                 f"{account!r} carries bridge's marker")
    if not dedicated:
        return CheckResult(True, f"itsm.dedicated_account: false: {account!r} wrote {stray} without bridge's "
                                 "marker (a person uses the account, or wrote before bridge did)")
    return CheckResult(False, f"itsm.dedicated_account: {account!r} is bridge's alone", (
        f"{account!r} wrote {stray} without bridge's marker: a person seems to use the account, and with "
        "itsm.dedicated_account: true their comments are never mirrored. Give bridge an account of its own, "
        "or set itsm.dedicated_account: false"))


def servicenow_check(sn: ServiceNowChecks) -> CheckResult:
    """The newest work note by bridge's ``user_name`` whose text lacks a marker (``valueNOT LIKE``)."""
    account = sn.api_user
    if not account:
        return account_result(None, sn.dedicated_account, None)
    query = "^".join([f"sys_created_by={account}", "element=work_notes", "valueNOT LIKE[bridge:",
                      "ORDERBYDESCsys_created_on"])
    try:
        rows = sn._result(sn.http.request("GET", sn._path("sys_journal_field"), params={
            "sysparm_query": query, "sysparm_fields": "element_id,sys_created_on", "sysparm_limit": 1}))
    except ConnectorError as exc:
        return CheckResult(True, f"itsm.dedicated_account: not verified ({exc})")
    row = rows[0] if isinstance(rows, list) and rows else None
    stray = f"a work note on {row.get('element_id')} at {row.get('sys_created_on')}" if isinstance(row, dict) else None
    return account_result(account, sn.dedicated_account, stray)


def rt_check(rt: RTChecks) -> CheckResult:
    """The newest RT comments (``Type = 'Comment'``, internal) by the bridge user, read for a marker."""
    account = rt._bridge_login()
    if not account:
        return account_result(None, rt.dedicated_account, None)
    query = f"ObjectType = 'RT::Ticket' AND Type = 'Comment' AND Creator = {quote(account)}"
    try:
        data = rt._json("GET", "transactions", params={"query": query, "fields": "ObjectId,Created",
                                                        "orderby": "id", "order": "DESC", "per_page": SAMPLE})
        items = [t for t in (data or {}).get("items") or [] if isinstance(t, dict)]
        texts = rt._transaction_texts([str(t.get("id")) for t in items]) if items else {}
    except ConnectorError as exc:
        return CheckResult(True, f"itsm.dedicated_account: not verified ({exc})")
    stray = next((f"comment {t.get('id')} on ticket {t.get('ObjectId')}" for t in items
                  if Marker.find(texts.get(str(t.get("id")), "")) is None), None)
    return account_result(account, rt.dedicated_account, stray)


__all__ = ["SAMPLE", "account_result", "rt_check", "servicenow_check"]
