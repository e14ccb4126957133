"""A backlog carried between cycles in the process: what a budgeted cycle left out is read by id next time.

A cycle with more changes than its budget (:mod:`bridge.sync.budget`) applies a share and leaves the rest.
The stored cursor of a side with left-out changes stays where it was (:func:`bridge.sync.watermarks.advance`,
``stay``), so a restart reads them again: the store stays the truth. Re-searching from that cursor in every
cycle of a long backlog, though, pages through everything that is left each time (at 10,000 records,
20 pages per cycle for 50 records applied), and the drain slows as the backlog grows.

So the engine keeps, per mapping, in process memory only (:class:`Backlog`, on
:attr:`bridge.sync.engine.Engine.backlogs`):

* the left-out items of each side (:class:`Carried`: the id to read them by, their ``updated`` to take the
  oldest first, whether a link held them);
* where each side's search reached (the newest ``updated`` it returned): the next cycle searches only from
  there, for NEW changes (:func:`search_windows`);
* where the last **sweep** reached: the overlap window exists for changes a vendor shows late (Jira Cloud's
  index is eventually consistent; a ServiceNow transaction commits after the ``sys_updated_on`` it stamps).
  Re-reading it in every backlog cycle re-pages bridge's own writes of the last two to three minutes (at ten
  new issues a second, 17 Jira pages per 20-second cycle, most of a cycle's reads). So a carried search
  starts at the position itself, and once per overlap window (:func:`sweep_due`) a sweep starts at the last
  sweep's position minus the overlap: a change shown late is then found at most one window later, never
  lost (the proof is in :func:`search_windows`). When the carry-over ends, the stored cursor moves no
  further than the last sweep reached (:func:`cursor_ceiling`), so the search from it covers what only a
  sweep would have found;
* the stored cursors it was made against: when they moved (another replica took over, ``sync --since``
  replayed a window) or the cycle replays a window, the carry-over is dropped and the next search starts
  from the stored cursor again.

The next cycle reads the next budget's worth of carried ids with one batched ``get_many`` per side (an item
deleted meanwhile is simply not returned, so it leaves the carry-over), and puts them in front of the new
search's items: :func:`bridge.sync.reading.read_side` dedupes by id (the newest version wins, so a carried
item changed again is synced at its newest version) and the budget takes from both ends as before. The
comments of every item are still read from the STORED cursor's window (a carried position later than a
comment written before it must not hide that comment), so only the change searches move.

It also holds the **pace** of the last budgeted cycle (actions applied per second of writing): the budget of
the next cycle is that pace times :data:`TIME_SHARE` of ``engine.cycle_seconds``, never less than
``engine.cycle_budget`` (:func:`budget_for`), so backlog cycles last about as long as the time bound allows
instead of paying a cycle's fixed cost (searches, planning) every 50 records.

This module is pure (no store, no connector): the cycle (:mod:`bridge.sync.cycle`) does the reading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.connectors.unreadable import Unreadable
from bridge.model import Item, Ref, Side

#: the share of ``engine.cycle_seconds`` a backlog cycle plans writes for, at the pace the last budgeted cycle
#: measured: the rest is left for reconciling, the searches and planning, so the time bound does not cut the
#: writes (a cut leaves pending actions the next cycle must reconcile first)
TIME_SHARE = 0.8

#: carried items per side at the most (about 600 bytes each with their dict entry: 3 MB). A larger backlog is
#: carried in part; once that part is read, the carry-over is dropped and the next search starts from the
#: held stored cursor again, which finds the rest (a 100,000-record first sync re-pages its search every 5,000)
CARRY_CAP = 5_000


@dataclass(frozen=True, slots=True)
class Carried:
    """One left-out change: enough to read the item by id and to take the oldest first."""

    ref: Ref
    updated: datetime
    #: a stored link holds the item (its marker is then no evidence of a duplicate, :func:`markers_of_new`)
    linked: bool = False

    @classmethod
    def of(cls, ref: Ref, updated: datetime, linked: bool) -> Carried:
        """Without the item's URL (a read by id needs its id and kind; a URL is the largest part of a ref)."""
        return cls(Ref(ref.side, ref.kind, ref.id, ref.key) if ref.url else ref, updated, linked)


@dataclass
class CarryOver:
    """What a budgeted cycle left for the next ones (see the module docstring)."""

    #: the stored cursors when it was made (after that cycle moved them): a different one drops it
    cursors: dict[Side, datetime | None]
    #: per side, the newest ``updated`` the searches returned: the next search starts there (minus the lag)
    position: dict[Side, datetime | None]
    #: per side, the left-out items by id
    items: dict[Side, dict[str, Carried]] = field(default_factory=dict)
    #: markers of carried records without a link that an issue in a Jira search of this carry-over carried:
    #: while one is carried, the Jira cursor stays (:func:`bridge.sync.carrying.finish`)
    marked: set[str] = field(default_factory=set)
    #: sides with changes left out that it does not list (over :data:`CARRY_CAP`): their cursors stay, and once
    #: the listed ones are read the carry-over is dropped, so the search from the stored cursor finds the rest
    overflow: set[Side] = field(default_factory=set)
    #: per side, the newest ``updated`` of the last sweep (a search that started an overlap window early)
    swept: dict[Side, datetime | None] = field(default_factory=dict)
    #: the engine's clock when the last sweep was read (:func:`sweep_due`)
    swept_at: datetime | None = None
    #: the Jira searches of this carry-over form a chain that covers everything since the stored Jira cursor:
    #: the first one started at or before it, and each was read to its end (:func:`chain_covers`)
    chain: bool = False
    #: marker tokens of the records carried without a link since that first search (``marked`` lists which of
    #: them an issue in one of the chain's searches carried)
    watched: set[str] = field(default_factory=set)

    def count(self) -> int:
        return sum(len(items) for items in self.items.values())

    def sides(self) -> set[Side]:
        return {side for side, items in self.items.items() if items} | self.overflow

    def exhausted(self) -> bool:
        """Nothing listed is left on a side that overflowed: the rest must be searched for again."""
        return any(not self.items.get(side) for side in self.overflow)


@dataclass
class Backlog:
    """One mapping's backlog state in this process."""

    carry: CarryOver | None = None
    #: actions applied per second of writing by the last cycle that left changes for later (``None``: that
    #: cycle left nothing, the next one gets ``engine.cycle_budget``)
    pace: float | None = None
    #: actions planned per changed item by that cycle (how many items a budget of actions needs)
    per_item: float = 1.0
    #: carried items per side at the most (:data:`CARRY_CAP`)
    cap: int = CARRY_CAP


def usable(
    backlog: Backlog, cursors: Mapping[Side, datetime | None], *, since: datetime | None
) -> CarryOver | None:
    """The carry-over the cycle may use, or ``None``; one made against other cursors, or a cycle replaying a
    window (``since``), drops it: the search then starts from the stored cursor, which still covers it."""
    carry = backlog.carry
    if carry is None:
        return None
    if since is not None or any(carry.cursors.get(side) != cursors[side] for side in Side) or not carry.count() \
            or carry.exhausted():
        backlog.carry = None
        return None
    return carry


def sweep_due(carry: CarryOver | None, now: datetime, overlap: timedelta) -> bool:
    """True when this cycle's carried searches must sweep: one overlap window has passed since the last sweep
    (or none is known). A cycle without a carry-over searches from the stored cursor, which sweeps anyway."""
    return carry is None or carry.swept_at is None or now - carry.swept_at >= overlap


def search_windows(
    carry: CarryOver | None,
    window: Mapping[Side, datetime | None],
    overlap: Mapping[Side, timedelta],
    *,
    sweep: bool = True,
    light: Mapping[Side, timedelta] | None = None,
) -> dict[Side, datetime | None]:
    """Where each side's change search starts. Without a carry-over: the stored window. With one: a light
    search from the carried position (minus ``light``: zero, or for an adapter that moves its query back by
    its own ``overlap`` — the Jira one — minus that, so the query still starts at the position), or, when
    ``sweep``, from the last sweep's position minus ``overlap``. Never earlier than the stored window.

    Why nothing shown late is lost, with ``L`` the overlap window, ``T`` the vendor's time of a search and
    ``P`` the position it reached (``P <= T``): a change stamped ``t`` that a search did not show yet is
    shown by ``t + L`` (what the overlap window assumes anyway) and, if a light search missed it, has
    ``t > T - L`` for that search, which ran after the last sweep, so ``t > T_sweep - L >= P_sweep - L``: the
    next sweep starts early enough. If that sweep runs before ``t + L`` and misses it too, the same holds
    for the sweep after it. When the carry-over ends, the stored cursor is at most the last sweep's position
    (:func:`cursor_ceiling`), and the search from it (minus ``L``) takes over the same guarantee.
    """
    if carry is None:
        return dict(window)
    shift = light or {}
    result: dict[Side, datetime | None] = {}
    for side in Side:
        basis = carry.swept.get(side) if sweep else carry.position.get(side)
        if basis is None:
            basis = carry.position.get(side)
        start = window[side]
        candidate = None if basis is None else basis - (overlap[side] if sweep else shift.get(side, timedelta(0)))
        later = candidate is not None and (start is None or candidate > start)
        result[side] = candidate if later else start
    return result


def cursor_ceiling(carry: CarryOver | None) -> dict[Side, datetime | None]:
    """The furthest each side's stored cursor may move when a carry-over ends: the last sweep's position
    (``None``: no ceiling). A cursor further on would let the next search, which starts an overlap window
    before it, miss a change a light search did not show yet (:func:`search_windows`)."""
    if carry is None:
        return {side: None for side in Side}
    return {side: carry.swept.get(side) for side in Side}


def take(carry: CarryOver | None, limit: int | None) -> dict[Side, list[Ref]]:
    """The carried items this cycle reads by id: the ``limit`` oldest per side (all without a limit). They
    stay in the carry-over until the cycle settles them (:func:`carry_next`)."""
    if carry is None:
        return {side: [] for side in Side}
    taken: dict[Side, list[Ref]] = {}
    for side in Side:
        ordered = sorted(carry.items.get(side, {}).values(), key=lambda c: (c.updated, c.ref.id))
        taken[side] = [c.ref for c in (ordered if limit is None else ordered[:limit])]
    return taken


def tracked(items: Iterable[Item | Unreadable], reached: dict[str, datetime]) -> Iterator[Item | Unreadable]:
    """``items`` unchanged, noting in ``reached["updated"]`` the newest ``updated`` among them (a search's
    position)."""
    for item in items:
        if isinstance(item, Item) and ("updated" not in reached or item.updated > reached["updated"]):
            reached["updated"] = item.updated
        yield item


def carry_next(
    previous: CarryOver | None,
    taken: Mapping[Side, Iterable[Ref]],
    left: Iterable[Carried],
    position: Mapping[Side, datetime | None],
    overflow: Iterable[Side] = (),
    cap: int = CARRY_CAP,
    *,
    swept: bool = True,
    now: datetime | None = None,
) -> CarryOver | None:
    """The carry-over after a cycle: what the previous one held and this cycle did not read, plus what this
    cycle read and did not settle (``left``). ``None`` when nothing is left. The cursors are set by the caller
    once it has moved them. ``swept``: this cycle's searches were sweeps (a cycle without a carry-over always
    is), read at ``now`` (the engine's clock)."""
    items: dict[Side, dict[str, Carried]] = {side: {} for side in Side}
    if previous is not None:
        read = {ref.id for refs in taken.values() for ref in refs}
        for side in Side:
            items[side] = {i: c for i, c in previous.items.get(side, {}).items() if i not in read}
    over = set(overflow) | (previous.overflow if previous is not None else set())
    for carried in left:
        items[carried.ref.side][carried.ref.id] = carried
    for side in Side:
        if len(items[side]) > cap:  # the oldest are kept; the search from the held cursor finds the rest
            kept = sorted(items[side].values(), key=lambda c: (c.updated, c.ref.id))[:cap]
            items[side] = {c.ref.id: c for c in kept}
            over.add(side)
    if not any(items.values()) and not over:
        return None
    reached = {side: _later(previous.position.get(side) if previous is not None else None, position.get(side))
               for side in Side}
    if swept or previous is None:
        sweep = {side: _later(previous.swept.get(side) if previous is not None else None, position.get(side))
                 for side in Side}
        swept_at = now
    else:
        sweep, swept_at = dict(previous.swept), previous.swept_at
    return CarryOver(cursors={}, position=reached, items=items, marked=set(previous.marked) if previous else set(),
                     overflow=over, swept=sweep, swept_at=swept_at, chain=previous.chain if previous else False,
                     watched=set(previous.watched) if previous else set())


def _later(before: datetime | None, now: datetime | None) -> datetime | None:
    return max(before, now) if before is not None and now is not None else (now or before)


def chain_covers(carry: CarryOver | None, tokens: Iterable[str]) -> set[str]:
    """The records of ``tokens`` whose marker check the Jira searches of ``carry`` answer: the chain covers
    everything since the stored Jira cursor, and each of these records was watched from its first search (an
    issue carrying its marker in any of them is in ``marked``; :mod:`bridge.sync.partners`). A light search
    starts after the Jira cursor, which the cursor ceiling keeps back at the last sweep, so the search alone
    does not cover it; the chain does."""
    if carry is None or not carry.chain:
        return set()
    return set(tokens) & carry.watched


def markers_of_new(carry: CarryOver | None) -> set[str]:
    """The marker tokens of the carried records no link holds (records a later cycle may create an issue for)."""
    if carry is None:
        return set()
    return {c.ref.token for c in carry.items.get(Side.ITSM, {}).values() if not c.linked}


def budget_for(base: int | None, seconds: float | None, backlog: Backlog) -> int | None:
    """The action budget of the next cycle: ``base`` (``engine.cycle_budget``), or after a budgeted cycle
    the actions its pace applies in :data:`TIME_SHARE` of ``seconds`` (``engine.cycle_seconds``) if more."""
    if not base:
        return base
    if backlog.pace is None or not seconds:
        return base
    return max(base, int(backlog.pace * seconds * TIME_SHARE))


def item_limit(budget: int | None, base: int | None, backlog: Backlog) -> int | None:
    """How many changed items a cycle reads further and plans for a budget of actions: each costs
    ``per_item`` actions (measured by the last budgeted cycle), so a time-sized budget does not read and plan
    four times the records it can apply; never fewer than ``base`` (``engine.cycle_budget``), as without a
    measured pace (changes that plan nothing, such as echoes, still count as items)."""
    if not budget:
        return budget
    return max(base or 1, math.ceil(budget / max(1.0, backlog.per_item)))


def measure(backlog: Backlog, *, budgeted: bool, applied: int, seconds: float, planned: int, items: int) -> None:
    """Remember the pace of a cycle that left changes for later (none when it left nothing: the next cycle
    starts from ``engine.cycle_budget`` again). A cycle that applied little tells nothing about the pace."""
    if not budgeted:
        backlog.pace = None
        return
    if items:
        backlog.per_item = max(1.0, planned / items)
    if applied >= 10 and seconds > 0.5:
        backlog.pace = applied / seconds


__all__ = [
    "CARRY_CAP", "TIME_SHARE", "Backlog", "Carried", "CarryOver", "budget_for", "carry_next", "chain_covers",
    "cursor_ceiling",
    "item_limit", "markers_of_new", "measure", "search_windows", "sweep_due", "take", "tracked", "usable",
]
