"""Files on Jira Service Management requests (docs/connectors/jsm.md, "Attachments").

Listing and downloading go through the site's Jira attachment API (the platform connector the JSM
connector wraps). What JSM adds is that a file can come *with a comment* — a customer's reply in the
portal with a screenshot, an agent's note with a log — and both directions keep that tie:

* **Reading.** The files a comment carries are listed by the JSM API only:
  ``GET /rest/servicedeskapi/request/{issueIdOrKey}/comment?expand=attachment`` answers every comment of
  the request with its ``attachments`` (one paged read per request, only for requests with a comment
  bridge did not write; a comment with more files than the inline page holds is completed from
  ``GET …/comment/{commentId}/attachment``). The mirrored comment then ends with ``(attached: error.log)``,
  like one from Request Tracker, instead of the ``[attachment]`` placeholder the comment body shows.
* **Writing.** A file copied onto a request is uploaded the JSM way: ``POST
  /rest/servicedeskapi/servicedesk/{serviceDeskId}/attachTemporaryFile`` (multipart, ``X-Atlassian-Token:
  no-check``), then ``POST /rest/servicedeskapi/request/{issueIdOrKey}/attachment`` with the temporary id,
  ``public: false`` and an ``additionalComment`` naming the file and carrying bridge's marker: agents see
  the file in the conversation with who sent it, customers do not, and the note is never mirrored back
  (it carries the marker). A project without a service desk gets the platform upload instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from bridge.connectors.base import Connector
from bridge.connectors.filestream import multipart, send
from bridge.connectors.jira_text import text_to_wiki
from bridge.core.attachments import Attachment
from bridge.errors import NotFoundError, PermanentError
from bridge.model import Comment, Marker, Ref

if TYPE_CHECKING:
    from bridge.connectors.jira import JiraConnector

SERVICEDESK_API = "/rest/servicedeskapi"
#: the JSM API's largest page (``limit``) for comments and attachments
PAGE_LIMIT = 100
#: the placeholder a comment body shows for an embedded file (ADF media node, wiki ``!file!``)
PLACEHOLDER = "[attachment]"
_ATTACHMENT_ID = re.compile(r"/attachment/(\d+)(?:/|$)")


def attached_note(names: Sequence[str]) -> str:
    """``(attached: error.log, shot.png)``: the line a mirrored comment names its files with."""
    return f"(attached: {', '.join(names)})"


def with_attached(comment: Comment, names: Sequence[str]) -> Comment:
    """``comment`` whose body ends with the names of the files it carries (the body's own placeholders for
    them — ``[attachment]``, a wiki ``[^error.log]`` link — give way to that line)."""
    if not names:
        return comment
    links = {f"^{name}" for name in names}
    kept = [line for line in comment.body.split("\n") if line.strip() not in links and line.strip() != PLACEHOLDER]
    text = "\n".join(kept).strip("\n")
    note = attached_note(names)
    return replace(comment, body=f"{text.rstrip()}\n\n{note}" if text.strip() else note)


def attachment_id(raw: Mapping[str, Any]) -> str | None:
    """The platform id of a file in the JSM API's answer, which has no ``id``: it is in its links
    (``jiraRest`` ``…/rest/api/2/attachment/10001``, ``content`` ``…/attachment/10001/error.log``)."""
    links = raw.get("_links") or {}
    for key in ("jiraRest", "self", "content"):
        found = _ATTACHMENT_ID.search(str(links.get(key) or ""))
        if found:
            return found.group(1)
    return str(raw["id"]) if raw.get("id") else None


class JsmAttachments(Connector):
    """The attachment half of the port for JSM: the platform's file API plus the JSM API's tie between a
    file and its comment."""

    site: JiraConnector

    def service_desks(self) -> dict[str, str]:  # pragma: no cover - the connector reads them
        raise NotImplementedError

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        return self.site.list_attachments(ref, since)

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        return self.site.download_attachment(attachment, into)

    def upload_attachment(self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker) -> Attachment:
        desk = self.service_desks().get(ref.kind.upper())
        if desk is None:
            return self.site.upload_attachment(ref, path, filename=filename, mime_type=mime_type, marker=marker)
        temporary = self._attach_temporary(desk, path, filename, mime_type)
        note = f"{filename} copied by bridge.\n\n{marker.render()}"
        # Data Center renders a JSM comment body as wiki markup: escaped, the marker is not taken for a link.
        note = note if self.site.cloud else text_to_wiki(note)
        answer = self.site._json(
            "POST", f"{SERVICEDESK_API}/request/{ref.id or ref.key}/attachment", idempotent=False, body={
                "temporaryAttachmentIds": [temporary],
                "public": False,
                "additionalComment": {"body": note},
            },
        ) or {}
        made = [attachment_id(raw) for raw in ((answer.get("attachments") or {}).get("values") or [])]
        listed = self.site.list_attachments(ref)
        for found in reversed(listed):
            if found.id in made or (not any(made) and found.filename == filename):
                return found
        raise PermanentError(f"jsm took {filename} but lists no such file on {ref.key}", side="jsm")

    def _attach_temporary(self, desk: str, path: Path, filename: str, mime_type: str) -> str:
        """Upload the file as a temporary attachment of the service desk (streamed); its temporary id."""
        body, content_type = multipart("file", filename, mime_type or "application/octet-stream", path)
        url = f"{self.site.url}{SERVICEDESK_API}/servicedesk/{desk}/attachTemporaryFile"
        response = send(self.site._client, "POST", url, data=body, headers={
            "Content-Type": content_type, "X-Atlassian-Token": "no-check", "X-ExperimentalApi": "opt-in"})
        with response:
            answer = response.json() if response.content else {}
        for made in (answer or {}).get("temporaryAttachments") or []:
            if made.get("temporaryAttachmentId"):
                return str(made["temporaryAttachmentId"])
        raise PermanentError(f"jsm took {filename} but gave no temporary attachment id", side="jsm")

    # ------------------------------------------------------------------------------- comments

    def with_comment_files(self, ref: Ref, comments: Sequence[Comment]) -> list[Comment]:
        """``comments`` of the request ``ref``, each one a person wrote naming the files it carries.

        Comments bridge wrote (they carry its marker) are never mirrored, so a request with only those
        costs no request.
        """
        if all(c.marker is not None for c in comments):
            return list(comments)
        files = self.comment_files(ref)
        return [c if c.marker is not None else with_attached(c, files.get(c.id, ())) for c in comments]

    def comment_files(self, ref: Ref) -> dict[str, list[str]]:
        """Comment id → the names of the files it carries, for every comment of the request that has any."""
        found: dict[str, list[str]] = {}
        issue = ref.id or ref.key
        start = 0
        while True:
            try:
                page = self.site._json("GET", f"{SERVICEDESK_API}/request/{issue}/comment", params={
                    "expand": "attachment", "start": start, "limit": PAGE_LIMIT}) or {}
            except NotFoundError:
                return found  # not a customer request (any more): its comments carry no JSM files
            values = [v for v in page.get("values") or [] if isinstance(v, dict)]
            for raw in values:
                inline = raw.get("attachments") or {}
                names = [str(a.get("filename") or "") for a in inline.get("values") or [] if isinstance(a, dict)]
                if inline and inline.get("isLastPage") is False:
                    names = self._all_comment_files(issue, str(raw.get("id")))
                if names:
                    found[str(raw.get("id"))] = names
            start += len(values)
            if page.get("isLastPage", True) or not values:
                return found

    def _all_comment_files(self, issue: str, comment_id: str) -> list[str]:
        names: list[str] = []
        start = 0
        while True:
            page = self.site._json("GET", f"{SERVICEDESK_API}/request/{issue}/comment/{comment_id}/attachment",
                                   params={"start": start, "limit": PAGE_LIMIT}) or {}
            values = [v for v in page.get("values") or [] if isinstance(v, dict)]
            names.extend(str(a.get("filename") or "") for a in values)
            start += len(values)
            if page.get("isLastPage", True) or not values:
                return names


__all__ = ["JsmAttachments", "attached_note", "attachment_id", "with_attached"]
