"""Reading one side's change search in chunks, holding only what the cycle can use (bounded memory).

A search may return 100,000 items (a first sync, ``sync --since``, a mass update). Holding them all,
with the stored state of each one's link, costs hundreds of megabytes. :func:`read_side` consumes the
search as it is paged, a chunk at a time: each chunk is classified at once (its links' states loaded, the
items already processed dropped, by the ``classify`` function the cycle passes), and of the changed items
only the ``limit`` oldest and the ``limit`` newest are kept (the cycle budget takes from both ends,
:mod:`bridge.sync.budget`). The ids of the changed items between them are remembered, nothing more:
they are left for the next cycles, which read them by id (:mod:`bridge.sync.carryover`); a side with a
left-out change keeps its stored cursor (:func:`bridge.sync.watermarks.advance`, ``stay``), so a restart
finds them again by searching from it.

Without a budget (``limit`` ``None``) every changed item is kept, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from bridge.connectors.unreadable import Unreadable
from bridge.core.state import LinkState
from bridge.model import Item
from bridge.sync.carryover import CARRY_CAP, Carried
from bridge.sync.watermarks import dedupe

#: items classified together: one store query for their links' states
CHUNK = 500

#: ``classify(chunk)`` -> the changed items of the chunk, and the link state of each linked item in it
Classify = Callable[[list[Item]], tuple[list[Item], dict[str, LinkState]]]


@dataclass
class SideRead:
    """What one side's search gave a cycle."""

    #: changed items kept for this cycle, one per id, oldest first
    changed: list[Item] = field(default_factory=list)
    #: the link state of each kept item that has a link
    states: dict[str, LinkState] = field(default_factory=dict)
    #: ids of changed items not kept (left for a later cycle)
    dropped: set[str] = field(default_factory=set)
    #: each of them, to read it by id in a later cycle (:mod:`bridge.sync.carryover`)
    left: dict[str, Carried] = field(default_factory=dict)
    #: more were dropped than :data:`~bridge.sync.carryover.CARRY_CAP`: those are found again by searching
    overflow: bool = False
    cap: int = CARRY_CAP
    unreadable: list[Unreadable] = field(default_factory=list)
    #: distinct items the search returned
    seen: int = 0
    #: the newest item returned (its ``updated`` is where the cursor may go when nothing is left out)
    newest: Item | None = None


def read_side(
    items: Iterable[Item | Unreadable], classify: Classify, limit: int | None, cap: int = CARRY_CAP
) -> SideRead:
    """See the module docstring. ``cap``: how many dropped items are remembered to read by id later."""
    result = SideRead(cap=cap)
    ids: set[str] = set()
    oldest: dict[str, Item] = {}
    latest: deque[Item] = deque()
    stream = iter(items)
    while chunk := list(islice(stream, CHUNK)):
        readable: list[Item] = []
        for item in chunk:
            if isinstance(item, Unreadable):
                result.unreadable.append(item)
            else:
                readable.append(item)
        ids.update(i.ref.id for i in readable)
        for item in readable:
            if result.newest is None or item.updated >= result.newest.updated:
                result.newest = item
        changed, states = classify(dedupe(readable))
        for item in changed:
            if item.ref.id in states:
                result.states[item.ref.id] = states[item.ref.id]
            if limit is None or item.ref.id in oldest or len(oldest) < limit:
                oldest[item.ref.id] = item
                continue
            latest.append(item)
            if len(latest) > limit:
                gone = latest.popleft()
                result.dropped.add(gone.ref.id)
                _leave(result, Carried.of(gone.ref, gone.updated, gone.ref.id in result.states))
    result.seen = len(ids)
    kept = dedupe([*oldest.values(), *latest])
    # an id left out once is left out entirely (a later version of it may still sit in ``latest``)
    result.changed = [i for i in kept if i.ref.id not in result.dropped]
    result.states = {i.ref.id: result.states[i.ref.id] for i in result.changed if i.ref.id in result.states}
    return result


def whole_units(sides: Sequence[SideRead], waiting: Collection[str] = ()) -> None:
    """Leave out every kept item whose link has an item left out (on either side): the changes of one
    link are planned together or not at all, or one side's change could overwrite the other's.
    ``waiting``: changes left out by an earlier cycle that this one does not read (still carried,
    :mod:`bridge.sync.carryover`) count as left out too."""
    dropped = set().union(*(side.dropped for side in sides), waiting)
    if not dropped:
        return
    for side in sides:
        keep: list[Item] = []
        for item in side.changed:
            state = side.states.get(item.ref.id)
            members = {state.link.issue.id, *(r.id for r in state.link.records)} if state is not None else set()
            if members & dropped:
                side.dropped.add(item.ref.id)
                _leave(side, Carried.of(item.ref, item.updated, state is not None))
                side.states.pop(item.ref.id, None)
            else:
                keep.append(item)
        side.changed = keep


def _leave(read: SideRead, carried: Carried) -> None:
    """Remember a dropped item to read it by id later, up to the cap (bounded memory)."""
    if len(read.left) < read.cap or carried.ref.id in read.left:
        read.left[carried.ref.id] = carried
    else:
        read.overflow = True
