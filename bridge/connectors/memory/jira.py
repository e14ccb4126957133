"""The Jira Cloud-like in-memory side (see :mod:`bridge.connectors.memory`)."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bridge.connectors.base import CheckResult, CreateSpec
from bridge.connectors.memory.core import (
    INTEGRATION_USER,
    MARKER_PROPERTY,
    Clock,
    MemoryConnector,
    _Entry,
    _Stored,
    floor_to_milli,
    floor_to_minute,
)
from bridge.errors import NotFoundError, PermanentError, WorkflowError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, FieldValue, Issue, Item, Marker, Ref, Side, Visibility, normalise
from bridge.vendors import jira as jira_facts

DEFAULT_WORKFLOW: dict[str, tuple[str, ...]] = {
    "To Do": ("In Progress",),
    "In Progress": ("In Review", "To Do"),
    "In Review": ("Done", "In Progress"),
    "Done": ("In Progress",),
}
DEFAULT_CATEGORIES: dict[str, str] = {
    "To Do": "new",
    "In Progress": "indeterminate",
    "In Review": "indeterminate",
    "Done": "done",
}
MAX_COMMENT_LENGTH = jira_facts.MAX_COMMENT_LENGTH


def _labels(item: _Stored) -> tuple[str, ...]:
    """An issue's labels (stored normalised: a tuple, or absent)."""
    value = item.fields.get("labels")
    return tuple(str(x) for x in value) if isinstance(value, tuple | list) else ()


class MemoryJira(MemoryConnector):
    """A Jira Cloud-like side held in memory (projects, issue types, one workflow, comments, remote links)."""

    side = Side.JIRA
    name = "memory-jira"
    display_name = "Jira"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        page_size: int = 50,
        base_url: str = "https://jira.example",
        projects: Mapping[str, Sequence[str]] | None = None,
        workflow: Mapping[str, Sequence[str]] | None = None,
        categories: Mapping[str, str] | None = None,
        initial_status: str = "To Do",
    ) -> None:
        super().__init__(clock=clock, page_size=page_size, base_url=base_url)
        self.projects = {k: tuple(v) for k, v in (projects or {"OPS": ("Bug", "Story", "Task")}).items()}
        self.workflow = {k: tuple(v) for k, v in (workflow or DEFAULT_WORKFLOW).items()}
        self.categories = dict(categories or DEFAULT_CATEGORIES)
        self.initial_status = initial_status
        self._counters: dict[str, int] = {}
        self._ids = 10000
        #: the issue link types the site offers (Jira's defaults); empty: the site offers none
        self.link_types: tuple[str, ...] = ("Blocks", "Cloners", "Duplicate", "Relates")
        #: issue links made, as ``(type, outward key, inward key)``: "outward <type outward> inward"
        self.issue_links: list[tuple[str, str, str]] = []

    def _now(self) -> datetime:
        return floor_to_milli(self.clock())

    def _not_found_text(self) -> str:
        return "Issue does not exist or you do not have permission to see it."

    def _item(self, item: _Stored, fields: Sequence[str] | None) -> Item:
        names = list(item.fields) if fields is None else list(fields)
        return Issue(
            item.ref,
            {name: item.fields.get(name) for name in names},
            status=item.status,
            status_category=self.categories.get(item.status),
            updated=item.updated,
            version=f"{item.updated.isoformat()}/{item.edits}",
            updated_by=item.updated_by,
            back_reference=item.marker,
        )

    def _comment(self, item: _Stored, entry: _Entry) -> Comment:
        marker_text = entry.properties.get(MARKER_PROPERTY)
        return Comment(
            entry.id,
            item.ref,
            entry.author,
            entry.text,
            entry.created,
            entry.channel,
            internal=entry.visibility is not None,
            visibility=entry.visibility,
            marker=Marker.find(marker_text) if marker_text else None,
        )

    def _new_issue(self, project: str, issue_type: str, fields: Mapping[str, FieldValue], labels: Sequence[str],
                   author: str, marker: str | None = None) -> _Stored:
        if project not in self.projects:
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="project: valid project is required")
        if issue_type not in self.projects[project]:
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="issuetype: The issue type selected is invalid.")
        if not fields.get("summary"):
            raise PermanentError("Jira refused the issue", side="jira", method="POST", endpoint="/rest/api/3/issue",
                                 status=400, vendor_message="summary: You must specify a summary of the issue.")
        n = self._counters.get(project, 0) + 1
        self._counters[project] = n
        self._ids += 1
        key = f"{project}-{n}"
        ref = Ref(Side.JIRA, "issue", str(self._ids), key, f"{self.base_url}/browse/{key}")
        values = {k: normalise(v) for k, v in fields.items()}
        values["labels"] = normalise(sorted(set(labels)))
        values.setdefault("resolution", None)
        values["project"] = project
        values["issuetype"] = issue_type
        item = _Stored(ref, values, self.initial_status, self._now(), 0, author, marker)
        self._items[ref.id] = item
        return item

    # ------------------------------------------------------------------------------ scripting

    def create_issue(
        self,
        project: str = "OPS",
        issue_type: str = "Bug",
        summary: str = "Something is broken",
        *,
        fields: Mapping[str, Any] | None = None,
        labels: Sequence[str] = (),
        status: str | None = None,
        author: str = "dev.one",
    ) -> Ref:
        """Create an issue as a person (optionally straight in ``status``)."""
        with self._lock:
            item = self._new_issue(project, issue_type, {"summary": summary, **(fields or {})}, labels, author)
        if status is not None:
            self.transition_to(item.ref, status, author=author)
        return item.ref

    def edit(self, key: Ref | str, *, author: str = "dev.one", **fields: Any) -> None:
        """Change fields as a person (``labels`` replaces the label set)."""
        with self._lock:
            item = self._find(key, "SCRIPT edit")
            item.fields.update({k: normalise(v) for k, v in fields.items()})
            self._touch(item, author)

    def transition_to(self, key: Ref | str, status: str, *, resolution: str | None = None,
                      author: str = "dev.one") -> None:
        """Put the issue in ``status`` as a person, ignoring the workflow graph (resolution follows the category)."""
        if status not in self.categories:
            raise ValueError(f"unknown status {status!r}; known: {', '.join(self.categories)}")
        with self._lock:
            item = self._find(key, "SCRIPT transition")
            item.status = status
            done = self.categories[status] == "done"
            item.fields["resolution"] = (resolution or "Done") if done else None
            self._touch(item, author)

    def comment(self, key: Ref | str, body: str, *, author: str = "Dev One",
                visibility: Visibility | None = None) -> Comment:
        """Add a comment as a person."""
        with self._lock:
            item = self._find(key, "SCRIPT comment")
            entry = _Entry(str(self._next() + 20000), author, body, self._now(), "comment", visibility)
            item.comments.append(entry)
            self._touch(item, author)
            return self._comment(item, entry)

    def issues(self) -> list[Issue]:
        with self._lock:
            return [self._item(i, None) for i in self._items.values()]  # type: ignore[misc]

    def issue(self, key: Ref | str) -> Issue:
        with self._lock:
            return self._item(self._find(key, "SCRIPT issue"), None)  # type: ignore[return-value]

    def remote_links(self, key: Ref | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._find(key, "SCRIPT remote links").remote_links.values()))

    # ------------------------------------------------------------------------------ port: reading

    def _managed(self, mapping: MappingSpec) -> list[_Stored]:
        return [
            i for i in self._items.values()
            if i.fields.get("project") == mapping.target.project
            and mapping.links.jira_label in _labels(i)
        ]

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        endpoint = "POST /rest/api/3/search/jql"
        self._fault("search_changed", endpoint)
        bound = floor_to_minute(since) if since is not None else None  # JQL has minute precision
        with self._lock:
            selected = sorted(
                (i for i in self._managed(mapping) if bound is None or i.updated >= bound),
                key=lambda i: (i.updated, int(i.ref.id)),
            )
        self._searched_markers = None
        return self._marking(mapping, selected, self._page(selected, endpoint, fields))

    def _marking(self, mapping: MappingSpec, selected: list[_Stored], pages: Iterator[Item]) -> Iterator[Item]:
        """The search's items; once read to the end, the markers they carry (as the Jira connector keeps)."""
        yield from pages
        markers: dict[str, list[str]] = {}
        field = mapping.links.jira_marker_field
        with self._lock:
            for stored in selected:
                carried = set(_labels(stored)) - {mapping.links.jira_label}
                if field and isinstance(stored.fields.get(field), str):
                    carried.add(str(stored.fields[field]))
                for marker in carried:
                    markers.setdefault(marker, []).append(stored.ref.id)
        self._searched_markers = markers

    _searched_markers: dict[str, list[str]] | None = None

    def markers_in_search(self) -> dict[str, list[str]] | None:
        return self._searched_markers

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}"
        self._fault("get", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            return self._item(item, fields)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("comments_since", endpoint)
        result: dict[str, list[Comment]] = {}
        with self._lock:
            for ref in refs:  # Jira has no batch read of comments: one call per changed issue
                item = self._items.get(ref.id)
                self.calls.count(endpoint, 200 if item is not None else 404)
                result[ref.id] = self._comments_of(item, since) if item is not None else []
        return result

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        endpoint = "POST /rest/api/3/search/jql"
        self._fault("find_by_marker", endpoint)
        with self._lock:
            self.calls.count(endpoint, 200)
            found = [
                i for i in self._items.values()
                if i.fields.get("project") == mapping.target.project
                and (
                    i.fields.get(mapping.links.jira_marker_field) == marker
                    if mapping.links.jira_marker_field
                    else marker in _labels(i)
                )
            ]
            return self._item(found[0], None) if found else None

    def find_by_markers(
        self, mapping: MappingSpec, markers: Sequence[str], fields: Sequence[str]
    ) -> dict[str, list[Item]]:
        """One counted search per :attr:`marker_batch_size` markers, as the Jira connector's JQL."""
        endpoint = "POST /rest/api/3/search/jql"
        self._fault("find_by_markers", endpoint)
        found: dict[str, list[Item]] = {marker: [] for marker in markers}
        unique = list(found)
        size = max(1, self.marker_batch_size)
        with self._lock:
            for start in range(0, len(unique), size):
                self.calls.count(endpoint, 200)
                for marker in unique[start : start + size]:
                    for item in sorted(self._items.values(), key=lambda i: int(i.ref.id)):
                        if item.fields.get("project") != mapping.target.project:
                            continue
                        carried = (
                            item.fields.get(mapping.links.jira_marker_field) == marker
                            if mapping.links.jira_marker_field
                            else marker in _labels(item)
                        )
                        if carried:
                            found[marker].append(self._item(item, fields))
        return found

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        endpoint = "GET /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("find_comment_by_marker", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            self.calls.count(endpoint, 200)
            return next((c for c in self._comments_of(item, None) if c.marker == marker), None)

    # ------------------------------------------------------------------------------ port: writing

    def create(self, spec: CreateSpec) -> Item:
        endpoint = "POST /rest/api/3/issue"
        self._fault("create", endpoint)
        fields = dict(spec.fields)
        labels = list(spec.labels)
        if spec.marker_field:
            fields[spec.marker_field] = spec.marker
        else:
            labels.append(spec.marker)
        if spec.components:
            fields["components"] = tuple(spec.components)
        with self._lock:
            try:
                item = self._new_issue(spec.project, spec.issue_type, fields, labels, INTEGRATION_USER, spec.marker)
            except PermanentError:
                self.calls.count(endpoint, 400)
                raise
            self.calls.count(endpoint, 201)
            created = self._item(item, list(spec.fields))
        self._written("create", created.ref)
        return created

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = "PUT /rest/api/3/issue/{issueIdOrKey}"
        self._fault("update_fields", endpoint)
        refused = sorted(set(values) & {"status", "resolution", "project", "issuetype"})
        with self._lock:
            item = self._find(ref, endpoint)
            if refused:
                self.calls.count(endpoint, 400)
                raise PermanentError("Jira refused the edit", side="jira", method="PUT", endpoint=endpoint.split()[1],
                                     status=400, vendor_message=f"{refused[0]}: Field '{refused[0]}' cannot be set. "
                                     "It is not on the appropriate screen, or unknown.")
            self.calls.count(endpoint, 204)
            item.fields.update({k: normalise(v) for k, v in values.items()})
            self._touch(item, INTEGRATION_USER)
        self._written("update_fields", ref)

    def edit_labels(
        self,
        ref: Ref,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        values: Mapping[str, FieldValue] | None = None,
    ) -> None:
        endpoint = "PUT /rest/api/3/issue/{issueIdOrKey}"
        self._fault("edit_labels", endpoint)
        values = dict(values or {})
        if "labels" in values:
            raise PermanentError("edit_labels sets labels through add/remove only, not as a field value", side="jira")
        refused = sorted(set(values) & {"status", "resolution", "project", "issuetype"})
        with self._lock:
            item = self._find(ref, endpoint)
            if refused:
                self.calls.count(endpoint, 400)
                raise PermanentError("Jira refused the edit", side="jira", method="PUT", endpoint=endpoint.split()[1],
                                     status=400, vendor_message=f"{refused[0]}: Field '{refused[0]}' cannot be set. "
                                     "It is not on the appropriate screen, or unknown.")
            self.calls.count(endpoint, 204)
            labels = list(_labels(item))
            labels += [label for label in dict.fromkeys(add) if label not in labels]
            labels = [label for label in labels if label in add or label not in remove]
            changed = {k: normalise(v) for k, v in values.items()}
            if tuple(sorted(labels)) != tuple(sorted(_labels(item))):
                changed["labels"] = normalise(sorted(labels))
            if changed:
                item.fields.update(changed)
                self._touch(item, INTEGRATION_USER)
        self._written("edit_labels", ref)

    def path(self, start: str, goal: str) -> list[str] | None:
        """The fewest transitions from ``start`` to ``goal`` (breadth first), or ``None``."""
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            status = queue.popleft()
            if status == goal:
                steps: list[str] = []
                node: str | None = status
                while node is not None and node != start:
                    steps.append(node)
                    node = previous[node]
                return list(reversed(steps))
            for nxt in self.workflow.get(status, ()):
                if nxt not in previous:
                    previous[nxt] = status
                    queue.append(nxt)
        return None

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        transitions = "GET /rest/api/3/issue/{issueIdOrKey}/transitions"
        post = "POST /rest/api/3/issue/{issueIdOrKey}/transitions"
        self._fault("set_status", post)
        with self._lock:
            item = self._find(ref, transitions)
            self.calls.count(transitions, 200)
            if item.status == status:
                return
            steps = self.path(item.status, status)
            if steps is None:
                raise WorkflowError(
                    f"no workflow path from {item.status!r} to {status!r}", side="jira", method="POST",
                    endpoint=post.split()[1], status=400,
                    vendor_message=f"no transition leads from {item.status} to {status}",
                )
            final_done = self.categories.get(status) == "done"
            if final_done and not fields.get("resolution"):
                self.calls.count(post, 400)
                raise WorkflowError("Jira refused the transition", side="jira", method="POST",
                                    endpoint=post.split()[1], status=400,
                                    vendor_message="Field Resolution is required.")
            if "resolution" in fields and not final_done:
                self.calls.count(post, 400)
                raise WorkflowError("Jira refused the transition", side="jira", method="POST",
                                    endpoint=post.split()[1], status=400,
                                    vendor_message="resolution: Field 'resolution' cannot be set. It is not on the "
                                    "appropriate screen, or unknown.")
            for index, step in enumerate(steps):
                if index:
                    self.calls.count(transitions, 200)
                self.calls.count(post, 204)
                leaving_done = self.categories.get(item.status) == "done"
                item.status = step
                if leaving_done:
                    item.fields["resolution"] = None
                if index == len(steps) - 1:
                    item.fields.update({k: normalise(v) for k, v in fields.items()})
                self._touch(item, INTEGRATION_USER)
        self._written("set_status", ref)

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        endpoint = "POST /rest/api/3/issue/{issueIdOrKey}/comment"
        self._fault("add_comment", endpoint)
        with self._lock:
            item = self._find(ref, endpoint)
            if channel != "comment" or len(body) > MAX_COMMENT_LENGTH:
                self.calls.count(endpoint, 400)
                reason = f"comment bodies are limited to {MAX_COMMENT_LENGTH} characters" if channel == "comment" else (
                    f"Jira comments have no channel {channel!r}")
                raise PermanentError("Jira refused the comment", side="jira", method="POST",
                                     endpoint=endpoint.split()[1], status=400, vendor_message=reason)
            self.calls.count(endpoint, 201)
            entry = _Entry(str(self._next() + 20000), INTEGRATION_USER, body, self._now(), "comment", visibility,
                           {MARKER_PROPERTY: marker.render()})
            item.comments.append(entry)
            self._touch(item, INTEGRATION_USER)
            comment = self._comment(item, entry)
        self._written("add_comment", ref)
        return comment

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        endpoint = "POST /rest/api/3/issue/{issueIdOrKey}/remotelink"
        self._fault("write_back_reference", endpoint)
        global_id = f"bridge:{other.token}"
        with self._lock:
            item = self._find(ref, endpoint)
            status = 200 if global_id in item.remote_links else 201
            self.calls.count(endpoint, status)
            # an upsert by globalId replaces the whole object: omitted fields are nulled, like Jira
            item.remote_links[global_id] = {
                "globalId": global_id,
                "object": {
                    "url": other.url,
                    "title": str(values.get("title") or other.key),
                    "summary": values.get("summary"),
                    "status": {"resolved": bool(values.get("resolved"))},
                },
            }
        self._written("write_back_reference", ref)

    def link_issues(self, ref: Ref, other: Ref, link_type: str) -> None:
        endpoint = "POST /rest/api/3/issueLink"
        self._fault("link_issues", endpoint)
        with self._lock:
            outward = self._find(ref, endpoint)
            inward = self._find(other, endpoint)
            if link_type not in self.link_types:
                self.calls.count(endpoint, 404)
                raise NotFoundError(f"No issue link type with name '{link_type}' found.", side="jira",
                                    method="POST", endpoint="/rest/api/3/issueLink", status=404)
            self.calls.count(endpoint, 201)
            link = (link_type, outward.ref.key, inward.ref.key)
            if link not in self.issue_links:
                self.issue_links.append(link)
            self._touch(outward, INTEGRATION_USER)
            self._touch(inward, INTEGRATION_USER)
        self._written("link_issues", ref)

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results = [CheckResult(True, f"{self.display_name} (in memory) reachable as {INTEGRATION_USER}")]
        for mapping in mappings:
            project, issue_type = mapping.target.project, mapping.target.issue_type
            if project not in self.projects:
                results.append(CheckResult(False, f"mapping {mapping.name}: project {project}",
                                           f"known projects: {', '.join(self.projects)}"))
                continue
            ok = issue_type in self.projects[project]
            results.append(CheckResult(ok, f"mapping {mapping.name}: issue type {issue_type} in {project}",
                                       None if ok else f"issue types: {', '.join(self.projects[project])}"))
            for target in mapping.status.to_jira.values():
                name = target if isinstance(target, str) else target.status
                ok = name in self.categories
                results.append(CheckResult(ok, f"mapping {mapping.name}: status {name}",
                                           None if ok else f"statuses: {', '.join(self.categories)}"))
        return results
