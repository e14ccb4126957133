"""The issue's linked count after one record left a link that other records still share.

A record leaves alone when it is deleted, merged into an unlinked ticket's neighbour, or detached on a
route exit (``links.on_route_exit: detach``): the issue stays linked to the others, and with a
``links.linked_count_*`` option it must show the smaller count. Pure: the executor and the planner both
ask here; the executor fills in the count from the stored link when the action runs.
"""

from __future__ import annotations

from bridge.core.actions import MarkLinked
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Link


def recount(mapping: MappingSpec, link: Link, *, left: int = 1) -> MarkLinked | None:
    """The :class:`MarkLinked` showing ``link``'s count once ``left`` of its records left, or ``None``
    when the mapping shows no count or no record stays (a closed link is not counted again)."""
    links = mapping.links
    remaining = len(link.records) - left
    if remaining <= 0 or not (links.linked_count_field or links.linked_count_label_prefix):
        return None
    return MarkLinked(mapping.name, link.id, link.issue, links.jira_label, links.linked_count_field,
                      links.linked_count_label_prefix, count=remaining)


__all__ = ["recount"]
