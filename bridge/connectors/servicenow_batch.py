"""ServiceNow's Batch API as the connector uses it: several REST requests in one HTTP call.

Why: the change search of a cycle and the journal read of what it found are two requests, and at one
change per cycle the journal read is a whole extra call per change. Sent as one batch they are one
call (docs/connectors/servicenow.md, "Batch API"; the vendor's reference: ServiceNow/ServiceNowDocs,
markdown/api-reference/rest-apis/batch-api.md). What the reference says and this module relies on:

* ``POST /api/now/v1/batch`` — the version segment is required (``/api/now/batch`` is no resource);
* each item's ``body`` in the answer is Base64, and each item has its own ``status_code``: the batch
  answers 200 while an item is refused (ACLs apply per item), so every item is checked on its own;
* items the instance did not reach before the batch's time limit come back in ``unserviced_requests``;
* an instance without the API (an old release, a proxy allowing only the Table API) answers the path
  with 400 or 404: :class:`BatchUnavailable`, and the caller sends its requests one by one.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bridge.connectors.http import HttpClient
from bridge.errors import NotFoundError, PermanentError
from bridge.vendors import servicenow as facts

BATCH_PATH = facts.BATCH_API_PATH


class BatchUnavailable(Exception):
    """The instance has no usable Batch API: send the requests one by one."""


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One REST request of a batch (a GET: the connector batches reads only)."""

    id: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    method: str = "GET"

    def item(self) -> dict[str, Any]:
        url = f"{self.path}?{urlencode(dict(self.params))}" if self.params else self.path
        return {"id": self.id, "method": self.method, "url": url,
                "headers": [{"name": "Accept", "value": "application/json"}]}


@dataclass(frozen=True, slots=True)
class BatchReply:
    """One serviced item: its own status, headers and (decoded) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def result(self) -> Any:
        """The Table API's ``result``; ``None`` when the body is no such envelope."""
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return data.get("result") if isinstance(data, dict) else None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def send_batch(http: HttpClient, requests: Sequence[BatchRequest]) -> dict[str, BatchReply | None]:
    """Send ``requests`` as one batch; each id maps to its reply, or ``None`` when it was not serviced
    (the caller then sends it on its own). Raises :class:`BatchUnavailable` when the instance has no
    Batch API; other errors of the call itself (credentials, a server error after retries) go up."""
    body = {"batch_request_id": uuid.uuid4().hex, "rest_requests": [r.item() for r in requests]}
    try:
        response = http.request("POST", BATCH_PATH, json=body, ok=(200,),
                                idempotent=all(r.method == "GET" for r in requests))
    except NotFoundError:
        raise BatchUnavailable("no Batch API on the instance (404)") from None
    except PermanentError as exc:
        if exc.status in (400, 403, 405):
            raise BatchUnavailable(f"the instance refused the Batch API ({exc.status})") from None
        raise
    try:
        data = response.json()
    except ValueError:
        raise BatchUnavailable("the batch path answered something else than JSON") from None
    serviced = data.get("serviced_requests") if isinstance(data, dict) else None
    if not isinstance(serviced, list):
        raise BatchUnavailable("the batch path answered without serviced_requests")
    replies: dict[str, BatchReply | None] = {r.id: None for r in requests}
    for item in serviced:
        if not isinstance(item, dict) or str(item.get("id")) not in replies:
            continue
        try:
            status = int(item.get("status_code") or 0)
            payload = base64.b64decode(str(item.get("body") or ""))
        except (ValueError, TypeError, binascii.Error):
            continue  # an item this client cannot read: sent again on its own
        headers = {str(h.get("name")): str(h.get("value")) for h in item.get("headers") or []
                   if isinstance(h, dict) and h.get("name")}
        replies[str(item["id"])] = BatchReply(status, headers, payload)
    return replies
