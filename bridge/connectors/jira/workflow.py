"""Moving an issue to a status: path finding over the transitions Jira offers.

Transition ids differ per workflow, so statuses are reached by walking the graph learnt from
``GET /issue/{id}/transitions?expand=transitions.fields`` (:mod:`bridge.connectors.jira_workflow`);
screen fields such as ``resolution`` are sent only on the transition whose screen has them
(docs/connectors/jira.md, "Workflows" and "Transitions").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from bridge.connectors.jira.fields import JiraFields
from bridge.connectors.jira_workflow import Edge, WorkflowGraph
from bridge.errors import PermanentError, WorkflowError
from bridge.model import FieldValue, Ref


class JiraWorkflow(JiraFields):
    """``set_status`` and the transition walk behind it."""

    def vendor_facts(self) -> dict[str, Any]:
        """Also the workflows learnt per (project, issue type), so a restart or the next one-shot run walks
        a known path at once instead of reading the issue and its transitions again. A transition Jira
        has since changed is re-learnt as in one process ("not valid for this issue")."""
        facts = super().vendor_facts()
        learnt = [{"project": project, "issue_type": issue_type, "graph": graph_facts(graph)}
                  for (project, issue_type), graph in list(self._graphs.items()) if graph.edges]
        if learnt:
            facts["workflows"] = learnt
        return facts

    def prime(self, facts: Mapping[str, Any]) -> None:
        super().prime(facts)
        for entry in facts.get("workflows") or []:
            try:
                key = (str(entry["project"]), str(entry["issue_type"]))
                graph = graph_from_facts(entry["graph"])
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # a cache written by another version: learnt again when needed
            self._graphs.setdefault(key, graph)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        """Walk the workflow to ``status``, starting from the status bridge last saw when it can.

        When a search or write of this process showed the issue's status and the whole path from there is
        in the learnt graph, the first transition is POSTed at once (no GET of the issue). If the issue has
        moved since, Jira answers that the transition "is not valid for this issue": only then is the issue
        read and the walk started again from its real status (docs/connectors/jira.md, "Transitions").
        """
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        known = self._issue_states.pop(ref.id, None)
        if known is not None and self._walk_from_known(ref, known, status, fields):
            return
        current_raw = self._json("GET", f"issue/{ref.id or ref.key}", params={"fields": "status,issuetype,project"})
        raw_fields = current_raw.get("fields") or {}
        current = str((raw_fields.get("status") or {}).get("name", ""))
        if current.lower() == status.lower():
            return
        graph_key = (
            str((raw_fields.get("project") or {}).get("key", "")),
            str((raw_fields.get("issuetype") or {}).get("name", "")),
        )
        self._walk_and_settle(ref, graph_key, current, status, fields)

    def note_status(self, ref: Ref, status: str, item_type: str) -> None:
        """The status the state store last synced for ``ref`` (an issue of ``item_type`` in the project its
        key names): set_status starts from it unless this process has seen the issue itself since."""
        if ref.id not in self._issue_states and status and item_type and "-" in ref.key:
            self._issue_states[ref.id] = (status, (ref.key.rsplit("-", 1)[0], item_type))

    def _walk_from_known(
        self, ref: Ref, known: tuple[str, tuple[str, str]], status: str, fields: Mapping[str, FieldValue]
    ) -> bool:
        """The walk from the last seen status; False (nothing moved) when it cannot be trusted or used."""
        current, graph_key = known
        graph = self._graphs.get(graph_key)
        if graph is None or current.lower() == status.lower():
            return False  # nothing learnt yet, or "already there" (which only a read may conclude)
        path = graph.path(current, status, {self.field_id(name) for name in fields})
        if not path:
            return False
        if not self._transition(ref, graph, current, path[0], fields, set(), relearn=False):
            return False  # the issue moved since bridge saw it: read it
        self._walk_and_settle(ref, graph_key, path[0].to_display, status, fields, start=current)
        return True

    def _walk_and_settle(
        self,
        ref: Ref,
        graph_key: tuple[str, str],
        current: str,
        status: str,
        fields: Mapping[str, FieldValue],
        *,
        start: str | None = None,
    ) -> None:
        """Walk from ``current`` (the issue left ``start`` already when given), remember where it ends."""
        graph = self._graphs.setdefault(graph_key, WorkflowGraph())
        origin = start or current
        reached = [origin] if start is None else [origin, current]
        try:
            self._walk(ref, graph, current, status, fields, reached)
            self._issue_states[ref.id] = (reached[-1], graph_key)
        except WorkflowError:
            current = origin
            # Exploring an unknown workflow may have moved the issue before the dead end showed: put it
            # back where people left it (over known, field-free transitions) rather than half-way.
            if reached[-1].lower() != current.lower():
                back = graph.path(reached[-1], current, set())
                for edge in back or []:
                    self._transition(ref, graph, reached[-1], edge, {}, set())
                    reached.append(edge.to_display)
            raise

    def _walk(
        self,
        ref: Ref,
        graph: WorkflowGraph,
        current: str,
        status: str,
        fields: Mapping[str, FieldValue],
        reached: list[str],
    ) -> None:
        explored: set[str] = set()
        wanted_fields = {self.field_id(name) for name in fields}
        steps = 0
        sent_fields: set[str] = set()
        while current.lower() != status.lower():
            if steps >= self.max_transition_steps:
                raise WorkflowError(
                    f"no path to status {status!r} within {steps} transitions from {current!r}",
                    side="jira",
                    endpoint=f"issue/{ref.key}/transitions",
                )
            if not graph.known(current):
                self._learn(ref, graph, current)
                explored.add(current.lower())
            usable = set(wanted_fields)
            path = graph.path(current, status, usable) or graph.exploration(current, status, explored, usable)
            if not path:
                blocked = graph.path(current, status, None)
                if blocked:
                    needs = sorted({f for e in blocked for f, required in e.screen.items() if required} - usable)
                    raise WorkflowError(
                        f"the path from {current!r} to {status!r} requires {', '.join(needs)}, which the mapping "
                        "does not give (add them under status.to_jira.<state>.fields)",
                        side="jira",
                        endpoint=f"issue/{ref.key}/transitions",
                    )
                offered = ", ".join(e.to_display for e in graph.edges.get(current.lower(), [])) or "none"
                raise WorkflowError(
                    f"no transition path from {current!r} to {status!r} (the workflow offers from here: {offered})",
                    side="jira",
                    endpoint=f"issue/{ref.key}/transitions",
                )
            edge = path[0]
            moved = self._transition(ref, graph, current, edge, fields, sent_fields)
            steps += 1
            if moved:
                current = edge.to_display
                reached.append(current)

    def _learn(self, ref: Ref, graph: WorkflowGraph, current: str) -> list[Edge]:
        data = (
            self._json("GET", f"issue/{ref.id or ref.key}/transitions", params={"expand": "transitions.fields"}) or {}
        )
        return graph.learn(current, data.get("transitions") or [])

    def _transition(
        self,
        ref: Ref,
        graph: WorkflowGraph,
        current: str,
        edge: Edge,
        fields: Mapping[str, FieldValue],
        sent_fields: set[str],
        *,
        relearn: bool = True,
    ) -> bool:
        """POST one transition; False when the known graph was stale (it is re-read unless ``relearn`` is
        False, as when the issue's status itself may be stale; nothing moved)."""
        wanted = {self.field_id(name): value for name, value in fields.items()}
        on_screen = {fid: value for fid, value in wanted.items() if fid in edge.screen}
        missing = [fid for fid, required in edge.screen.items() if required and fid not in wanted]
        if missing:
            raise WorkflowError(
                f"transition {edge.name!r} to {edge.to_display!r} requires {', '.join(missing)}, which the mapping "
                "does not give (add them under status.to_jira.<state>.fields)",
                side="jira",
                endpoint=f"issue/{ref.key}/transitions",
            )
        body: dict[str, Any] = {"transition": {"id": edge.id}}
        if on_screen:
            body["fields"] = {fid: self.to_jira(fid, value) for fid, value in on_screen.items()}
        try:
            self._request("POST", f"issue/{ref.id or ref.key}/transitions", body=body)
        except PermanentError as exc:
            message = exc.vendor_message or ""
            if "is not valid for this issue" in message:
                if not relearn:
                    return False
                graph.forget(current)  # the workflow or the issue moved: learn it again
                self._learn(ref, graph, current)
                return False
            refused = [fid for fid in on_screen if f"{fid}: " in message and "cannot be set" in message]
            if refused:
                # transitions.fields can over-report a field (netresearch/jira-skill#211): drop it, once.
                edge.screen.clear()
                return self._transition(ref, graph, current, edge, {}, sent_fields, relearn=relearn)
            raise
        sent_fields.update(on_screen)
        return True


def graph_facts(graph: WorkflowGraph) -> dict[str, Any]:
    """``graph`` as JSON data (:meth:`JiraWorkflow.vendor_facts`)."""
    return {
        "edges": {status: [asdict(edge) for edge in edges] for status, edges in list(graph.edges.items())},
        "categories": dict(graph.categories),
    }


def graph_from_facts(data: Mapping[str, Any]) -> WorkflowGraph:
    """The graph :func:`graph_facts` wrote."""
    edges = {
        str(status): [
            Edge(str(e["id"]), str(e["name"]), str(e["to"]), str(e["to_display"]),
                 str(e["to_category"]) if e.get("to_category") else None,
                 {str(fid): bool(required) for fid, required in (e.get("screen") or {}).items()})
            for e in items
        ]
        for status, items in dict(data["edges"]).items()
    }
    return WorkflowGraph(edges, {str(k): str(v) for k, v in dict(data.get("categories") or {}).items()})
