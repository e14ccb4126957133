"""Reading RT REST2 answers: ids, dates, users, custom fields, list pages and "200 but failed" messages.

REST2 is inconsistent in small ways that would otherwise leak into the engine: a ticket id is the string
``"33"`` in lists and the number ``33`` in a single record; a date that was never set is
``"1970-01-01T00:00:00Z"``; users and queues are ``{"id": …, "_url": …}`` objects; custom fields arrive as a
list of ``{"name", "values"}``; an empty page count is the float ``0.0`` and, for collections the account
may not see entirely (transactions, attachments for a non-superuser), ``null`` with no ``next_page``. And
writes answer 200/201 with a *list of messages* that may say the write did not happen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from bridge.model import FieldValue, normalise
from bridge.vendors import rt as rt_facts

NEVER = rt_facts.NEVER

# Messages RT puts in a 200/201 answer when it did NOT apply a change. Matched case-insensitively.
_FAILURE_PATTERNS = (
    r"isn't a valid",
    r"is not a valid",
    r"you can't",
    r"can not be",
    r"cannot be",
    r"permission denied",
    r"no permission",
    r"couldn't",
    r"could not",
    r"failed",
    r"invalid",
    r"illegal",
    r"not allowed",
    r"must be",
    r"unknown",
    # Owner changes (RT::Ticket::SetOwner): "You can only reassign tickets that you own or that are
    # unowned" (no ReassignTicket right), "That user does not exist", "That user may not own tickets…"
    r"you can only",
    r"does not exist",
    r"may not own",
)
_FAILURE = re.compile("|".join(_FAILURE_PATTERNS), re.IGNORECASE)
# Refusals that mean "it is already so": the caller wanted that state, so the write is a no-op success.
_ALREADY = re.compile(
    r"you can't change status from '([^']*)' to '\1'|already the current value|already exists|"
    r"that is already|is already set",
    re.IGNORECASE,
)
_STATUS_FAILURE = re.compile(r"status|lifecycle", re.IGNORECASE)
# Shapes of RT's success messages ("Status changed from 'a' to 'b'", "Jira Key DEMO-1 added", "Comments added"):
# their quoted or trailing values may contain any word, "failed" included.
_SUCCESS = re.compile(
    r"changed from .* to |changed to |\badded$|\bdeleted$|\bcreated\b|^comments added|^correspondence added|"
    r"\bset to\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"(?<![A-Za-z])'[^']*'(?![A-Za-z])")  # a quoted value, not the apostrophe of "can't"


def rt_vendor_message(response: requests.Response) -> str | None:
    """RT's error text: ``{"message": …}`` on errors, or a message list; never the whole body."""
    if not response.content:
        return None
    data = response.json()
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    if isinstance(data, list):
        return "; ".join(str(m) for m in data)[:500] or None
    return None


def ticket_id(value: Any) -> str:
    """A ticket (or transaction) id as a string, whether RT sent ``33`` or ``"33"``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an RT id: {value!r}")
    text = str(value).strip()
    if isinstance(value, float):
        text = str(int(value))
    if not text.isdigit():
        raise ValueError(f"not an RT id: {value!r}")
    return str(int(text))


def parse_datetime(value: Any) -> datetime | None:
    """RT's ``2026-11-23T13:21:09Z`` as aware UTC; the never-set ``1970-01-01…`` is ``None``."""
    if not value or value == NEVER:
        return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text.replace(" ", "T"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def object_name(value: Any) -> str | None:
    """A user or queue object's readable name: ``Name`` when asked for, else its ``id`` (users: the login)."""
    if isinstance(value, dict):
        name = value.get("Name") or value.get("id")
        return None if name is None else str(name)
    return None if value is None else str(value)


def person_name(value: Any) -> str | None:
    """A user object's real name (``RealName``, when asked for with ``fields[Creator]=Name,RealName``), else
    its login: "Sam Support (Request Tracker) wrote:" rather than "sam (Request Tracker) wrote:"."""
    if isinstance(value, dict) and str(value.get("RealName") or "").strip():
        return str(value["RealName"]).strip()
    return object_name(value)


def normalise_value(raw: Any) -> FieldValue:
    """A REST2 field value as a :data:`~bridge.model.FieldValue`."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        return object_name(raw)
    if isinstance(raw, list):
        return tuple(sorted(n for n in (object_name(v) for v in raw) if n is not None))
    if raw == NEVER:
        return None
    return normalise(raw)


def custom_field_values(record: Mapping[str, Any]) -> dict[str, FieldValue]:
    """``{"Jira Key": "DEMO-1", "Tags": ("a", "b"), "Empty": None}`` from a record's ``CustomFields`` list."""
    values: dict[str, FieldValue] = {}
    for cf in record.get("CustomFields") or []:
        if not isinstance(cf, dict) or "name" not in cf:
            continue
        found = [str(v) for v in cf.get("values") or [] if v is not None and v != ""]
        values[str(cf["name"])] = None if not found else found[0] if len(found) == 1 else tuple(sorted(found))
    return values


def failed_messages(messages: Any) -> list[str]:
    """The messages of a 200/201 write answer that say a change was refused (no-ops excluded)."""
    if not isinstance(messages, list):
        return []
    failed = []
    for message in (str(m) for m in messages):
        if _ALREADY.search(message):
            continue
        unquoted = _QUOTED.sub("''", message)
        if _FAILURE.search(unquoted) and not _SUCCESS.search(unquoted):
            failed.append(message)
    return failed


def is_status_failure(messages: Sequence[str]) -> bool:
    """Whether the refusal concerns the status (a lifecycle refusal is a workflow problem)."""
    return any(_STATUS_FAILURE.search(m) for m in messages)


def status_changed(messages: Any, status: str) -> bool:
    """Whether the answer confirms the ticket is now in ``status`` (changed, or already there)."""
    if not isinstance(messages, list):
        return False
    wanted = re.escape(status)
    changed = re.compile(rf"status changed from '[^']*' to '{wanted}'", re.IGNORECASE)
    already = re.compile(rf"you can't change status from '{wanted}' to '{wanted}'", re.IGNORECASE)
    return any(changed.search(str(m)) or already.search(str(m)) for m in messages)


def transaction_id_from_location(location: str | None) -> str | None:
    """``/REST/2.0/transaction/35`` → ``"35"``."""
    if not location:
        return None
    match = re.search(r"/transaction/(\d+)/?$", location)
    return match.group(1) if match else None


def next_page(data: Mapping[str, Any], page: int, per_page: int) -> int | None:
    """The next page number of a REST2 list answer, or ``None`` when this was the last.

    ``pages`` is a number (``0.0`` when empty) when RT could count; ``null`` when the account may not see
    the whole collection — then RT gives no ``next_page`` either, and a full page means "ask again".
    """
    count = int(data.get("count") or len(data.get("items") or []))
    pages = data.get("pages")
    if pages is None:
        return page + 1 if count >= per_page else None
    return page + 1 if page < int(float(pages)) else None
