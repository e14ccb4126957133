"""Reading issues: Cloud's enhanced search (``POST /search/jql`` with ``nextPageToken``) and DC's
``POST /search`` with ``startAt``/``total`` (docs/connectors/jira.md, "Search and the change cursor").

JQL date literals have minute precision and are read in the *account's* time zone: the cursor is
converted to the zone read once from ``/myself``, floored to the minute and moved back by an overlap;
results are de-duplicated by ``(id, updated)``. The change search also asks for the ``comment`` field,
whose inline list feeds the comment hint cache (:mod:`bridge.connectors.jira.comments`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from bridge.connectors.jira.comments import comment_hint
from bridge.connectors.jira.common import jql_string
from bridge.connectors.jira.fields import JiraFields
from bridge.connectors.unreadable import Unreadable, readable
from bridge.errors import TransientError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Ref, Side


class JiraSearch(JiraFields):
    """Change searches, reads by id and the marker lookup."""

    def cursor_literal(self, since: datetime) -> str:
        """The JQL literal for ``since``: the account's zone, floored to the minute, minus the overlap."""
        local = (since - self.overlap).astimezone(self.user_zone()).replace(second=0, microsecond=0)
        return local.strftime("%Y/%m/%d %H:%M")

    def search(self, jql: str, field_ids: Sequence[str], reconcile: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every issue of ``jql`` (raw JSON), following Cloud tokens or DC offsets to the last page.

        ``reconcile`` (Cloud, at most 50 ids) asks the eventually consistent index to include issues just
        written (OpenAPI v3 search/jql ``reconcileIssues``); DC's search is consistent already.
        """
        if self.cloud:
            token: str | None = None
            seen_tokens: set[str] = set()
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": list(field_ids), "maxResults": self.page_size}
                if reconcile:
                    body["reconcileIssues"] = [int(i) if i.isdigit() else i for i in reconcile[:50]]
                if token:
                    body["nextPageToken"] = token
                page = self._json("POST", "search/jql", body=body) or {}
                yield from page.get("issues") or []
                token = page.get("nextPageToken")
                if not token or page.get("isLast") is True:
                    return
                if token in seen_tokens:
                    raise TransientError("jira search repeated a page token", side="jira", endpoint="search/jql")
                seen_tokens.add(token)
        start = 0
        while True:
            body = {"jql": jql, "startAt": start, "maxResults": self.page_size, "fields": list(field_ids)}
            page = self._json("POST", "search", body=body) or {}
            issues = page.get("issues") or []
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total") or 0):
                return

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        marker_fields = self._mapping_marker_fields(mapping)
        wanted = self._wanted(fields)
        clauses = [
            f"project = {jql_string(mapping.target.project)}",
            f"labels = {jql_string(mapping.links.jira_label)}",
            # Two mappings may share a project and the bridge label (incidents → Bugs, changes → Stories):
            # without the type each would read the other's issues, unlinked to it, as changed on every cycle.
            f"issuetype = {jql_string(mapping.target.issue_type)}",
        ]
        if since is not None:
            clauses.append(f"updated >= {jql_string(self.cursor_literal(since))}")
        jql = " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"
        seen: set[tuple[str, str]] = set()
        self._comment_hints = {}
        keep_from = since - self.overlap if since is not None else None  # the comment read asks for no older
        self._searched_markers = None
        markers: dict[str, list[str]] = {}
        for raw in self.search(jql, [*self._fetch_list(wanted, marker_fields), "comment"]):
            # Before parsing: an issue bridge cannot read still names the records it carries.
            for marker in _carried(raw.get("fields") or {}, marker_fields) - {mapping.links.jira_label}:
                markers.setdefault(marker, []).append(str(raw.get("id")))
            issue = readable(lambda: self._to_issue(raw, wanted, marker_fields),  # noqa: B023 - called at once
                             Side.JIRA, "issue", raw.get("id"), raw.get("key"))
            if isinstance(issue, Unreadable):
                yield issue
                continue
            identity = (issue.ref.id, issue.version)
            if identity in seen:
                continue  # a page boundary moved under an update: same issue, same version
            seen.add(identity)
            self._comment_hints[issue.ref.id] = comment_hint((raw.get("fields") or {}).get("comment"), keep_from)
            yield issue
        self._searched_markers = markers

    #: marker → ids of the issues carrying it, of the last change search read to its end (None: none yet)
    _searched_markers: dict[str, list[str]] | None = None

    def markers_in_search(self) -> dict[str, list[str]] | None:
        """Every marker label (or ``links.jira_marker_field`` value) the issues of the last change search
        carried, once that search was read to its last page."""
        return self._searched_markers

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        wanted = self._wanted(fields)
        markers = sorted(self._marker_fields)
        raw = self._json(
            "GET", f"issue/{ref.id or ref.key}", params={"fields": ",".join(self._fetch_list(wanted, markers))}
        )
        return self._to_issue(raw, wanted, markers)

    def _mapping_marker_fields(self, mapping: MappingSpec) -> list[str]:
        if mapping.links.jira_marker_field:
            fid = self.field_id(mapping.links.jira_marker_field)
            self._marker_fields.add(fid)
            return [fid]
        return []

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        markers = self._mapping_marker_fields(mapping)
        if markers:
            number = markers[0].removeprefix("customfield_")
            # Text fields are searched with ~ (a phrase); the exact value is checked below.
            clause = f"cf[{number}] ~ {jql_string(chr(34) + marker + chr(34))}"
        else:
            clause = f"labels = {jql_string(marker)}"
        jql = f"project = {jql_string(mapping.target.project)} AND {clause} ORDER BY created ASC"
        for raw in self.search(jql, self._fetch_list({}, markers)):
            issue = self._to_issue(raw, {}, markers)
            values = raw.get("fields") or {}
            if marker in (values.get("labels") or []) or any(values.get(fid) == marker for fid in markers):
                return issue
        return None

    def find_by_markers(
        self, mapping: MappingSpec, markers: Sequence[str], fields: Sequence[str]
    ) -> dict[str, list[Item]]:
        """ONE JQL search per :attr:`marker_batch_size` markers: ``labels in (…)``, or with a marker
        field one ``cf[N] ~ "…"`` clause per marker joined by ``OR`` (a text field has no ``in``; the
        exact value is checked on the answer). Cloud and Data Center take the same JQL."""
        marker_fields = self._mapping_marker_fields(mapping)
        wanted = self._wanted(fields)
        found: dict[str, list[Item]] = {marker: [] for marker in markers}
        unique = list(found)
        for start in range(0, len(unique), max(1, self.marker_batch_size)):
            chunk = unique[start : start + max(1, self.marker_batch_size)]
            if marker_fields:
                number = marker_fields[0].removeprefix("customfield_")
                clause = " OR ".join(f"cf[{number}] ~ {jql_string(chr(34) + m + chr(34))}" for m in chunk)
            else:
                clause = f"labels in ({', '.join(jql_string(m) for m in chunk)})"
            jql = f"project = {jql_string(mapping.target.project)} AND ({clause}) ORDER BY created ASC"
            for raw in self.search(jql, self._fetch_list(wanted, marker_fields)):
                carried = _carried(raw.get("fields") or {}, marker_fields)
                issue = self._to_issue(raw, wanted, marker_fields)
                for marker in chunk:
                    if marker in carried and all(i.ref.id != issue.ref.id for i in found[marker]):
                        found[marker].append(issue)
        return found


def _carried(values: dict[str, Any], marker_fields: Sequence[str]) -> set[str]:
    """The markers an issue's raw fields carry: its labels and the mapping's marker field value."""
    carried = {str(label) for label in values.get("labels") or []}
    carried |= {str(values[fid]).strip() for fid in marker_fields if isinstance(values.get(fid), str)}
    return carried
