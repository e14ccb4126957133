"""The action budget of one cycle (``engine.cycle_budget``): a backlog drains over several cycles.

Without a bound, a cycle that finds 2,000 new records works through all of them before it ends, and a
change made meanwhile waits for the whole backlog: minutes, not one interval. With a budget of N
actions a cycle applies about N and leaves the rest for the next cycles, which the daemon starts at once
(:mod:`bridge.daemon`), so the backlog still drains at the vendors' pace while every cycle stays short.

What is left out must be found again, never skipped:

* Actions are kept or left out by **unit**: every item a link joins, plus every item an action touches
  (a create and its follow-ups, a fan-in), so no link is ever half planned.
* A side with any left-out change keeps its stored cursor where it was (:func:`bridge.sync.watermarks.advance`,
  ``stay``), and the process carries the left-out changes over to the next cycles, which read them by id
  (:mod:`bridge.sync.carryover`); their comments are read from the stored cursor's window (a cursor moved
  to the oldest left-out change could pass comments written before it). After a restart the search from
  the held cursor finds them again; the changes applied meanwhile are skipped by their processed version.
* After a budgeted cycle the budget is sized by the pace that cycle achieved (:func:`bridge.sync.carryover.budget_for`):
  the functions here take the budget the cycle passes, not ``engine.cycle_budget`` itself.
* The order is fair both ways: units are taken alternately from the newest end (a change made during a
  backlog is mirrored in the next cycle) and from the oldest end (a steady flow of new changes never
  starves the backlog). The kept units are applied newest first, so the cycle's time bound
  (``engine.cycle_seconds``, :mod:`bridge.sync.deadline`) cuts the backlog's share, not the new changes.

This module is pure: actions and items in, the kept actions and the left-out item ids out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bridge.core.actions import Action
from bridge.core.state import LinkState
from bridge.model import Item, Side
from bridge.sync.watermarks import refs_of


@dataclass(frozen=True, slots=True)
class Budgeted:
    """The actions a cycle applies now, and the ids of the changed items left for a later cycle."""

    actions: list[Action]
    deferred: frozenset[str] = field(default_factory=frozenset)


class _Units:
    """Union-find over item ids: two ids in one unit are planned and applied together."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, item_id: str) -> str:
        parent = self._parent.setdefault(item_id, item_id)
        if parent != item_id:
            parent = self._parent[item_id] = self.find(parent)
        return parent

    def join(self, ids: Iterable[str]) -> None:
        first: str | None = None
        for item_id in ids:
            root = self.find(item_id)
            if first is None:
                first = root
            elif root != first:
                self._parent[root] = first


def within_budget(
    actions: Sequence[Action],
    changed: Sequence[Item],
    links: Iterable[LinkState],
    budget: int | None,
) -> Budgeted:
    """Keep about ``budget`` actions (see the module docstring); ``None`` or 0 keeps them all.

    A unit is never split, so a cycle may exceed the budget by the size of its last unit, and always
    applies at least one unit (a unit larger than the budget still progresses).
    """
    if not budget or len(actions) <= budget:
        return Budgeted(list(actions))
    units = _linked_units(links)
    for action in actions:
        units.join(sorted(refs_of(action)))
    newest, members = _changed_by_unit(changed, units)
    roots = [units.find(next(iter(sorted(refs_of(action))), "")) for action in actions]  # each action's unit
    size: dict[str, int] = {}
    for root in roots:
        size[root] = size.get(root, 0) + 1
    # units without a changed item (a followed duplicate's cleanup) are always applied: they hold no cursor
    always = {root for root in size if root not in newest}
    ordered = sorted((root for root in size if root in newest), key=lambda root: (newest[root], root))
    kept = _alternate(ordered, size, budget - sum(size[root] for root in always)) | always
    deferred = frozenset(item_id for root in ordered if root not in kept for item_id in members[root])
    # newest units first: a change made during a backlog is applied at the start of the cycle, not after
    # the budget's worth of old ones (and first if the cycle's time runs out). Units are independent, and
    # the sort is stable, so each unit keeps its own order (a create before its follow-ups).
    rank = {root: position for position, root in enumerate(reversed(ordered))}
    last = len(rank)
    kept_actions = [a for _, a in sorted(
        ((root, a) for root, a in zip(roots, actions, strict=True) if root in kept),
        key=lambda pair: rank.get(pair[0], last),
    )]
    return Budgeted(kept_actions, deferred)


def _linked_units(links: Iterable[LinkState]) -> _Units:
    """Units seeded with the stored links: an issue and all its records move together."""
    units = _Units()
    for state in links:
        units.join([state.link.issue.id, *(r.id for r in state.link.records)])
    return units


def _changed_by_unit(changed: Sequence[Item], units: _Units) -> tuple[dict[str, datetime], dict[str, list[str]]]:
    """Per unit, its newest change (the fair order's key) and its changed items (what a deferral leaves)."""
    newest: dict[str, datetime] = {}
    members: dict[str, list[str]] = {}
    for item in changed:
        root = units.find(item.ref.id)
        members.setdefault(root, []).append(item.ref.id)
        if root not in newest or item.updated > newest[root]:
            newest[root] = item.updated
    return newest, members


def _alternate(ordered: Sequence[str], size: Mapping[str, int], budget: int) -> set[str]:
    """Units taken alternately from the newest end and the oldest end of ``ordered`` (oldest first) until
    their sizes reach ``budget``; at least one unit."""
    kept: set[str] = set()
    used, low, high, from_newest = 0, 0, len(ordered) - 1, True
    while low <= high and (used < budget or not kept):
        if from_newest:
            root, high = ordered[high], high - 1
        else:
            root, low = ordered[low], low + 1
        from_newest = not from_newest
        kept.add(root)
        used += size[root]
    return kept


def precut(changed: Sequence[Item], links: Iterable[LinkState], budget: int | None) -> frozenset[str]:
    """Before anything is read for them: the changed items left for a later cycle when there are more
    than ``budget`` of them (each changed item costs at least about one action). Their comments, their
    adoption search and their planning then wait too, so a backlog is not re-read in full every cycle.
    Same units and the same fair order as :func:`within_budget`."""
    if not budget or len(changed) <= budget:
        return frozenset()
    newest, members = _changed_by_unit(changed, _linked_units(links))
    ordered = sorted(newest, key=lambda root: (newest[root], root))
    kept = _alternate(ordered, {root: len(ids) for root, ids in members.items()}, budget)
    return frozenset(item_id for root in ordered if root not in kept for item_id in members[root])


def deferred_sides(changed: Sequence[Item], deferred: frozenset[str]) -> set[Side]:
    """The sides with a left-out change: their cursors stay where they are."""
    return {item.ref.side for item in changed if item.ref.id in deferred}


def link_states(by_record: Mapping[str, LinkState], by_issue: Mapping[str, LinkState]) -> list[LinkState]:
    """Each link state once (a link is indexed under its issue and under each of its records)."""
    unique: dict[int, LinkState] = {}
    for state in [*by_record.values(), *by_issue.values()]:
        unique[state.link.id] = state
    return list(unique.values())
