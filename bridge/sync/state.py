"""Re-export of :mod:`bridge.core.state`, where the planner's state values live (below both sync and store)."""

from bridge.core.state import Changes, CommentPair, ItemState, LinkState, PlanInput, index_links

__all__ = ["Changes", "CommentPair", "ItemState", "LinkState", "PlanInput", "index_links"]
