"""Path finding over a partly known workflow."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.connectors.jira_workflow import WorkflowGraph


def transition(tid: str, to: str, category: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": tid,
        "name": f"to {to}",
        "to": {"name": to, "statusCategory": {"key": category}},
        "fields": {f: {"required": True} for f in required},
    }


def graph() -> WorkflowGraph:
    g = WorkflowGraph()
    g.learn("To Do", [transition("11", "In Progress", "indeterminate")])
    g.learn("In Progress", [transition("21", "In Review", "indeterminate"), transition("31", "To Do", "new")])
    g.learn(
        "In Review",
        [transition("41", "Done", "done", ("resolution",)), transition("51", "In Progress", "indeterminate")],
    )
    return g


def test_breadth_first_path_with_fewest_steps() -> None:
    assert [e.id for e in graph().path("To Do", "Done") or []] == ["11", "21", "41"]
    assert graph().path("done", "done") == []
    assert graph().path("To Do", "Closed") is None


def test_edges_needing_unsent_fields_are_not_usable() -> None:
    assert graph().path("To Do", "Done", set()) is None
    assert [e.id for e in graph().path("To Do", "Done", {"resolution"}) or []] == ["11", "21", "41"]


def test_exploration_heads_for_the_target_category() -> None:
    g = WorkflowGraph()
    g.learn("Open", [transition("1", "Triage", "new"), transition("2", "Fixing", "indeterminate")])
    g.categories["closed"] = "done"
    step = g.exploration("Open", "Closed", set())
    assert step is not None
    assert step[0].to == "fixing"
    assert g.exploration("Open", "Closed", {"fixing", "triage"}) is None


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=25), st.integers(0, 6), st.integers(0, 6))
def test_paths_found_are_valid_and_shortest(edges: list[tuple[int, int]], source: int, target: int) -> None:
    g = WorkflowGraph()
    outgoing: dict[int, list[int]] = {}
    for a, b in edges:
        outgoing.setdefault(a, []).append(b)
    for a, targets in outgoing.items():
        g.learn(f"S{a}", [transition(f"{a}-{b}-{k}", f"S{b}", "indeterminate") for k, b in enumerate(targets)])
    path = g.path(f"S{source}", f"S{target}")
    # reference: plain BFS distances
    dist = {source: 0}
    frontier = [source]
    while frontier:
        nxt = []
        for node in frontier:
            for b in outgoing.get(node, []):
                if b not in dist:
                    dist[b] = dist[node] + 1
                    nxt.append(b)
        frontier = nxt
    if target not in dist:
        assert path is None
        return
    assert path is not None
    assert len(path) == dist[target]
    here = f"s{source}"
    for edge in path:
        assert edge in g.edges[here]
        here = edge.to
    assert here == f"s{target}"
