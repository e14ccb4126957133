"""Values of the ServiceNow Table API: error envelopes, date literals, stored strings, bridge's journal
markers. Split from :mod:`bridge.connectors.servicenow`, which re-exports them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from bridge.model import MARKER_RE, FieldValue, Marker, Ref
from bridge.vendors import servicenow as facts

DATE_FORMAT = facts.DATE_FORMAT


def sn_message(response: requests.Response) -> str | None:
    """ServiceNow's ``{"error": {"message", "detail"}, "status": "failure"}`` as one line [KB1479016]."""
    body = response.json()  # ValueError for non-JSON: the HTTP layer falls back to the plain text
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise ValueError("not a ServiceNow error envelope")
    parts = [" ".join(str(error.get(k) or "").split()) for k in ("message", "detail")]
    return ": ".join(p for p in parts if p) or None


def format_time(value: datetime) -> str:
    """A UTC instant as an encoded-query literal, floored to the second (ServiceNow's precision)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: bridge only handles timezone-aware timestamps")
    return value.astimezone(UTC).strftime(DATE_FORMAT)


def parse_time(text: str) -> datetime:
    """``yyyy-MM-dd HH:mm:ss`` (UTC with ``display_value=false``) as an aware datetime."""
    return datetime.strptime(text.strip(), DATE_FORMAT).replace(tzinfo=UTC)


def to_servicenow(value: FieldValue) -> str:
    """A normalised value as the string ServiceNow stores (``3.0`` → ``"3"``, lists as glide lists)."""
    return facts.encode(value)


def _raw(value: Any) -> str:
    """A response value as a string (a reference object, should one appear, gives its sys_id)."""
    if isinstance(value, dict):
        return str(value.get("value") or "")
    return "" if value is None else str(value)


def trailing_marker(text: str) -> Marker | None:
    """Bridge's marker when it is the last line of ``text`` (as :meth:`add_comment` writes it).

    Only the last line counts: a person quoting a mirrored note mid-text must not make their own
    entry look like bridge's.
    """
    lines = text.rstrip().splitlines()
    if not lines or not MARKER_RE.fullmatch(lines[-1].strip()):
        return None
    return Marker.find(lines[-1])


def marker_comment_id(ref: Ref, marker: Marker) -> str:
    """The id of a journal entry bridge wrote: from its marker, so :meth:`ServiceNowConnector.add_comment`
    needs no read to name the entry it made, and every later read names it the same way."""
    return f"{ref.id}:{marker.origin_id}"
