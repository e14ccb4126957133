"""Reading several issues at once: one JQL search ``id in (…)`` per chunk instead of one GET per issue.

A hinted mini-cycle and a resync read the issues they were told about with
:meth:`~bridge.connectors.base.Connector.get_many`; one GET each cost a request per issue. The same fields
come back from a search (docs/connectors/jira.md, "Search and the change cursor"). On Cloud the search index
is eventually consistent, so every chunk names its ids in ``reconcileIssues`` (at most 50 per request,
OpenAPI v3 ``searchAndReconsileIssuesUsingJqlPost``): an issue written a moment ago reads as fresh as a GET
would read it. Data Center's search is consistent already.
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.connectors.jira.search import JiraSearch
from bridge.errors import ConnectorError, NotFoundError
from bridge.model import Item, Ref

#: Cloud's limit on ``reconcileIssues`` (OpenAPI v3 search/jql): a chunk names at most this many ids
RECONCILE_LIMIT = 50


class JiraBatchReads(JiraSearch):
    """:meth:`get_many` over the search endpoint."""

    def get_many(self, refs: Sequence[Ref], fields: Sequence[str]) -> list[Item]:
        """The issues of ``refs`` that exist and the account may see, in the order of ``refs``.

        Refs without a numeric id are read one by one. A chunk whose search Jira refuses (a 400 for an
        issue deleted since the hint, a 404 for a deleted issue in ``reconcileIssues`` — JRACLOUD-93328)
        is read one by one too, which leaves the missing issues out as the single reads do.
        """
        wanted = self._wanted(fields)
        markers = sorted(self._marker_fields)
        found: dict[str, Item] = {}
        by_id = list(dict.fromkeys(r.id for r in refs if r.id.isdigit()))
        size = max(1, min(self.page_size, RECONCILE_LIMIT) if self.cloud else self.page_size)
        single = [r for r in refs if not r.id.isdigit()]
        for start in range(0, len(by_id), size):
            chunk = by_id[start : start + size]
            jql = f"id in ({', '.join(chunk)}) ORDER BY id ASC"
            try:
                raws = list(self.search(jql, self._fetch_list(wanted, markers), chunk if self.cloud else ()))
            except ConnectorError as exc:
                if isinstance(exc, NotFoundError) or exc.status == 400:
                    single += [r for r in refs if r.id in chunk]
                    continue
                raise
            for raw in raws:
                issue = self._to_issue(raw, wanted, markers)
                found[issue.ref.id] = issue
        for ref in single:
            try:
                read = self.get(ref, fields)
            except NotFoundError:
                continue
            found[read.ref.id] = read
        ordered: list[Item] = []
        for ref in refs:
            item: Item | None = found.pop(ref.id, None)
            if item is None:  # asked by key (no id): match the key the answer carries
                item = next((i for i in found.values() if i.ref.key == ref.key), None)
            if item is not None:
                found.pop(item.ref.id, None)
                ordered.append(item)
        return ordered
