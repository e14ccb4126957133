"""The cycle's side of the carried backlog (:mod:`bridge.sync.carryover`): its searches and what it leaves.

:func:`begin` decides, before a cycle reads, whether the carry-over of the mapping is usable, where each
side's search starts, the budget, and which carried items are read by id; :func:`stream` yields one side's
items (the carried ones first, read with one batched ``get_many``, then the change search);
:func:`finish` builds the next carry-over from what the cycle did not settle and moves the cursors.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from bridge.connectors.unreadable import Unreadable
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item, Ref, Side
from bridge.sync.carryover import (
    Carried,
    CarryOver,
    budget_for,
    carry_next,
    chain_covers,
    cursor_ceiling,
    item_limit,
    markers_of_new,
    search_windows,
    sweep_due,
    take,
    tracked,
    usable,
)
from bridge.sync.engine import Engine
from bridge.sync.partners import search_covers
from bridge.sync.watermarks import advance


@dataclass
class Searches:
    """How a cycle reads (see the module docstring)."""

    #: the carry-over in use (``None``: the searches start from the stored cursors)
    carry: CarryOver | None
    #: where each side's change search starts
    windows: dict[Side, datetime | None]
    #: the action budget of the cycle (``None``: none) and the changed items it needs
    budget: int | None
    limit: int | None
    #: the carried items read by id this cycle
    taken: dict[Side, list[Ref]] = field(default_factory=dict)
    #: the newest ``updated`` each side's search returned (the next carry-over's position)
    reached: dict[Side, dict[str, datetime]] = field(default_factory=dict)
    #: the searches start an overlap window early (no carry-over, or one due for a sweep: carryover.sweep_due)
    sweep: bool = True
    #: the engine's clock when the cycle began (a sweep's time)
    began: datetime | None = None
    #: the window a cycle replays (``sync --since``): its search starts no chain (carryover.chain_covers)
    since: datetime | None = None


def begin(
    engine: Engine, spec: MappingSpec, cursors: Mapping[Side, datetime | None], window: Mapping[Side, datetime | None],
    since: datetime | None, *, carrying: bool,
) -> Searches:
    """``carrying``: a polling cycle that may use and update the carry-over (not ``bridge plan``, not a hinted
    mini-cycle: those neither read nor disturb it)."""
    backlog = engine.backlog(spec.name)
    carry = usable(backlog, cursors, since=since) if carrying else None
    budget = budget_for(engine.options.cycle_budget, engine.options.cycle_seconds, backlog) if carrying \
        else engine.options.cycle_budget
    limit = item_limit(budget, engine.options.cycle_budget, backlog) if carrying else budget
    now = engine.clock()
    sweep = sweep_due(carry, now, engine.options.overlap)
    windows = search_windows(carry, window, overlaps(engine), sweep=sweep, light=adapter_overlaps(engine))
    return Searches(carry, windows, budget, limit, take(carry, limit), {side: {} for side in Side}, sweep, now,
                    since)


def overlaps(engine: Engine) -> dict[Side, timedelta]:
    """The overlap window each side's carried search subtracts itself: ``engine.overlap`` minus what the adapter
    already moves its query back by (the Jira adapter's ``overlap``, 2 minutes, before flooring to JQL's
    minute: docs/connectors/jira.md, "Limits bridge honours"). The window is then the overlap once, not twice:
    at 10 new issues a second, two more minutes are 12 more pages of bridge's own issues in every cycle."""
    result: dict[Side, timedelta] = {}
    for side, connector in engine.connectors.items():
        own = getattr(connector, "overlap", None)
        result[side] = max(engine.options.overlap - own, timedelta(0)) if isinstance(own, timedelta) \
            else engine.options.overlap
    return result


def adapter_overlaps(engine: Engine) -> dict[Side, timedelta]:
    """How far each side's adapter moves a query back by itself (the Jira one: its ``overlap``), which a light
    carried search adds back so that it starts at the carried position."""
    result: dict[Side, timedelta] = {}
    for side, connector in engine.connectors.items():
        own = getattr(connector, "overlap", None)
        result[side] = -own if isinstance(own, timedelta) else timedelta(0)
    return result


def query_start(engine: Engine, searches: Searches, side: Side) -> datetime | None:
    """Where ``side``'s change search really started: its window minus what the adapter moved it back by
    itself (the Jira one: its ``overlap``), before the vendor's own rounding down. What
    :func:`bridge.sync.partners.search_covers` compares with the stored cursor: a light carried search hands
    the Jira adapter its position plus that overlap, and still starts at the position."""
    window = searches.windows[side]
    return None if window is None else window + adapter_overlaps(engine).get(side, timedelta(0))


def stream(
    engine: Engine, spec: MappingSpec, searches: Searches, side: Side, fields: Sequence[str]
) -> Iterator[Item | Unreadable]:
    """One side's items for :func:`bridge.sync.reading.read_side`: the carried ones taken (oldest first, read
    now by id: one deleted since is not returned, so it leaves the carry-over), then the change search.
    The vendor's time of the search is measured from the search alone (``calls.start_window``)."""
    connector = engine.connectors[side]
    refs = searches.taken.get(side, [])
    if refs:
        yield from connector.get_many(refs, fields)
    connector.calls.start_window()
    yield from tracked(connector.search_changed(spec, searches.windows[side], fields), searches.reached[side])


#: items a side read ahead may hold at most while the other side is read (bounded memory: 2 of the reading's
#: chunks, about 2.5 MB; the reading thread waits when the cycle has not taken them yet)
AHEAD = 1000
_DONE = object()


class ReadAhead:
    """One side's :func:`stream` paged in a thread while the cycle reads the other side (``engine.parallel_sides``:
    the two vendors answer at once, so a backlog cycle's searches cost the slower side's time, not both).

    Only the thread touches that side's connector until the items are taken (:meth:`items`); an error of the
    search is raised where they are taken, as if it had been read there.
    """

    def __init__(self, items: Iterator[Item | Unreadable]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), name="bridge-read-ahead", daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[Item | Unreadable]) -> None:
        try:
            for item in items:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as exc:  # handed to the cycle's thread, raised there
            self._queue.put(exc)

    def items(self) -> Iterator[Item | Unreadable]:
        try:
            while True:
                got = self._queue.get()
                if got is _DONE:
                    return
                if isinstance(got, BaseException):
                    raise got
                yield cast(Item | Unreadable, got)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread (the cycle failed before taking everything) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        self._thread.join()


def waiting(searches: Searches) -> set[str]:
    """The carried changes this cycle does not read (the next cycles will): a link with one of them is
    left out whole this cycle (:func:`bridge.sync.reading.whole_units`)."""
    if searches.carry is None:
        return set()
    read = {ref.id for refs in searches.taken.values() for ref in refs}
    return {i for items in searches.carry.items.values() for i in items if i not in read}


def left_behind(changed: Iterable[Item], unsettled: Collection[str], linked: Collection[str],
                dropped: Iterable[Carried]) -> list[Carried]:
    """The changes of this cycle the next ones must read again: the changed items not settled (left out by
    the budget, or holding a pending action) and the ones the reading dropped."""
    left = [Carried.of(i.ref, i.updated, i.ref.id in linked) for i in changed if i.ref.id in unsettled]
    return [*left, *dropped]


def finish(
    engine: Engine, spec: MappingSpec, searches: Searches, left: Sequence[Carried],
    records: Sequence[Item], issues: Sequence[Item], cursors: Mapping[Side, datetime | None], held: set[str],
    stay: set[Side], idle: Mapping[Side, datetime] | None = None, pending: Collection[str] = (),
    overflow: Collection[Side] = (),
) -> int:
    """Move the cursors and keep the next carry-over; returns how many changes it carries.

    A side with anything carried keeps its stored cursor (a restart searches from it again), except for items
    carried only because an action of theirs is ``pending``: those hold their side's cursor at their own
    change (:func:`bridge.sync.watermarks.advance`), as without a carry-over. The Jira cursor
    also stays while a left-out record without a link has an issue carrying its marker in a Jira search of
    this carry-over: a later search must still show that issue (or, its window being later than the held
    cursor, :func:`bridge.sync.partners.search_covers` is false and the marker search runs), or the marker
    shortcut of :mod:`bridge.sync.partners` would miss it (a restored store, issue 13) and create a second
    issue.
    """
    backlog = engine.backlog(spec.name)
    position = {side: searches.reached[side].get("updated") for side in Side}
    nxt = carry_next(searches.carry, searches.taken, left, position, overflow, backlog.cap,
                     swept=searches.sweep, now=searches.began)
    stay = set(stay)
    if nxt is not None:
        stay |= {side for side, items in nxt.items.items() if any(i not in pending for i in items)} | nxt.overflow
        new = markers_of_new(nxt)
        shown = engine.jira.markers_in_search()  # None: this search was not read to its end
        nxt.marked = (nxt.marked | (new & set(shown or {}))) & new
        if nxt.marked:
            stay.add(Side.JIRA)
        if searches.carry is None:  # a chain starts with a search from at or before the stored Jira cursor
            nxt.chain = search_covers(cursors[Side.JIRA], query_start(engine, searches, Side.JIRA), searches.since,
                                      hinted=False, complete=shown is not None)
            nxt.watched = set(new)
        else:
            nxt.chain = nxt.chain and shown is not None
            nxt.watched = nxt.watched & new
    # After light searches a cursor moves no further than the last sweep reached (carryover.cursor_ceiling).
    ceiling = None if searches.sweep else cursor_ceiling(searches.carry)
    advance(engine, spec, records, issues, cursors, held, idle=None if stay else idle, stay=stay, ceiling=ceiling)
    if nxt is not None:  # as the store gives them back (the next cycle compares them with what it reads)
        nxt.cursors = {side: engine.store.get_cursor(spec.name, side) for side in Side}
    backlog.carry = nxt
    if nxt is None:
        return 0
    return nxt.count() or int(bool(nxt.overflow))  # an overflow with nothing listed: search again at once


def chain_markers(searches: Searches, tokens: Iterable[str]) -> tuple[set[str], set[str]]:
    """The records of ``tokens`` whose marker check the carry-over's chain of Jira searches answers
    (:func:`bridge.sync.carryover.chain_covers`), and the markers an earlier search of it showed."""
    carry = searches.carry
    covered = chain_covers(carry, tokens)
    return covered, set(carry.marked) if carry is not None and covered else set()


__all__ = [
    "ReadAhead", "Searches", "begin", "chain_markers", "finish", "left_behind", "query_start", "stream", "waiting",
]
