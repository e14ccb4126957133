"""The workflow: transitions available from the current status only, ids that differ per project, a
"Done" screen that requires a resolution, and the shortest path a scripted person walks."""

from __future__ import annotations

from collections import deque
from typing import Any

from bridge.sandbox.jira.app import NOT_ON_SCREEN, _Fail, errors, fail
from bridge.sandbox.jira.catalog import RESOLUTIONS, WORKFLOW, Step, named
from bridge.sandbox.jira.comments import CommentsMixin
from bridge.sandbox.server import Reply, Request


class WorkflowMixin(CommentsMixin):
    """``GET|POST issue/{id}/transitions``; a transition may add a comment, hence the comments base."""

    def workflow_of(self, project: str) -> list[Step]:
        """The workflow of ``project`` (one for every project here; a subclass may give a project its own)."""
        return WORKFLOW

    def _transitions_for(self, issue: dict[str, Any]) -> list[tuple[str, str, str, dict[str, bool]]]:
        offset = self.projects[issue["project"]]["offset"]
        return [
            (str(base + offset), name, to, screen)
            for base, name, source, to, screen in self.workflow_of(issue["project"])
            if source == issue["status"]
        ]

    def _transitions_json(
        self, issue: dict[str, Any], with_fields: bool, only: str | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for tid, name, to, screen in self._transitions_for(issue):
            if only is not None and tid != only:
                continue
            entry: dict[str, Any] = {
                "id": tid,
                "name": name,
                "to": self._status_json(to),
                "hasScreen": bool(screen),
                "isGlobal": False,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            if with_fields:
                entry["fields"] = {
                    field: {
                        "required": required,
                        "schema": {"type": "resolution", "system": "resolution"},
                        "name": "Resolution",
                        "key": field,
                        "hasDefaultValue": False,
                        "operations": ["set"],
                        "allowedValues": [
                            {"self": f"{self.base_url}{self.api}/resolution/{r}", "id": r, "name": n}
                            for r, n in RESOLUTIONS.items()
                        ],
                    }
                    for field, required in screen.items()
                }
            out.append(entry)
        return out

    def _get_transitions(self, request: Request) -> Reply:
        # OpenAPI v3 getTransitions: only transitions from the current status; none without the permission.
        self._user(request)
        issue = self._issue(request.params["id"])
        if "TRANSITION_ISSUES" in self.state["settings"]["revoked"]:
            return Reply(200, {"expand": "transitions", "transitions": []})
        with_fields = "transitions.fields" in (request.arg("expand") or "")
        return Reply(
            200,
            {
                "expand": "transitions",
                "transitions": self._transitions_json(issue, with_fields, request.arg("transitionId")),
            },
        )

    def _do_transition(self, request: Request) -> Reply:
        handle = self._user(request)
        issue = self._issue(request.params["id"])
        body = request.json() or {}
        self._allowed("TRANSITION_ISSUES")
        transition = body.get("transition") or {}
        tid = str(transition.get("id") or "")
        if not tid:
            # go-atlassian PR #328 (docs/connectors/jira.md, "What the Jira sandbox reproduces").
            raise fail(400, "Missing 'transition' identifier")
        self._apply_transition(issue, tid, body.get("fields") or {}, body.get("update") or {}, handle)
        return Reply(204)

    def _apply_transition(
        self, issue: dict[str, Any], tid: str, fields: dict[str, Any], update: dict[str, Any], handle: str
    ) -> None:
        match = [t for t in self._transitions_for(issue) if t[0] == tid]
        if not match:
            raise fail(400, f"Transition id '{tid}' is not valid for this issue.")
        _, _, to, screen = match[0]
        problems: dict[str, str] = {}
        resolution: str | None = None
        for field, value in fields.items():
            if field not in screen:
                # The documented body for a field off the transition screen (go-atlassian PR #328; OpenAPI v3
                # doTransition 400; docs/connectors/jira.md, "What the Jira sandbox reproduces").
                problems[field] = NOT_ON_SCREEN.format(field)
                continue
            resolution = named(value, RESOLUTIONS)
            if resolution is None:
                problems[field] = "Could not find valid 'id' or 'name' in resolution object."
        if problems:
            raise _Fail(errors(400, [], problems))
        if screen.get("resolution") and resolution is None:
            raise fail(400, "Field Resolution is required.")
        comment_ops = update.get("comment") or []
        issue["status"] = to
        if self.statuses[to][1] == "done":
            # a done-to-done step without a resolution screen (JSM Resolved -> Closed) keeps the resolution
            issue["resolution"] = resolution or issue.get("resolution")
            issue["resolutiondate"] = self._now_ms()
        elif self.statuses[to][1] != "done":
            issue["resolution"] = None  # the Reopen post-function clears the resolution
            issue["resolutiondate"] = None
        for op in comment_ops:
            add = op.get("add") if isinstance(op, dict) else None
            if add:
                self._store_comment(issue, handle, add.get("body"), add.get("visibility"), add.get("properties"))
        self._touch(issue)

    @staticmethod
    def _path(source: str, target: str, workflow: list[Step] = WORKFLOW) -> list[Step] | None:
        """The shortest walk from ``source`` to ``target`` (breadth-first), as a person would click it."""
        frontier: deque[tuple[str, list[Any]]] = deque([(source, [])])
        seen = {source}
        while frontier:
            status, path = frontier.popleft()
            if status == target:
                return path
            for step in workflow:
                if step[2] == status and step[3] not in seen:
                    seen.add(step[3])
                    frontier.append((step[3], [*path, step]))
        return None
