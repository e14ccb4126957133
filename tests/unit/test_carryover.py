"""The backlog carried between cycles in the process (bridge/sync/carryover.py): left-out changes are read
by id, never skipped or duplicated, and the stored cursor stays the truth (a restart, a carried record
changed or deleted meanwhile, another replica moving the cursor, a hinted mini-cycle, a restored store)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.connectors.memory import SimulatedCrash
from bridge.connectors.unreadable import Unreadable
from bridge.model import Item, Record, Ref, Side
from bridge.sync.carrying import ReadAhead, Searches, query_start
from bridge.sync.carryover import (
    Backlog,
    Carried,
    CarryOver,
    budget_for,
    carry_next,
    cursor_ceiling,
    item_limit,
    measure,
    search_windows,
    sweep_due,
    take,
)
from bridge.sync.engine import Engine
from bridge.sync.hinted import run_hinted
from tests.fixtures.engine import World, mapping_spec

M = "incidents"
#: a new record in state "1" costs three actions: the create and a back-reference on each side
PER_RECORD = 3
GET_ONE = "GET /api/now/table/incident/{sys_id}"


def budgeted(world: World, budget: int | None) -> None:
    """The world's engine with a cycle budget (keeping the carry-over: the same process)."""
    backlogs = world.engine.backlogs
    world.engine = Engine(world.store, world.itsm, world.jira, [world.spec],
                          options=replace(world.engine.options, cycle_budget=budget), clock=world.clock)
    world.engine.backlogs = backlogs


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, mapping_spec())
    yield w
    w.close()


def backlog(world: World, n: int, *, state: str = "1") -> list[Ref]:
    refs = []
    for i in range(n):
        refs.append(world.incident(f"Backlog {i}", state=state))
        world.clock.advance(seconds=1)
    return refs


def linked(world: World, refs: list[Ref]) -> set[str]:
    return {r.id for r in refs if world.store.link_for_record(M, r.id) is not None}


def drain(world: World, limit: int = 12) -> None:
    for _ in range(limit):
        world.clock.advance(minutes=3)  # past the overlap window: a later search no longer shows old changes
        report = world.cycle()
        if not report.deferred and not report.actions:
            return
    raise AssertionError("the backlog did not drain")


def one_issue_each(world: World, refs: list[Ref]) -> None:
    assert linked(world, refs) == {r.id for r in refs}
    tokens = [label for i in world.jira.issues() for label in i.fields["labels"] if label.startswith("itsm-")]
    assert sorted(tokens) == sorted(r.token for r in refs), "one issue per record, none twice"


def test_left_out_records_are_carried_and_read_by_id(world: World) -> None:
    budgeted(world, 2 * PER_RECORD)
    refs = backlog(world, 8)
    first = world.cycle()
    carry = world.engine.backlog(M).carry
    assert carry is not None
    assert first.deferred == 6 == carry.count()
    assert world.store.get_cursor(M, Side.ITSM) is None, "the stored cursor stays while anything is carried"
    world.clock.advance(minutes=3)
    second = world.cycle()
    assert second.calls["itsm"].get(GET_ONE, 0) >= 2, "carried records are read by id"
    assert len(linked(world, refs)) == 4
    drain(world)
    one_issue_each(world, refs)
    assert world.engine.backlog(M).carry is None
    assert world.store.get_cursor(M, Side.ITSM) is not None, "the cursor advances once nothing is carried"


def carrying_four(world: World) -> tuple[list[Ref], CarryOver]:
    """Four new records with a budget of one: the first cycle applies one and carries the others."""
    budgeted(world, PER_RECORD)
    refs = backlog(world, 4)
    world.cycle()
    carry = world.engine.backlog(M).carry
    assert carry is not None
    return refs, carry


def test_a_restart_mid_backlog_loses_the_carry_over_and_still_syncs_everything(world: World) -> None:
    budgeted(world, 2 * PER_RECORD)
    refs = backlog(world, 8)
    world.cycle()
    assert world.engine.backlog(M).carry is not None
    world.restart()
    budgeted(world, 2 * PER_RECORD)
    assert world.engine.backlog(M).carry is None
    drain(world)
    one_issue_each(world, refs)


def test_a_carried_record_changed_again_is_synced_at_its_newest_version(world: World) -> None:
    refs, carry = carrying_four(world)
    carried = [r for r in refs if r.id in carry.items[Side.ITSM]]
    world.clock.advance(minutes=3)
    world.itsm.edit(carried[0], short_description="Changed while carried")
    drain(world)
    one_issue_each(world, refs)
    issue = world.jira.issue(world.issue_of(carried[0]))
    assert issue.fields["summary"] == f"{carried[0].key}: Changed while carried"


def test_a_carried_record_deleted_meanwhile_leaves_the_carry_over(world: World) -> None:
    refs, carry = carrying_four(world)
    gone = next(r for r in refs if r.id in carry.items[Side.ITSM])
    world.itsm.delete(gone)
    drain(world)
    rest = [r for r in refs if r != gone]
    assert linked(world, rest) == {r.id for r in rest}
    assert gone.id not in linked(world, refs)
    assert world.engine.backlog(M).carry is None


def test_another_replica_moving_the_cursor_drops_the_carry_over(world: World) -> None:
    budgeted(world, PER_RECORD)
    refs = backlog(world, 4)
    world.cycle()
    assert world.engine.backlog(M).carry is not None
    # another process synced meanwhile (the records are then read again from ITS cursor, none is skipped)
    world.store.set_cursor(M, Side.ITSM, datetime(2000, 1, 1, tzinfo=UTC))
    world.clock.advance(minutes=3)
    report = world.cycle()
    assert report.calls["itsm"].get(GET_ONE, 0) == 0, "the carry-over made against other cursors is dropped"
    drain(world)
    one_issue_each(world, refs)


def test_a_hinted_mini_cycle_does_not_disturb_the_carry_over(world: World) -> None:
    refs, carry = carrying_four(world)
    before = {side: dict(items) for side, items in carry.items.items()}
    hinted = next(r for r in refs if r.id in carry.items[Side.ITSM])
    run_hinted(world.engine, M, [hinted])
    assert world.engine.backlog(M).carry is carry
    assert carry.items == before
    drain(world)
    one_issue_each(world, refs)


def test_a_restored_store_during_a_backlog_adopts_instead_of_creating_twice(world: World, tmp_path: Path) -> None:
    """The marker shortcut (bridge/sync/partners.py) while records are carried: the issues made after the
    backup are in the first search after the restore only (a person keeps editing another issue, so the
    Jira searches move on) and no back-reference names them; the Jira cursor must not move past them while
    their records wait, or a later cycle would skip the marker search and create second issues."""
    steady = world.incident("Before the backup", state="2")
    world.settle()
    world.store.close()
    shutil.copy(world.path / "bridge.sqlite3", tmp_path / "backup.sqlite3")
    world._open()
    world.clock.advance(minutes=3)
    refs = backlog(world, 6, state="2")
    world.settle()
    assert len(world.jira.issues()) == 7
    key = world.issue_of(steady)
    for ref in refs:  # no back-reference names the issue (bridge stopped before writing them): markers only
        world.itsm.edit(ref, correlation_id="")
    world.store.close()
    shutil.copy(tmp_path / "backup.sqlite3", world.path / "bridge.sqlite3")
    world._open()
    budgeted(world, 2)
    for n in range(20):
        world.clock.advance(minutes=3)  # past the overlap window
        world.jira.edit(key, labels=["bridge", "from-itsm", steady.token, f"touched-{n}"])
        world.clock.advance(seconds=5)
        report = world.cycle()
        assert "create_issue" not in report.actions_by_kind, "a record whose issue the restored store forgot"
        if n == 0:
            assert world.engine.backlog(M).carry is not None
        if not report.deferred and n > 2:
            break
    assert len(world.jira.issues()) == 7
    assert linked(world, refs) == {r.id for r in refs}


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _ref(i: int) -> Ref:
    return Ref(Side.ITSM, "incident", f"r{i}", f"INC{i}")


def test_take_reads_the_oldest_carried_first_and_carry_next_keeps_the_rest() -> None:
    items = {f"r{i}": Carried(_ref(i), T0 + timedelta(seconds=10 - i)) for i in range(5)}
    carry = CarryOver({Side.ITSM: None, Side.JIRA: None}, {Side.ITSM: T0, Side.JIRA: None}, {Side.ITSM: items})
    taken = take(carry, 2)
    assert [r.id for r in taken[Side.ITSM]] == ["r4", "r3"]
    nxt = carry_next(carry, taken, [Carried(_ref(3), T0)], {Side.ITSM: T0 + timedelta(minutes=1), Side.JIRA: None})
    assert nxt is not None
    assert sorted(nxt.items[Side.ITSM]) == ["r0", "r1", "r2", "r3"]
    assert nxt.position[Side.ITSM] == T0 + timedelta(minutes=1)
    assert carry_next(carry, {Side.ITSM: [_ref(i) for i in range(5)]}, [], {}) is None


def test_the_budget_follows_the_pace_of_the_last_budgeted_cycle() -> None:
    backlog = Backlog()
    assert budget_for(200, 20.0, backlog) == 200
    measure(backlog, budgeted=True, applied=200, seconds=5.0, planned=800, items=200)
    assert budget_for(200, 20.0, backlog) == 640  # 40 actions/s x 16 s
    assert item_limit(640, 200, backlog) == 200  # 4 actions per record, never under engine.cycle_budget
    assert item_limit(1000, 200, backlog) == 250
    assert budget_for(None, 20.0, backlog) is None
    measure(backlog, budgeted=False, applied=50, seconds=1.0, planned=50, items=50)
    assert budget_for(200, 20.0, backlog) == 200, "a cycle that left nothing resets the pace"


def test_a_side_read_ahead_keeps_its_order_and_raises_its_error_where_it_is_taken() -> None:
    items = [Record(ref=_ref(i), updated=T0 + timedelta(seconds=i), version="1", fields={}) for i in range(5000)]
    assert [i.ref.id for i in ReadAhead(iter(items)).items()] == [i.ref.id for i in items]

    def failing() -> Iterator[Item | Unreadable]:
        yield items[0]
        raise SimulatedCrash("killed during search_changed")

    taken = ReadAhead(failing()).items()
    assert next(taken).ref.id == "r0"
    with pytest.raises(SimulatedCrash):
        next(taken)
    ahead = ReadAhead(iter(items))  # a cycle that fails before taking them: the thread stops
    ahead.close()


def test_parallel_sides_read_the_same_changes(world: World) -> None:
    world.engine.options = replace(world.engine.options, parallel_sides=True, cycle_budget=2 * PER_RECORD)
    refs = backlog(world, 5)
    report = world.cycle()
    assert report.records_changed == 5
    drain(world)
    one_issue_each(world, refs)


def test_a_backlog_larger_than_the_cap_is_carried_in_part_and_searched_for_again(world: World) -> None:
    budgeted(world, PER_RECORD)
    world.engine.backlog(M).cap = 2
    refs = backlog(world, 7)
    world.cycle()
    carry = world.engine.backlog(M).carry
    assert carry is not None
    assert len(carry.items[Side.ITSM]) == 2
    assert carry.overflow == {Side.ITSM}
    assert world.store.get_cursor(M, Side.ITSM) is None, "the cursor stays: the rest is found by searching"
    for _ in range(12):
        world.clock.advance(minutes=3)
        report = world.cycle()
        carry = world.engine.backlog(M).carry
        assert carry is None or len(carry.items[Side.ITSM]) <= 2
        if not report.deferred and not report.actions:
            break
    one_issue_each(world, refs)
    assert world.store.get_cursor(M, Side.ITSM) is not None


def test_a_reloaded_mapping_drops_its_carry_over_an_unchanged_one_keeps_it(world: World) -> None:
    budgeted(world, PER_RECORD)
    refs = backlog(world, 4)
    world.cycle()
    assert world.engine.backlog(M).carry is not None
    world.engine.replace_mappings([world.spec])
    assert world.engine.backlog(M).carry is not None
    world.spec = mapping_spec(route={"record_type": "incident", "where": {"field": "category", "in": ["software"]}})
    world.engine.replace_mappings([world.spec])
    assert world.engine.backlog(M).carry is None, "read with the old route: searched for again"
    drain(world)
    one_issue_each(world, refs)


# ---------------------------------------------------------------------------------------- light searches

def late_change_setup(world: World, records: int) -> tuple[Ref, datetime]:
    """A linked record, then a backlog of ``records`` with a budget of two records a cycle: the first cycle
    (a sweep: it searches from the stored cursor) runs at the returned time ``S`` and carries the rest."""
    done = world.incident("Linked before the backlog")
    world.settle()
    budgeted(world, 2 * PER_RECORD)
    backlog(world, records)
    world.clock.advance(seconds=20)
    world.cycle()
    assert world.engine.backlog(M).carry is not None
    return done, world.clock()


def summary_of(world: World, record: Ref) -> str:
    return str(world.jira.issue(world.issue_of(record)).fields["summary"])


def test_a_change_shown_late_during_a_backlog_is_found_by_the_next_sweep(world: World) -> None:
    done, start = late_change_setup(world, 30)
    world.clock.advance(seconds=20)
    world.cycle()  # light: from where the last search reached
    # A person's change stamped 50 s before the first cycle, committed (shown) only now, 75 s after its stamp:
    # within the overlap window's two minutes, so the overlap must find it.
    world.itsm.edit(done, short_description="Shown late", stamped=start - timedelta(seconds=50))
    light = 0
    while world.clock() - start < timedelta(minutes=2) - timedelta(seconds=20):
        world.clock.advance(seconds=20)
        world.cycle()
        light += 1
        assert world.engine.backlog(M).carry is not None, "the backlog lasts the whole test"
        assert "Shown late" not in summary_of(world, done), "a light search starts at the carried position"
    assert light == 4
    world.clock.advance(seconds=20)
    world.cycle()  # two minutes after the last sweep: a sweep, from its position minus the overlap
    assert summary_of(world, done).endswith("Shown late")


def test_a_change_shown_late_is_not_lost_when_the_backlog_ends_between_sweeps(world: World) -> None:
    done, start = late_change_setup(world, 12)
    world.clock.advance(seconds=20)
    world.cycle()
    world.itsm.edit(done, short_description="Shown late", stamped=start - timedelta(seconds=50))
    for _ in range(4):  # light cycles; the last one applies the last two records
        world.clock.advance(seconds=20)
        world.cycle()
    assert world.engine.backlog(M).carry is None
    cursor = world.store.get_cursor(M, Side.ITSM)
    assert cursor is not None
    assert cursor <= start, "the cursor moves no further than the last sweep reached"
    drain(world)  # a search from the stored cursor minus the overlap (the newest change read was 80 s later)
    assert summary_of(world, done).endswith("Shown late")


def test_light_and_sweep_windows_and_the_cursor_ceiling() -> None:
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    overlap = {Side.ITSM: timedelta(minutes=2), Side.JIRA: timedelta(0)}  # the Jira adapter subtracts its own 2 min
    light = {Side.ITSM: timedelta(0), Side.JIRA: -timedelta(minutes=2)}
    stored = {Side.ITSM: t0 - timedelta(minutes=2), Side.JIRA: t0}
    first = carry_next(None, {}, [Carried(_ref(1), t0)], {Side.ITSM: t0, Side.JIRA: t0}, now=t0)
    assert first is not None
    assert first.swept == {Side.ITSM: t0, Side.JIRA: t0}
    assert first.swept_at == t0
    later = t0 + timedelta(seconds=20)
    second = carry_next(first, {}, [Carried(_ref(2), later)], {Side.ITSM: later, Side.JIRA: later},
                        swept=False, now=later)
    assert second is not None
    assert second.position[Side.ITSM] == later
    assert second.swept == first.swept, "a light cycle does not move the sweep"
    assert second.swept_at == t0
    assert not sweep_due(second, later + timedelta(seconds=20), timedelta(minutes=2))
    assert sweep_due(second, t0 + timedelta(minutes=2), timedelta(minutes=2))
    assert sweep_due(None, t0, timedelta(minutes=2))
    windows = search_windows(second, stored, overlap, sweep=False, light=light)
    # the Jira adapter moves the query back by its own two minutes: it then starts at the position
    assert windows == {Side.ITSM: later, Side.JIRA: later + timedelta(minutes=2)}
    windows = search_windows(second, stored, overlap, sweep=True, light=light)
    assert windows == {Side.ITSM: t0 - timedelta(minutes=2), Side.JIRA: t0}, "a sweep starts at the last sweep"
    assert search_windows(None, stored, overlap, sweep=False, light=light) == stored
    assert cursor_ceiling(second) == {Side.ITSM: t0, Side.JIRA: t0}
    assert cursor_ceiling(None) == {Side.ITSM: None, Side.JIRA: None}


def test_a_light_carried_cycle_answers_the_marker_check_from_its_chain_of_searches(world: World) -> None:
    before = world.incident("Linked before the backlog")
    world.settle()  # the Jira side has issues: the first sweep reaches one, and the Jira cursor is capped there
    budgeted(world, 2 * PER_RECORD)
    refs = backlog(world, 12)
    asked: list[str] = []
    original = world.jira.find_by_markers

    def counting(spec: object, markers: list[str], fields: object) -> object:
        asked.extend(markers)
        return original(spec, markers, fields)  # type: ignore[arg-type]

    world.jira.find_by_markers = counting  # type: ignore[method-assign]
    for _ in range(3):
        world.clock.advance(seconds=20)
        world.cycle()
    carry = world.engine.backlog(M).carry
    assert carry is not None
    assert carry.chain
    cursor = world.store.get_cursor(M, Side.JIRA)
    assert cursor is not None
    assert carry.position[Side.JIRA] is not None
    assert cursor < carry.position[Side.JIRA], "the Jira cursor is held at the last sweep"
    late = world.incident("Arrived during the backlog")  # not watched since the chain's first search
    while world.engine.backlog(M).carry is not None:
        world.clock.advance(seconds=20)
        world.cycle()
    drain(world)
    one_issue_each(world, [before, *refs, late])
    assert not set(asked) & {r.token for r in refs}, "the chain answered for the records it watched"
    assert late.token in asked, "a record the chain did not watch from its start is looked up"


def test_the_query_start_is_the_window_minus_what_the_adapter_moves_back(world: World) -> None:
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    searches = Searches(None, {Side.ITSM: t0, Side.JIRA: t0 + timedelta(minutes=2)}, None, None)
    assert query_start(world.engine, searches, Side.JIRA) == t0 + timedelta(minutes=2), "no overlap of its own"
    world.jira.overlap = timedelta(minutes=2)  # type: ignore[attr-defined]
    assert query_start(world.engine, searches, Side.JIRA) == t0, "the Jira adapter moves its query back by 2 min"
    assert query_start(world.engine, Searches(None, {Side.ITSM: None, Side.JIRA: None}, None, None), Side.JIRA) is None
