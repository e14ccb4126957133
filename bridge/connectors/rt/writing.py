"""Writing RT: field updates, status changes, comments and back-references, each answer read for refusals.

RT answers many refusals with a 200 and a message list ("…isn't a valid status…"); see "What bridge does
about RT's traps" in ``docs/connectors/rt.md``.

Every write is preceded by one ``GET /ticket/{id}`` (:meth:`RTWriting._live`): RT loads a merged ticket's
id as the ticket it was merged into, and lets any write set a ``deleted`` ticket's status back, so a
write through the id alone could land on another ticket or undelete one ("Merged and deleted tickets" in
``docs/connectors/rt.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.connectors.base import CreateSpec
from bridge.connectors.rt.client import CHANNELS, LINK_FIELDS, RTClient, server_time
from bridge.connectors.rt_parse import (
    failed_messages,
    is_status_failure,
    status_changed,
    ticket_id,
    transaction_id_from_location,
)
from bridge.connectors.rt_query import custom_field_name
from bridge.errors import MergedError, NotFoundError, PermanentError, WorkflowError
from bridge.model import Comment, FieldValue, Item, Marker, Ref, Visibility


class RTWriting(RTClient):
    """The write half of the port on RT. Bridge never creates RT tickets (RT is the ITSM side)."""

    def create(self, spec: CreateSpec) -> Item:
        raise PermanentError(
            "Request Tracker is the ITSM side: bridge escalates tickets into Jira and never creates them in RT",
            side="rt",
        )

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        if not values:
            return
        body = self._write_body(ref, values)
        self._live(ref)
        self._put(ref, body, what="update")

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        body = {**self._write_body(ref, fields), "Status": status}
        self._live(ref)
        messages = self._put(ref, body, what="status change", status=True)
        if status_changed(messages, status):
            return
        # RT answers [] both when the ticket already had the status and when it quietly did nothing.
        current = self.get(ref, ("Status",)).status
        if (current or "").lower() != status.lower():
            raise WorkflowError(
                f"rt did not move the ticket to {status!r} (it is {current!r})",
                side="rt",
                method="PUT",
                endpoint=f"/REST/2.0/ticket/{ticket_id(ref.id)}",
                status=200,
                vendor_message="; ".join(str(m) for m in messages or []) or None,
            )

    def add_comment(
        self,
        ref: Ref,
        body: str,
        *,
        channel: str,
        marker: Marker,
        visibility: Visibility | None = None,
    ) -> Comment:
        kind = CHANNELS.get(channel)
        if kind is None:
            raise PermanentError(
                f"rt has no comment channel {channel!r}; use 'comment' (internal) or 'correspond' (to the requestor)",
                side="rt",
            )
        rt_id = ticket_id(ref.id)
        self._live(ref)
        # A reply (correspond) is e-mailed to the requestor: no marker text in it; bridge knows it by the
        # transaction id it stores (docs/connectors/rt.md, "Comments and markers").
        content = body.rstrip() if kind == "correspond" else f"{body.rstrip()}\n\n{marker.render()}"
        payload: dict[str, Any] = {"Content": content, "ContentType": "text/plain"}
        if self.origin_field:  # the invisible carrier, set in the same request (RT::REST2, "TxnCustomFields")
            payload["TxnCustomFields"] = {self.origin_field: marker.render()}
        response = self.http.request(
            "POST",
            f"ticket/{rt_id}/{kind}",
            json=payload,
            ok=(200, 201),
            idempotent=False,  # a repeated POST adds a second comment; the executor reconciles by marker
        )
        messages = response.json() if response.content else []
        txn_id = transaction_id_from_location(response.headers.get("Location"))
        if txn_id is not None and isinstance(messages, list):
            # the comment exists: a custom field RT could not set must not make the engine write it again
            messages = [m for m in messages if "transaction custom field" not in str(m).lower()]
        self._raise_for_messages(messages, method="POST", endpoint=f"/REST/2.0/ticket/{rt_id}/{kind}")
        if txn_id is None:
            raise PermanentError("rt did not say which transaction holds the comment", side="rt",
                                 method="POST", endpoint=f"/REST/2.0/ticket/{rt_id}/{kind}",
                                 vendor_message="; ".join(str(m) for m in messages or []) or None)
        return Comment(
            id=txn_id,
            parent=ref,
            author=self._bridge_login(),
            body=body.rstrip(),
            created=server_time(response.headers.get("Date")) or datetime.now(UTC),
            channel=kind,
            internal=kind == "comment",
            marker=marker,
        )

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        if not values:
            return
        body = self._write_body(ref, values)
        self._live(ref)
        self._put(ref, body, what="back-reference")

    def _live(self, ref: Ref) -> None:
        """Refuse to write through an id that no longer stands for its own live ticket.

        ``GET /ticket/{id}`` of a merged ticket answers with the ticket it was merged into (RT's
        ``RT::Ticket::Load`` follows ``EffectiveId``): :class:`MergedError` naming the survivor. A ticket
        in status ``deleted`` is gone for bridge: :class:`NotFoundError` (RT itself would accept the write
        and set the status back). A 404 is a NotFoundError from the HTTP layer already.
        """
        rt_id = ticket_id(ref.id)
        endpoint = f"/REST/2.0/ticket/{rt_id}"
        data = self._json("GET", f"ticket/{rt_id}") or {}
        answered = _id_of(data.get("id")) or rt_id
        effective = _id_of(data.get("EffectiveId")) or answered
        survivor = effective if effective != rt_id else answered
        if survivor != rt_id:
            raise MergedError(f"rt: ticket {rt_id} was merged into ticket {survivor}", survivor_id=survivor,
                              survivor_key=f"RT#{survivor}", side="rt", method="GET", endpoint=endpoint, status=200)
        if str(data.get("Status") or "").lower() == "deleted":
            raise NotFoundError(f"rt: ticket {rt_id} is deleted", side="rt", method="GET", endpoint=endpoint,
                                status=200)

    def _write_body(self, ref: Ref, values: Mapping[str, FieldValue]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, value in values.items():
            cf = custom_field_name(name)
            if cf is not None:
                custom[cf] = list(value) if isinstance(value, tuple) else ("" if value is None else value)
            elif name in LINK_FIELDS:
                if value:
                    body[f"Add{name}"] = list(value) if isinstance(value, tuple) else str(value)
            else:
                body[name] = list(value) if isinstance(value, tuple) else ("" if value is None else value)
        if custom:
            known = self._custom_fields_of(ref.kind)
            unknown = sorted(set(custom) - set(known))
            if unknown:
                # RT silently ignores custom fields it does not know: refuse instead of losing the value.
                raise PermanentError(
                    f"rt queue {ref.kind!r} has no custom field {', '.join(map(repr, unknown))} the bridge user can see"
                    " (apply it to the queue and grant SeeCustomField/ModifyCustomField)",
                    side="rt",
                )
            body["CustomFields"] = custom
        return body

    def _put(self, ref: Ref, body: Mapping[str, Any], *, what: str, status: bool = False) -> list[Any]:
        rt_id = ticket_id(ref.id)
        endpoint = f"/REST/2.0/ticket/{rt_id}"
        messages = self._json("PUT", f"ticket/{rt_id}", json=dict(body), ok=(200,)) or []
        self._raise_for_messages(messages, method="PUT", endpoint=endpoint, status=status)
        return list(messages) if isinstance(messages, list) else []

    @staticmethod
    def _raise_for_messages(messages: Any, *, method: str, endpoint: str, status: bool = False) -> None:
        failed = failed_messages(messages)
        if not failed:
            return
        cls = WorkflowError if status and is_status_failure(failed) else PermanentError
        raise cls("rt refused the change", side="rt", method=method, endpoint=endpoint, status=200,
                  vendor_message="; ".join(failed))


def _id_of(value: Any) -> str | None:
    """A ticket id from REST2's ``33``, ``"33"`` or ``{"id": "33", "type": "ticket", …}``; ``None`` if absent."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return ticket_id(value)
    except ValueError:
        return None
