"""Field values in and out: validating a create/edit value into stored form, and rendering a stored
value the way GET issue and search return it (``fields`` selection included)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from bridge.sandbox.jira.app import NOT_ADF, NOT_ON_SCREEN
from bridge.sandbox.jira.catalog import PRIORITIES, RICH_TEXT_FIELDS, named, user_by
from bridge.sandbox.jira.comments import CommentsMixin
from bridge.sandbox.jira.render import TOO_LONG, is_adf, too_long
from bridge.vendors import jira as jira_facts


class FieldsMixin(CommentsMixin):
    """One field at a time; the ``comment`` pseudo-field is why this sits on the comments mixin."""

    @staticmethod
    def _named(value: Any, table: dict[str, str]) -> str | None:
        return named(value, table)

    def _field_by_name(self, name: str) -> str | None:
        for fid, fname, _, _ in self.field_table:
            if name.lower() in (fid.lower(), fname.lower()):
                return fid
        return None

    def _resolve_field_key(self, key: str) -> str:
        """Fields may be given by id or by name in a create/edit body."""
        return (
            key
            if key.startswith("customfield_") or key in {f[0] for f in self.field_table}
            else (self._field_by_name(key) or key)
        )

    def _coerce(self, project: str, field: str, value: Any, problems: dict[str, str]) -> Any:
        """Validate one create/edit value and return it in stored form (OpenAPI v3 createIssue/editIssue)."""
        if field in RICH_TEXT_FIELDS:
            if value is None:
                return None
            if self.mode == "cloud":
                # v3 rich text must be ADF (OpenAPI v3 createIssue; "Operation value must be an Atlassian Document").
                if not is_adf(value):
                    problems[field] = NOT_ADF
                elif too_long(value):
                    problems[field] = TOO_LONG
                return value
            if not isinstance(value, str):
                problems[field] = "Operation value must be a string"
            elif too_long(value):
                problems[field] = TOO_LONG
            return value
        if field in ("summary", "customfield_10050", "customfield_10052"):
            if value is not None and not isinstance(value, str):
                problems[field] = "Operation value must be a string"
            elif field == "summary" and not (value or "").strip():
                problems[field] = "You must specify a summary of the issue."
            elif value is not None and len(value) > jira_facts.MAX_SUMMARY_LENGTH:
                problems[field] = (
                    "Summary must be less than 255 characters."
                    if field == "summary"
                    else ("The entered text is too long. It exceeds the allowed limit of 255 characters.")
                )
            if field == "summary" and isinstance(value, str) and self.state["settings"].get("trim_summary"):
                return value.strip()
            return value
        if field == "customfield_10051":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                problems[field] = "Operation value must be a number"
            return value
        if field == "labels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems[field] = "Operation value must be an array of strings"
                return []
            for label in value:
                if " " in label or not label:
                    problems[field] = f"The label '{label}' contains spaces which is invalid."
                elif len(label) > jira_facts.MAX_LABEL_LENGTH:
                    problems[field] = "The label must not exceed 255 characters."
            return list(dict.fromkeys(value))
        if field == "priority":
            if value is None:
                return None
            pid = self._named(value, PRIORITIES)
            if pid is None:
                problems[field] = "Specify a valid 'id' or 'name' for Priority"
            return pid
        if field == "components":
            comps = self.projects[project]["components"]
            ids: list[str] = []
            for comp in value or []:
                cid = self._named(comp, comps)
                if cid is None:
                    name = comp.get("name") or comp.get("id") if isinstance(comp, dict) else comp
                    problems[field] = f"Component name '{name}' is not valid"
                else:
                    ids.append(cid)
            return ids
        if field in ("assignee", "reporter"):
            if value is None:
                return None
            key = "accountId" if self.mode == "cloud" else "name"
            handle = user_by(key, str(value.get(key, ""))) if isinstance(value, dict) else None
            if handle is None:
                problems[field] = "Specified user does not exist or you do not have required permissions"
            return handle
        problems[field] = NOT_ON_SCREEN.format(field)
        return None

    def _field_json(self, issue: dict[str, Any], field: str, viewer: str | None) -> Any:
        raw = issue["fields"]
        if field == "comment":
            # The issue's comments as a PageOfComments, returned by search only when ``fields`` names
            # ``comment`` (pycontribs/jira#914, #1240); comment properties are not part of it.
            visible = sorted(
                (c for c in issue["comments"] if self._visible(c, viewer)), key=lambda c: (c["created"], int(c["id"]))
            )
            return {
                "comments": [self._comment_json(issue, c, viewer, "") for c in visible],
                "maxResults": len(visible),
                "total": len(visible),
                "startAt": 0,
            }
        if field == "status":
            return self._status_json(issue["status"])
        if field == "project":
            return self._project_json(issue["project"])
        if field == "issuetype":
            return self._issuetype_json(raw["issuetype"])
        if field == "priority":
            pid = raw.get("priority")
            return None if pid is None else self._priority_json(pid)
        if field == "resolution":
            rid = issue.get("resolution")
            return None if rid is None else self._resolution_json(rid)
        if field == "components":
            comps = self.projects[issue["project"]]["components"]
            return [
                {"self": f"{self.base_url}{self.api}/component/{c}", "id": c, "name": comps[c]}
                for c in raw.get("components", [])
            ]
        if field in ("created", "updated", "resolutiondate"):
            return self._fmt(issue.get(field), viewer)
        if field in ("reporter", "creator", "assignee"):
            return self._user_json(raw.get(field))
        if field == "labels":
            return list(raw.get("labels", []))
        if field == "fixVersions":
            return []
        return copy.deepcopy(raw.get(field))

    def _wanted_fields(self, spec: Iterable[str] | None, default: str) -> list[str]:
        names = [part.strip() for item in (spec if spec is not None else [default]) for part in str(item).split(",")]
        names = [n for n in names if n]
        all_ids = [f[0] for f in self.field_table]
        chosen: list[str] = []
        excluded = {n[1:] for n in names if n.startswith("-")}
        for name in names:
            if name in ("*all", "*navigable"):
                chosen.extend(all_ids)
                if name == "*all":
                    chosen.append("comment")  # not navigable: search returns it only when named
            elif name in all_ids or name == "comment":
                chosen.append(name)
            # anything else (a field *name*, a typo) is ignored, as Jira does for GET issue/search ``fields``
        return [f for f in dict.fromkeys(chosen) if f not in excluded]
