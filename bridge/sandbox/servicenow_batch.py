"""ServiceNow's Batch API in the sandbox: several REST requests in one HTTP call.

It follows the vendor's "Batch API" reference ([SN-B]: ServiceNow/ServiceNowDocs,
markdown/api-reference/rest-apis/batch-api.md; docs/connectors/servicenow.md, "Batch API"):

* ``POST /api/now/{api_version}/batch`` only: the version segment is part of the URL (``v1``, ``v2``);
  ``/api/now/batch`` is no resource (answered like any unknown path, 400);
* the body is ``{"batch_request_id", "rest_requests": [{"id", "method", "url", "headers":
  [{"name", "value"}], "body", "exclude_response_headers"}]}``; ``id``, ``method`` and ``url`` are
  required, ``url`` is the relative path with its query, ``body`` is Base64;
* each item is served as the same request sent on its own would be, by the same handlers, as the
  batch's user: ACLs apply per item [SN-B: "Apply existing ACLs to each API call in the batch"], so
  does the rate limit rule (the sandbox counts each item against it, the conservative reading), and an
  item's error is that item's ``status_code`` while the batch answers 200;
* the answer is ``{"batch_request_id", "serviced_requests": [{"id", "status_code", "status_text",
  "headers", "body" (Base64), "execution_time" (ms), "error_message"?}], "unserviced_requests": [ids]}``;
* a batch that reaches its processing limit (the "REST Batch API request timeout" quota rule, 30
  seconds) stops: the items not served yet are listed in ``unserviced_requests``.

For the request counts benchmarks and tests read (``/_sandbox/stats``), a batch is ONE request, as it is
one HTTP call: its items never pass through :meth:`SandboxApp.handle`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bridge.sandbox.server import Reply, Request
from bridge.sandbox.servicenow_rules import ServiceNowRecords, sn_error
from bridge.vendors import servicenow as facts

#: [SN-B] "If a request runs longer than 30 seconds, the REST Batch API request timeout transaction
#: quota rule ends the transaction"
BATCH_TIME_LIMIT = facts.BATCH_TIME_LIMIT_SECONDS


class ServiceNowBatch(ServiceNowRecords):
    """The ``/api/now/{version}/batch`` route, mixed into :class:`~bridge.sandbox.servicenow.ServiceNowSandbox`."""

    batch_enabled: bool
    batch_time_limit: float
    batch_clock: Callable[[], float]

    def _batch_routes(self) -> None:
        # tests switch these: an instance without the Batch API, a batch that runs out of time
        self.batch_enabled = True
        self.batch_time_limit = BATCH_TIME_LIMIT
        self.batch_clock = time.monotonic
        for version in ("v1", "v2"):  # [SN-B] "Versioned URL: /api/now/{api_version}/batch"
            self.router.add("POST", f"/api/now/{version}/batch", self._batch)
        self.router.add("POST", "/_sandbox/servicenow/batch", self._admin_batch)

    def _admin_batch(self, request: Request) -> Reply:
        """``{"enabled": false}`` makes the instance answer the batch path as an unknown resource;
        ``{"time_limit": 0}`` leaves every item unserviced."""
        body = request.json() or {}
        if "enabled" in body:
            self.batch_enabled = bool(body["enabled"])
        if "time_limit" in body:
            self.batch_time_limit = float(body["time_limit"])
        return Reply(204)

    def _batch(self, request: Request) -> Reply:
        if not self.batch_enabled:
            return self.not_found(request)  # what an instance without the API answers for the path
        content_type = request.headers.get("content-type", "application/json")
        if not content_type.lower().startswith("application/json"):
            # [SN-B] Content-Type: "Only supports application/json"
            return sn_error(400, "Exception while reading request", "Content-Type must be application/json")
        body = request.json()
        items = body.get("rest_requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and all(isinstance(i.get(k), str) and i.get(k) for k in ("id", "method", "url"))
                for i in items):
            return sn_error(400, "Invalid batch request",
                            "rest_requests is required; each item needs an id, a method and a url")
        started = self.batch_clock()
        serviced: list[dict[str, Any]] = []
        unserviced: list[str] = []
        for item in items:
            if unserviced or self.batch_clock() - started >= self.batch_time_limit:
                unserviced.append(item["id"])  # the transaction was ended: nothing after it runs
                continue
            serviced.append(self._batch_item(request, item))
        return Reply(200, {"batch_request_id": body.get("batch_request_id"),
                           "serviced_requests": serviced, "unserviced_requests": unserviced})

    def _batch_item(self, outer: Request, item: dict[str, Any]) -> dict[str, Any]:
        began = time.monotonic()
        reply = self._dispatch_item(outer, item)
        if reply.data is not None:
            payload = reply.data
        elif reply.text is not None:
            payload = reply.text.encode()
        elif reply.body is None:
            payload = b""
        else:
            payload = json.dumps(reply.body).encode()
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        answer: dict[str, Any] = {
            "id": item["id"],
            "status_code": reply.status,
            "status_text": phrase,
            "body": base64.b64encode(payload).decode("ascii"),
            "execution_time": round((time.monotonic() - began) * 1000),
            "headers": [],
        }
        if not item.get("exclude_response_headers"):
            headers = {"Content-Type": "application/json;charset=UTF-8", **reply.headers} if payload else reply.headers
            answer["headers"] = [{"name": k, "value": v} for k, v in headers.items()]
        if reply.status >= 400 and isinstance(reply.body, dict) and isinstance(reply.body.get("error"), dict):
            answer["error_message"] = str(reply.body["error"].get("message") or "")
        return answer

    def _dispatch_item(self, outer: Request, item: dict[str, Any]) -> Reply:
        """One item as a request of its own: routed, rate-limited and answered by the same handlers."""
        parts = urlsplit(item["url"])
        headers = dict(outer.headers)
        for header in item.get("headers") or []:
            if isinstance(header, dict) and isinstance(header.get("name"), str):
                headers[header["name"].lower()] = str(header.get("value") or "")
        try:
            data = base64.b64decode(item["body"], validate=True) if item.get("body") else b""
        except (binascii.Error, ValueError, TypeError):
            return sn_error(400, "Exception while reading request", "The batch item body is not valid Base64.")
        request = Request(method=item["method"].upper(), path=parts.path,
                          query=parse_qs(parts.query, keep_blank_values=True), headers=headers, body=data)
        if not parts.path.startswith("/api/") or parts.path.rstrip("/").endswith("/batch"):
            return self.not_found(request)  # the sandbox serves the REST APIs in a batch, not batches
        wait = self.rate_limiter.check()
        if wait is not None:
            return self.rate_limited(request, wait)
        found = self.router.route(request.method, request.path)
        if found is None:
            return self.not_found(request)
        if found == "method":
            return self.method_not_allowed(request)
        assert isinstance(found, tuple)
        handler, request.params = found
        try:
            return handler(request)
        except json.JSONDecodeError:
            return sn_error(400, "Exception while reading request", "The payload is not valid JSON.")
