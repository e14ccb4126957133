"""What a hint request must prove and what it names: signature and token checks, and the items.

Jira (``POST /hooks/jira``): Jira Cloud signs an admin webhook that has a secret with HMAC-SHA256 over
the raw body, sent as ``X-Hub-Signature: sha256=<hex>`` (docs/connectors/jira.md, "Webhooks"); where a
deployment cannot sign, the URL carries a secret ``token`` instead. The body is Jira's webhook payload:
``webhookEvent`` and ``issue.id``/``issue.key`` (issue and comment events carry the issue).

ITSM (``POST /hooks/itsm``): ``Authorization: Bearer <token>`` and a JSON body naming one record, in
whatever shape the sender finds natural — ServiceNow ``{"table": "incident", "sys_id": "…", "number":
"INC…"}``, RT ``{"queue": "General", "ticket": 42}``, JSM ``{"issue": {"id": "…", "key": "SD-1"}}``,
or the neutral ``{"kind": …, "id": …, "key": …}``; ``"mapping"`` may name the mapping. Every comparison
of a secret is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Hub-Signature"


class Malformed(ValueError):
    """The request is authentic but names no item bridge can read (answered 400)."""


@dataclass(frozen=True, slots=True)
class Hint:
    """One item a webhook says changed. ``kind``: the ITSM record type (table, queue) when known."""

    side: str  # "jira" or "itsm"
    id: str
    key: str
    kind: str | None = None
    mapping: str | None = None


def _same(given: str, secret: SecretStr) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), secret.get_secret_value().encode("utf-8"))


def jira_authentic(
    body: bytes, headers: dict[str, str], query: str, secret: SecretStr | None, url_token: SecretStr | None
) -> bool:
    """True when the body's signature matches ``secret`` or the URL's token matches ``url_token``."""
    if secret is not None:
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        method, _, digest = signature.partition("=")
        if method.lower() == "sha256" and digest:
            expected = hmac.new(secret.get_secret_value().encode("utf-8"), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(digest.strip().lower().encode(), expected.encode()):
                return True
    if url_token is not None:
        tokens = parse_qs(query).get("token", [])
        if any(_same(token, url_token) for token in tokens):
            return True
    return False


def itsm_authentic(headers: dict[str, str], token: SecretStr | None) -> bool:
    """True when ``Authorization: Bearer <token>`` carries ``token``."""
    if token is None:
        return False
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(given) and _same(given.strip(), token)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Malformed("the body is not a JSON object")
    return data


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def jira_hint(body: bytes) -> Hint | None:
    """The issue a Jira webhook names; ``None`` for an event about no issue (a project, a version)."""
    data = _json(body)
    issue = data.get("issue")
    if not isinstance(issue, dict):
        if not isinstance(data.get("webhookEvent"), str):
            raise Malformed("not a Jira webhook payload (expected webhookEvent and issue)")
        return None
    issue_id, key = _text(issue.get("id")), _text(issue.get("key"))
    if issue_id is None and key is None:
        raise Malformed("the webhook's issue has neither id nor key")
    return Hint("jira", issue_id or key or "", key or issue_id or "")


def itsm_hint(body: bytes) -> Hint:
    """The record an ITSM sender names (see the module docstring for the shapes accepted)."""
    data = _json(body)
    raw_issue = data.get("issue")
    issue: dict[str, Any] = raw_issue if isinstance(raw_issue, dict) else {}
    record_id = _text(data.get("id")) or _text(data.get("sys_id")) or _text(data.get("ticket")) or _text(
        issue.get("id")
    )
    key = _text(data.get("key")) or _text(data.get("number")) or _text(issue.get("key"))
    if record_id is None:
        if key is None:
            raise Malformed("the body names no record (expected id, sys_id, ticket or issue.id)")
        record_id = key
    kind = _text(data.get("kind")) or _text(data.get("table")) or _text(data.get("queue"))
    if kind is None and isinstance(issue.get("fields"), dict):
        project = issue["fields"].get("project")
        kind = _text(project.get("key")) if isinstance(project, dict) else None
    ticket = _text(data.get("ticket"))
    if key is None:
        key = f"RT#{ticket}" if ticket is not None and record_id == ticket else record_id
    return Hint("itsm", record_id, key, kind, _text(data.get("mapping")))
