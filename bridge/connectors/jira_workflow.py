"""Path finding through a Jira workflow that bridge only ever sees one status at a time.

Jira offers no portable way to read a whole workflow with an API token (the workflow APIs need admin
rights), but every ``GET …/transitions`` answer tells us the edges out of the *current* status. So the
graph is learnt as bridge goes: each answer adds one status's outgoing edges (with their screens), and
set_status runs breadth-first search on what is known. When the target is not yet reachable in the
known graph, the nearest status whose edges are unknown is explored, preferring statuses whose category
(``new`` → ``indeterminate`` → ``done``) moves toward the target's. Knowledge is kept per project and
issue type, because transition ids and screens are per workflow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}


@dataclass(frozen=True)
class Edge:
    """One transition: its id, its name, where it goes, and the fields its screen offers."""

    id: str
    name: str
    to: str  # status name, lower-cased
    to_display: str
    to_category: str | None
    screen: dict[str, bool] = field(default_factory=dict, hash=False, compare=False)  # field id -> required


@dataclass
class WorkflowGraph:
    """What bridge knows of one workflow: outgoing edges per status (lower-cased names)."""

    edges: dict[str, list[Edge]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    def learn(self, status: str, transitions: list[dict[str, Any]]) -> list[Edge]:
        """Record the edges out of ``status`` from one GET transitions answer (expand=transitions.fields)."""
        learnt = []
        for t in transitions:
            to = t.get("to") or {}
            name = str(to.get("name", ""))
            category = (to.get("statusCategory") or {}).get("key")
            screen = {fid: bool((meta or {}).get("required")) for fid, meta in (t.get("fields") or {}).items()}
            learnt.append(Edge(str(t["id"]), str(t.get("name", "")), name.lower(), name, category, screen))
            if category:
                self.categories[name.lower()] = category
        self.edges[status.lower()] = learnt
        return learnt

    def forget(self, status: str) -> None:
        self.edges.pop(status.lower(), None)

    def known(self, status: str) -> bool:
        return status.lower() in self.edges

    def path(self, source: str, target: str, fields: set[str] | None = None) -> list[Edge] | None:
        """Fewest transitions from ``source`` to ``target`` over known edges; ``[]`` when already there.

        With ``fields`` (the field ids bridge can send), edges whose screen requires anything else are
        not usable; ``None`` means every known edge counts.
        """
        source, target = source.lower(), target.lower()
        if source == target:
            return []
        frontier: deque[tuple[str, list[Edge]]] = deque([(source, [])])
        seen = {source}
        while frontier:
            status, path = frontier.popleft()
            for edge in self.edges.get(status, []):
                if edge.to in seen or not _usable(edge, fields):
                    continue
                if edge.to == target:
                    return [*path, edge]
                seen.add(edge.to)
                frontier.append((edge.to, [*path, edge]))
        return None

    def exploration(
        self, source: str, target: str, explored: set[str], fields: set[str] | None = None
    ) -> list[Edge] | None:
        """A path to the best status whose edges are unknown, or ``None`` when nothing is left to explore.

        "Best": the category closest to the target's first (when the target's category is known), then
        the fewest steps, so exploration heads toward "done" for a done status and does not wander.
        """
        source = source.lower()
        target_rank = CATEGORY_RANK.get(self.categories.get(target.lower(), ""))
        frontier: deque[tuple[str, list[Edge]]] = deque([(source, [])])
        seen = {source}
        candidates: list[tuple[int, int, list[Edge]]] = []
        while frontier:
            status, path = frontier.popleft()
            for edge in self.edges.get(status, []):
                if edge.to in seen or not _usable(edge, fields):
                    continue
                seen.add(edge.to)
                step = [*path, edge]
                if edge.to not in self.edges and edge.to not in explored:
                    rank = CATEGORY_RANK.get(edge.to_category or "", 1)
                    distance = abs(rank - target_rank) if target_rank is not None else 0
                    candidates.append((len(step), distance, step))
                else:
                    frontier.append((edge.to, step))
        if not candidates:
            return None
        candidates.sort(key=lambda c: (c[1], c[0]))
        return candidates[0][2]


def _usable(edge: Edge, fields: set[str] | None) -> bool:
    return fields is None or all(f in fields for f, required in edge.screen.items() if required)
