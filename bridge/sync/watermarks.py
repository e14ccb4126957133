"""What a cycle has settled: the cursors, and the item versions it fully processed.

A cycle reads every change since its cursors minus an overlap window; these helpers decide which of
those changes are new (:func:`processed`), which are not settled yet because an action of their link is
still pending (:func:`held_items`), and how far each side's cursor may move (:func:`advance`). Split
from :mod:`bridge.sync.cycle`, which calls them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from bridge.core.actions import Action
from bridge.core.state import ItemState, LinkState, index_links
from bridge.errors import StoreError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Issue, Item, Record, Side
from bridge.sync.engine import Engine
from bridge.sync.executor import ActionOutcome
from bridge.sync.pending import pending_record_id

log = get_logger(__name__)


def since_window(override: datetime | None, cursor: datetime | None, overlap: timedelta) -> datetime | None:
    if override is not None:
        return override
    return cursor - overlap if cursor is not None else None


def windows(
    engine: Engine, spec: MappingSpec, since: datetime | None, cursors: Mapping[Side, datetime | None], *, known: bool
) -> dict[Side, datetime | None]:
    """Where each side's search starts (``None``: a full read).

    A mapping's first cycle (``known`` false) reads everything its route selects: the first start
    escalates open records of any age (:mod:`bridge.sync.first_start`). After that, a side without a
    cursor (nothing ever found: an empty route) starts at the clock minus ``backfill_window`` instead of
    paging through the whole table every cycle; ``bridge sync --since`` still reaches further back. A
    mapping with open links keeps its full read, so the safety rail still guards a lost cursor.
    """
    window = {side: since_window(since, cursors[side], engine.options.overlap) for side in Side}
    if since is None and known and None in window.values() and not engine.store.link_count(spec.name, open_only=True):
        start = engine.clock() - engine.options.backfill_window
        window = {side: start if value is None else value for side, value in window.items()}
    return window


def dedupe(items: Iterable[Item]) -> list[Item]:
    """One entry per item id (the newest), oldest first: a paginated search may repeat an item that
    changed while it was being paged."""
    by_id: dict[str, Item] = {}
    for item in items:
        seen = by_id.get(item.ref.id)
        if seen is None or item.updated >= seen.updated:
            by_id[item.ref.id] = item
    return sorted(by_id.values(), key=lambda i: (i.updated, i.ref.id))


def processed(item: Item, state: LinkState | None) -> bool:
    """True when this very change of the item (same version) was fully processed by an earlier cycle."""
    if state is None or not item.version:
        return False
    synced = state.issue if item.ref.side is Side.JIRA else state.record_state(item.ref.id)
    return synced is not None and synced.version == item.version


def refs_of(action: Action) -> set[str]:
    """The ids of the items ``action`` touches; for a create's follow-up, its record's id too."""
    ids = {ref.id for ref in action.refs}
    record_id = pending_record_id(action)
    if record_id is not None:
        ids.add(record_id)
    return ids


def held_items(
    outcomes: Iterable[ActionOutcome], by_record: Mapping[str, LinkState], by_issue: Mapping[str, LinkState]
) -> set[str]:
    """Ids of items whose change is not settled: every item of a link with an action still pending."""
    held: set[str] = set()
    for outcome in outcomes:
        if outcome.holds_cursor:
            held |= refs_of(outcome.action)
    for item_id in list(held):
        state = by_record.get(item_id) or by_issue.get(item_id)
        if state is not None:
            held.add(state.link.issue.id)
            held |= {r.id for r in state.link.records}
    return held


def mark_processed(
    engine: Engine, spec: MappingSpec, records: Sequence[Record], issues: Sequence[Issue], held: set[str]
) -> None:
    """Remember the version of every linked item whose change is settled, so the overlap skips it."""
    settled = [i for i in [*records, *issues] if i.ref.id not in held and i.version]
    if not settled:
        return
    states = engine.store.load_link_states(
        spec.name,
        [i.ref.id for i in settled if i.ref.side is Side.ITSM],
        [i.ref.id for i in settled if i.ref.side is Side.JIRA],
    )
    by_record, by_issue = index_links(states)
    with engine.store.transaction():
        for item in settled:
            state = (by_issue if item.ref.side is Side.JIRA else by_record).get(item.ref.id)
            if state is None:
                continue
            stored = state.issue if item.ref.side is Side.JIRA else state.record_state(item.ref.id)
            if stored is not None and newer(stored, item):
                continue  # a write of this cycle proved a later version (its echo is seen already)
            # A write the executor could not check against a stored version (a new record's back-reference:
            # its link had none yet) is checked against the version the cycle read the item at.
            echo = engine.connectors[item.ref.side].written_version(item.ref, item.version)
            version, updated = echo if echo is not None else (item.version, item.updated)
            engine.store.mark_seen(state.link.id, item.ref.side, item.ref.id, version, updated)


def newer(stored: ItemState, item: Item) -> bool:
    """True when the version the store holds is provably later than the one ``item`` was read at.

    The executor records the version a write of bridge's answered when it proves that write was the only
    change (``Connector.written_version``, a create's own answer); the item was read at the start of the
    cycle, before that write. Recording the item's version over it would move the processed version
    backwards, and the next cycle would read bridge's own echo as a person's change. Counted versions
    (ServiceNow's ``sys_mod_count``) are compared as numbers, others by their time; when neither proves
    it the item's version is recorded as before (a needless re-read at worst, never a missed change).
    """
    if not stored.version or stored.version == item.version:
        return False
    if stored.version.isdigit() and item.version.isdigit():
        return int(stored.version) > int(item.version)
    return stored.updated is not None and stored.updated > item.updated


def advance(
    engine: Engine,
    spec: MappingSpec,
    records: Sequence[Item],
    issues: Sequence[Item],
    cursors: Mapping[Side, datetime | None],
    held: set[str],
    idle: Mapping[Side, datetime] | None = None,
    stay: Collection[Side] = (),
    ceiling: Mapping[Side, datetime | None] | None = None,
) -> dict[Side, datetime | None]:
    """Move each side's cursor to its newest settled change, but never past a held one; returns the cursors
    as stored now.

    ``stay``: sides whose cursor does not move at all (the cycle's budget left changes of them for the
    next cycle, :mod:`bridge.sync.budget`).

    After an idle cycle (``idle``: nothing new on either side) a side's cursor moves on to the vendor's
    time of the search minus its index lag, so the next overlap window starts after a burst that is long
    past: otherwise every idle cycle re-reads that burst — several pages — forever.

    ``ceiling``: per side, the furthest the cursor may move (a carried backlog's light searches may not have
    shown a late change before the last sweep's position, :func:`bridge.sync.carryover.cursor_ceiling`); a
    cursor already further stays where it is.
    """
    result = dict(cursors)
    for side, items in ((Side.ITSM, records), (Side.JIRA, issues)):
        current = cursors[side]
        if side in stay:
            continue
        mark = (idle or {}).get(side)
        top = (ceiling or {}).get(side)
        if not items:
            if mark is not None and top is not None:
                mark = min(mark, top)
            if mark is not None and (current is None or mark > current):
                store_cursor(engine, spec, side, mark)
                result[side] = mark
            continue
        newest = max(i.updated for i in items)
        holding = [i.updated for i in items if i.ref.id in held]
        value = newest if current is None else max(current, newest)
        if mark is not None:
            value = max(value, mark)
        if holding:
            value = min(holding)
        if top is not None and value > top:
            value = top if current is None else max(current, top)
        if value != current:
            store_cursor(engine, spec, side, value)
            result[side] = value
    return result


def store_cursor(engine: Engine, spec: MappingSpec, side: Side, value: datetime) -> None:
    try:
        engine.store.set_cursor(spec.name, side, value)
    except StoreError:
        log.error("could not store the cursor; the changes will be read again", side=side.value)
        raise
