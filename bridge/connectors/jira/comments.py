"""Comments: reading (paged, newest first down to the cursor), the hint cache, writing with a marker.

The change search already returns each changed issue's inline comment list (ids and times, not the
properties bridge keeps its marker in); :meth:`JiraComments.comments_since` uses it once per issue to
skip the comment read when there is nothing new but bridge's own echoes. Markers live in the comment
property ``bridge.origin``; a DC server that drops comment properties gets the marker in the text
instead (docs/connectors/jira.md, "Comments and markers").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from bridge.connectors.jira.common import MARKER_PROPERTY, parse_jira_datetime
from bridge.connectors.jira.fields import JiraFields
from bridge.connectors.jira_text import adf_to_text, fit_for_jira, text_to_adf, text_to_wiki, wiki_to_text
from bridge.model import Comment, Marker, Ref, Side, Visibility


class JiraComments(JiraFields):
    """Comment reads, the per-cycle hint cache and comment writes."""

    def _to_comment(self, parent: Ref, raw: dict[str, Any]) -> Comment:
        body = raw.get("body")
        text = adf_to_text(body) if isinstance(body, dict) else wiki_to_text(body or "")
        marker: Marker | None = None
        internal_property = False
        for prop in raw.get("properties") or []:
            value = prop.get("value") if isinstance(prop, dict) else None
            if prop.get("key") == MARKER_PROPERTY and isinstance(value, dict):
                try:
                    marker = Marker(Side(value["side"]), str(value["origin_id"]))
                except (KeyError, ValueError):
                    marker = Marker.find(str(value.get("marker", "")))
            if prop.get("key") == "sd.public.comment" and isinstance(value, dict):
                internal_property = bool(value.get("internal"))
        in_text = Marker.find(text)
        if in_text is not None:
            marker = marker or in_text
            text = Marker.strip(text)
        vis_raw = raw.get("visibility")
        visibility = (
            Visibility(str(vis_raw["type"]), str(vis_raw["value"]))
            if isinstance(vis_raw, dict) and (vis_raw.get("type") and vis_raw.get("value"))
            else None
        )
        author = raw.get("author") or {}
        return Comment(
            id=str(raw["id"]),
            parent=parent,
            author=str(author.get("displayName") or author.get("name") or author.get("accountId") or "unknown"),
            body=text,
            created=parse_jira_datetime(str(raw["created"])),
            channel="comment",
            internal=visibility is not None or raw.get("jsdPublic") is False or internal_property,
            visibility=visibility,
            marker=marker,
        )

    def _comments(self, ref: Ref, since: datetime | None) -> Iterator[Comment]:
        """Comments newest first when ``since`` is given (so reading stops at ``since``), else oldest first."""
        for comment in self._comment_pages(ref, "-created" if since is not None else "created"):
            if since is not None and comment.created < since:
                return
            yield comment

    def _comment_pages(self, ref: Ref, order: str) -> Iterator[Comment]:
        """Every comment of ``ref`` in ``order`` (``created``/``-created``), page by page, read lazily."""
        start = 0
        while True:
            page = (
                self._json(
                    "GET",
                    f"issue/{ref.id or ref.key}/comment",
                    params={"startAt": start, "maxResults": 100, "orderBy": order, "expand": "properties"},
                )
                or {}
            )
            comments = page.get("comments") or []
            for raw in comments:
                yield self._to_comment(ref, raw)
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        """One comment read per issue, except where the last :meth:`search_changed` already showed what
        there is to know.

        The change search asks for the ``comment`` field, so it knows each changed issue's comments (ids,
        times, authors and bodies; not their properties, where bridge keeps its marker). An issue whose
        inline list is complete costs no call when its comments at or after ``since`` are only those this
        process wrote itself (an edit, a transition or bridge's own echo), or comments that cannot be
        bridge's: written by another account than bridge's own (``/myself``), on Cloud, where the inline
        comment tells an internal one by ``jsdPublic`` (docs/connectors/jira.md, "Comments and markers").
        Those are returned from the search; bridge's own are left out, as after a read the planner skips
        them. Only an ambiguous comment — bridge's account but not written by this process (a restart, a
        lost state store), or a list without authors — costs the read with properties, as before.

        What the search saw is used once, and not for an issue this connector wrote to since. A comment
        a person adds between the search and this call is not lost: it moves the issue's ``updated``, so
        the next change search returns the issue again with a version the cycle has not processed.
        """
        out: dict[str, list[Comment]] = {}
        for ref in refs:
            hint = self._comment_hints.pop(ref.id, None)
            if hint is not None:
                fresh = [(cid, raw) for cid, created, raw in hint
                         if (since is None or created >= since) and cid not in self._own_comments]
                inline = self._from_search(ref, [raw for _, raw in fresh])
                if inline is not None:
                    out[ref.id] = _in_order(inline)
                    continue
            out[ref.id] = _in_order(list(self._comments(ref, since)))
        return out

    def _from_search(self, ref: Ref, raws: Sequence[dict[str, Any] | None]) -> list[Comment] | None:
        """The comments the search showed inline, when none of them can carry bridge's marker; ``None``
        when one might (then the comments are read with their properties)."""
        if not raws:
            return []
        account = self._myself or {}
        own = {str(account[k]) for k in ("accountId", "name", "key") if account.get(k)}
        if not self.cloud or not own:
            return None
        found: list[Comment] = []
        for raw in raws:
            author = (raw or {}).get("author")
            if raw is None or "jsdPublic" not in raw or not isinstance(author, dict):
                return None
            if own & {str(author[k]) for k in ("accountId", "name", "key") if author.get(k)} or not author:
                return None
            found.append(self._to_comment(ref, raw))
        return found

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        return next((c for c in self._comment_pages(ref, "-created") if c.marker == marker), None)

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        body = fit_for_jira(body, cloud=self.cloud, reserve=len(marker.render()) + 80)  # room for a text marker
        text = body if not self._text_markers else f"{body}\n\n{marker.render()}"
        payload: dict[str, Any] = {
            "body": text_to_adf(text) if self.cloud else text_to_wiki(text),
            "properties": [
                {
                    "key": MARKER_PROPERTY,
                    "value": {
                        "side": marker.side.value,
                        "origin_id": marker.origin_id,
                        "marker": marker.render(),
                    },
                }
            ],
        }
        if visibility is not None:
            payload["visibility"] = {"type": visibility.type, "value": visibility.value}
        raw = self._json(
            "POST",
            f"issue/{ref.id or ref.key}/comment",
            params={"expand": "properties"},
            body=payload,
            idempotent=False,
        )
        if (
            not self.cloud
            and not self._text_markers
            and not any(isinstance(p, dict) and p.get("key") == MARKER_PROPERTY for p in raw.get("properties") or [])
        ):
            # This server dropped the comment property: keep the marker in the text from now on, and
            # put it into this comment too (one PUT), so the comment is never mirrored back.
            self._text_markers = True
            self._request(
                "PUT",
                f"issue/{ref.id or ref.key}/comment/{raw['id']}",
                body={"body": text_to_wiki(f"{body}\n\n{marker.render()}")},
            )
        self._own_comments[str(raw["id"])] = None
        while len(self._own_comments) > _OWN_COMMENTS_KEPT:
            del self._own_comments[next(iter(self._own_comments))]
        author = raw.get("author") or {}
        return Comment(
            id=str(raw["id"]),
            parent=ref,
            author=str(author.get("displayName") or author.get("name") or "bridge"),
            body=body,
            created=parse_jira_datetime(str(raw["created"])),
            channel="comment",
            internal=visibility is not None,
            visibility=visibility,
            marker=marker,
        )

#: how many of its own comment ids the connector remembers (enough for any cycle's echoes)
_OWN_COMMENTS_KEPT = 10_000


#: what the change search showed of one comment: its id, its time and, when it may be needed, its JSON
CommentHint = tuple[str, datetime, dict[str, Any] | None]


def comment_hint(page: Any, keep_from: datetime | None = None) -> list[CommentHint] | None:
    """(id, created, JSON) of each comment in a search result's ``comment`` field; None when it is
    missing or holds fewer comments than the issue has (Jira may cut the inline list short).

    The JSON is kept only of comments created at or after ``keep_from`` (none when it is ``None``, a full
    read): the comment read of the cycle asks for no older ones, and a search may return many issues.
    """
    if not isinstance(page, dict) or not isinstance(page.get("comments"), list):
        return None
    comments = page["comments"]
    if int(page.get("total") or 0) > len(comments):
        return None
    try:
        hint: list[CommentHint] = []
        for c in comments:
            created = parse_jira_datetime(str(c["created"]))
            keep = keep_from is not None and created >= keep_from
            hint.append((str(c["id"]), created, c if keep and isinstance(c, dict) else None))
        return hint
    except (KeyError, TypeError, ValueError):
        return None


def _in_order(comments: list[Comment]) -> list[Comment]:
    return sorted(comments, key=lambda c: (c.created, int(c.id) if c.id.isdigit() else 0))
