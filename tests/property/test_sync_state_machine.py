"""The sync invariants, as a hypothesis state machine over the memory connectors and a real SQLite store.

People create records, edit fields, change statuses and comment on both sides; cycles run; the process
crashes between a remote write and its journal commit (the memory connector raising after the write)
and at other steps (a read that never returns); bridge restarts on the same database; requests fail
transiently. After every quiescent point (cycles until nothing is planned) these must hold:

* every selected record has exactly one Jira issue, and no issue was ever created twice;
* each side holds every comment of the other exactly once, and no mirror ever went back to its origin;
* statuses and field values agree with the mapping (for links without a conflict on the error list);
* no change was skipped by the cursors, even with several edits within one minute;
* all of the above also after the state database is deleted or restored to an older snapshot (the store
  is a cache of vendor truth: links and comment pairs are adopted back, never duplicated).
* all of the above when a cycle runs out of time (``engine.cycle_seconds``) anywhere in it: the actions
  not started stay pending and their changes are read again.
* all of the above when a cycle's action budget (``engine.cycle_budget``) leaves changes for later: the
  next cycles read them by id from the carry-over in the process, or search for them again after a
  restart (the stored cursor stays held while anything is carried).
* all of the above whether or not a linked record still matches its route (records are reassigned out of
  it and back): the route decides what is escalated, not what keeps syncing.
* deletions on either side and RT-style merges (one record merged into another): nothing is ever
  written to a deleted or merged-away item once bridge noticed it (its link is closed), and no write
  meant for a merged record lands on the survivor (every mirror on a record comes from its own issue).
* an admin switches the mapping to ``links.on_route_exit: detach``: a record that then leaves the route
  gets one "no longer synced" note on each side, its link closes, and nothing syncs between the two
  after that (no mirror, no status), whatever either side does, while the state database is kept.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from bridge.connectors.memory import SimulatedCrash
from bridge.errors import ConnectorError, PermanentError, SafetyRailError, TransientError
from bridge.model import Link, Ref, Side
from tests.fixtures.engine import World, mapping_spec

PRIORITY = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low"}
STATE_TO_JIRA = {"2": "In Progress", "6": "Done"}
STATE_TO_ITSM = {status: state for state, status in STATE_TO_JIRA.items()}
WORDS = st.sampled_from(["printer", "smoke", "VPN", "down", "again", "urgent", "résumé", "ok"])
TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
WRITES = ["create", "update_fields", "set_status", "add_comment", "write_back_reference"]
REFUSABLE = ["create", "update_fields", "set_status", "write_back_reference"]
READS = ["search_changed", "comments_since", "find_by_marker", "find_comment_by_marker", "get"]


class SyncMachine(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="bridge-sm-"))
        self.world = World(self.directory, mapping_spec(), backoff_base=0)
        # bridge was installed before any of these records: none of them is history left out at first start
        self.installed = self.world.store.see_mapping(self.world.spec.name, self.world.clock())
        self.created: list[Ref] = []
        self.snapshots: list[Path] = []  # backups of the state database (see the state-database rules)
        #: ids of records and issues deleted or merged away (by the rules below), and merges: gone → survivor
        self.gone: set[str] = set()
        self.merged_into: dict[str, str] = {}
        #: per gone item, the write attempts bridge made to it once its link was seen closed
        self.attempts_after_close: dict[str, int] = {}
        #: detached records (on_route_exit: detach), with their issue and what both showed when noticed
        self.detached: dict[str, tuple[Ref, Ref, tuple[int, int]]] = {}

    def teardown(self) -> None:
        self.world.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------------------------ people

    @rule(target=records, summary=TEXT, priority=st.sampled_from(sorted(PRIORITY)), state=st.sampled_from(["1", "2"]))
    def create_record(self, summary: str, priority: str, state: str) -> Ref:
        ref = self.world.incident(summary, state=state, priority=priority)
        self.created.append(ref)
        return ref

    @rule(record=records, summary=TEXT)
    def edit_summary(self, record: Ref, summary: str) -> None:
        if record.id in self.gone:
            return  # deleted or merged away by a lifecycle rule: nobody can edit it any more
        self.world.itsm.edit(record, short_description=summary)

    @rule(record=records, summary=TEXT, late=st.integers(min_value=1, max_value=100))
    def a_change_shown_late(self, record: Ref, summary: str, late: int) -> None:
        """A person's change that a search shows ``late`` seconds after the time it is stamped with (a
        ServiceNow transaction commits after its ``sys_updated_on``): within the overlap window, so a
        cycle's search — or, while a backlog is carried, the next sweep — must still find it
        (bridge/sync/carryover.py, "light searches")."""
        if record.id in self.gone:
            return
        stamp = max(self.world.itsm.record(record).updated, self.world.clock() - timedelta(seconds=late))
        self.world.itsm.edit(record, short_description=summary, stamped=stamp)

    @rule(record=records, priority=st.sampled_from(sorted(PRIORITY)))
    def edit_priority(self, record: Ref, priority: str) -> None:
        if record.id in self.gone:
            return  # deleted or merged away by a lifecycle rule: nobody can edit it any more
        self.world.itsm.edit(record, priority=priority)

    @rule(record=records, state=st.sampled_from(["2", "6"]))
    def change_state(self, record: Ref, state: str) -> None:
        if record.id in self.gone:
            return  # deleted or merged away by a lifecycle rule: nobody can edit it any more
        close = {"close_code": "Solved (Permanently)", "close_notes": "done"} if state == "6" else {}
        self.world.itsm.set_state(record, state, **close)

    @rule(record=records, body=TEXT, channel=st.sampled_from(["work_notes", "comments"]))
    def itsm_comment(self, record: Ref, body: str, channel: str) -> None:
        if record.id in self.gone:
            return  # deleted or merged away by a lifecycle rule: nobody can edit it any more
        self.world.itsm.comment(record, body, channel=channel)

    def _issue(self, record: Ref) -> Ref | None:
        link = self.world.store.link_for_record(self.world.spec.name, record.id)
        return link.issue if link is not None and link.issue.id not in self.gone else None

    @rule(record=records, body=TEXT)
    def jira_comment(self, record: Ref, body: str) -> None:
        issue = self._issue(record)
        if issue is not None:
            self.world.jira.comment(issue, body)

    @rule(record=records, priority=st.sampled_from(sorted(PRIORITY.values())))
    def jira_priority(self, record: Ref, priority: str) -> None:
        issue = self._issue(record)
        if issue is not None:
            self.world.jira.edit(issue, priority=priority)

    @rule(record=records, status=st.sampled_from(["In Progress", "Done"]))
    def jira_status(self, record: Ref, status: str) -> None:
        issue = self._issue(record)
        if issue is not None:
            self.world.jira.transition_to(issue, status)

    @rule(record=records, category=st.sampled_from(["hardware", "network"]))
    def reassign_out_of_the_route(self, record: Ref, category: str) -> None:
        """A linked record leaves the route (the route selects category "software"): its link keeps
        syncing, so the quiescent-state checks below hold for it as for any other. Only linked records
        move: an unlinked one leaving the route before its first cycle is simply never escalated."""
        if record.id in self.gone:
            return  # a deleted or merged-away record is edited by nobody
        if self.world.store.link_for_record(self.world.spec.name, record.id) is not None:
            self.world.itsm.edit(record, category=category)

    @rule(record=records)
    def reassign_back_into_the_route(self, record: Ref) -> None:
        if record.id not in self.gone:
            self.world.itsm.edit(record, category="software")

    @precondition(lambda self: self.world.spec.links.on_route_exit == "keep")
    @rule()
    def switch_to_detach_on_route_exit(self) -> None:
        """An admin edits the mapping: records leaving the route from now on are detached, not kept."""
        self.world.spec = self.world.spec.model_copy(
            update={"links": self.world.spec.links.model_copy(update={"on_route_exit": "detach"})}
        )
        self.world.restart()  # bridge reload: the new mapping file is read

    # ------------------------------------------------------------------------------ people: lifecycle

    @rule(record=records)
    def delete_record(self, record: Ref) -> None:
        if record.id not in self.gone:
            self.world.itsm.delete(record)
            self.gone.add(record.id)

    @rule(record=records)
    def delete_issue(self, record: Ref) -> None:
        issue = self._issue(record)
        if issue is not None and issue.id not in self.gone:
            self.world.jira.delete(issue)
            self.gone.add(issue.id)

    @rule(record=records, into=records)
    def rt_style_merge(self, record: Ref, into: Ref) -> None:
        if record.id != into.id and not {record.id, into.id} & self.gone:
            self.world.itsm.merge(record, into)
            self.gone.add(record.id)
            self.merged_into[record.id] = into.id

    @rule(seconds=st.integers(min_value=0, max_value=90))
    def time_passes(self, seconds: int) -> None:
        self.world.clock.advance(seconds=seconds)

    # ------------------------------------------------------------------------------ bridge

    def _cycle(self) -> None:
        try:
            self.world.cycle()
        except SimulatedCrash:
            self.world.restart()  # the process died; systemd starts a new one on the same database
        except ConnectorError:
            pass  # a read failed after the HTTP layer's retries: the next cycle tries again
        except SafetyRailError:
            self._rail_is_right()

    @rule()
    def cycle(self) -> None:
        self._cycle()

    @rule(looks=st.integers(min_value=0, max_value=40))
    def a_cycle_cut_by_its_deadline(self, looks: int) -> None:
        """``engine.cycle_seconds``: a minute passes (a slow vendor) at the engine's ``looks``-th look at the
        clock, so the cycle's 60 s run out somewhere in it — reading, reconciling or between two actions.
        The rest is left pending; the quiescent checks below prove nothing was lost or done twice."""
        engine, clock = self.world.engine, self.world.clock
        seen = 0

        def slow() -> datetime:
            nonlocal seen
            seen += 1
            if seen == looks + 1:
                clock.advance(seconds=61)
            return clock()

        engine.options = replace(engine.options, cycle_seconds=60.0)
        engine.clock = slow
        try:
            self._cycle()
        finally:  # a crash restarts the world with a new engine: restoring the old one is then harmless
            engine.options = replace(engine.options, cycle_seconds=None)
            engine.clock = clock

    @rule(budget=st.integers(min_value=1, max_value=6))
    def a_budgeted_cycle(self, budget: int) -> None:
        """``engine.cycle_budget``: the cycle applies about ``budget`` actions and carries what it left out
        over to the next cycles in the process (bridge/sync/carryover.py), which read it by id; a restart, a
        crash or a lost state database drops that carry-over, and the quiescent checks prove nothing was
        skipped or done twice either way."""
        engine = self.world.engine
        engine.options = replace(engine.options, cycle_budget=budget)
        try:
            self._cycle()
        finally:  # a crash restarts the world with a new engine: restoring the old one is then harmless
            engine.options = replace(engine.options, cycle_budget=None)

    @rule(side=st.sampled_from([Side.ITSM, Side.JIRA]), operation=st.sampled_from(WRITES))
    def crash_after_a_write(self, side: Side, operation: str) -> None:
        connector = self.world.jira if side is Side.JIRA else self.world.itsm
        connector.crash_after_next_write(operation)
        self._cycle()

    @rule(side=st.sampled_from([Side.ITSM, Side.JIRA]), operation=st.sampled_from(READS))
    def crash_while_reading(self, side: Side, operation: str) -> None:
        connector = self.world.jira if side is Side.JIRA else self.world.itsm
        connector.fail_next(operation, SimulatedCrash(f"killed during {operation}"))
        self._cycle()

    @rule(side=st.sampled_from([Side.ITSM, Side.JIRA]), operation=st.sampled_from(WRITES + READS))
    def transient_failure(self, side: Side, operation: str) -> None:
        connector = self.world.jira if side is Side.JIRA else self.world.itsm
        connector.fail_next(operation, TransientError(f"{operation} timed out", side=side.value))
        self._cycle()

    @rule()
    def restart(self) -> None:
        self.world.restart()

    # ------------------------------------------------------------------------------ refusals

    @rule(
        record=records,
        side=st.sampled_from([Side.ITSM, Side.JIRA]),
        operation=st.sampled_from(REFUSABLE),
        summary=TEXT,
    )
    def a_refusal_that_is_later_fixed(self, record: Ref, side: Side, operation: str, summary: str) -> None:
        """A side refuses the next write of a kind (a value it will not take); then the agent fixes the
        record. Nobody runs ``bridge retry``: the quiescent checks expect the fixed record fully synced."""
        connector = self.world.jira if side is Side.JIRA else self.world.itsm
        refusal = PermanentError("refused", side=side.value, status=400, vendor_message=f"{operation}: bad value")
        connector.fail_next(operation, refusal)
        self._cycle()
        with connector._lock:  # not used by this cycle: the cause is gone, it must not fire later
            connector._faults.pop(operation, None)
        self.world.clock.advance(seconds=5)
        refused = {e.item_ref for e in self.world.store.errors() if e.journal_id is not None and e.kind != "conflict"}
        for ref in self.created:  # the agent fixes every record a refusal was about (the cycle may have
            if ref.id in self.gone:  # refused another one); a deleted or merged-away record is fixed by nobody
                continue
            link = self.world.store.link_for_record(self.world.spec.name, ref.id)
            if ref == record or ref.key in refused or (link is not None and link.issue.key in refused):
                self.world.itsm.edit(ref, short_description=f"{summary} (fixed)")

    # ------------------------------------------------------------------------------ the state database

    @property
    def _database(self) -> Path:
        return self.directory / "bridge.sqlite3"

    def _replace_database(self, snapshot: Path | None) -> None:
        """The process stops, the database file is removed (or replaced by ``snapshot``), bridge starts again."""
        self.detached.clear()  # a detach the store forgot is not a promise any more (the back-reference stays)
        self.world.store.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self._database}{suffix}").unlink(missing_ok=True)
        if snapshot is not None:
            shutil.copy(snapshot, self._database)
        self.world._open()
        # a lost database forgets the first start too; these records all came after the installation
        self.world.store.see_mapping(self.world.spec.name, self.installed)

    @rule()
    def back_up_the_state_database(self) -> None:
        target = self.directory / f"snapshot-{len(self.snapshots)}.sqlite3"
        with sqlite3.connect(self._database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)  # the online backup API, as docs/operations.md §11 says
        self.snapshots.append(target)

    @rule()
    def delete_the_state_database(self) -> None:
        self._replace_database(None)

    @precondition(lambda self: bool(self.snapshots))
    @rule(pick=st.integers(min_value=0, max_value=7))
    def restore_the_state_database_to_an_older_snapshot(self, pick: int) -> None:
        self._replace_database(self.snapshots[pick % len(self.snapshots)])

    # ------------------------------------------------------------------------------ invariants

    @invariant()
    def never_two_issues_for_one_record(self) -> None:
        markers = [label for issue in self.world.jira.issues() for label in issue.fields["labels"] or ()]
        for ref in self.created:
            assert markers.count(ref.token) <= 1, f"{ref.key} has {markers.count(ref.token)} issues"

    @invariant()
    def no_mirror_goes_back_to_its_origin(self) -> None:
        for issue in self.world.jira.issues():
            for comment in self.world.jira.comments(issue.ref):
                assert comment.marker is None or comment.marker.side is Side.ITSM, comment
        for record in self.world.itsm.records():
            for comment in self.world.itsm.comments(record.ref):
                assert comment.marker is None or comment.marker.side is Side.JIRA, comment

    @invariant()
    def nothing_written_to_a_gone_item_once_its_link_is_closed(self) -> None:
        attempts = self.world.itsm.gone_writes + self.world.jira.gone_writes
        for item_id, seen in self.attempts_after_close.items():
            assert attempts[item_id] == seen, f"bridge wrote to {item_id} again after closing its link"

    def _note_closed_links(self) -> None:
        """At a quiescent point: remember the write attempts made to each gone item whose link is closed."""
        attempts = self.world.itsm.gone_writes + self.world.jira.gone_writes
        for link in self.world.store.links(self.world.spec.name):
            if link.closed is None:
                continue
            for item in (link.issue, *link.records):
                if item.id in self.gone:
                    self.attempts_after_close.setdefault(item.id, attempts[item.id])

    def _bridge_writes(self, record: Ref, issue: Ref) -> tuple[int, int]:
        """How many comments bridge wrote on each side of a pair (mirrors and notes carry a marker)."""
        on_record = sum(c.marker is not None for c in self.world.itsm.comments(record))
        on_issue = sum(c.marker is not None for c in self.world.jira.comments(issue))
        return on_record, on_issue

    def _note_detached(self) -> None:
        """At a quiescent point: remember each record whose link a route exit closed, and check that
        nothing flowed between it and its issue since it was first seen detached."""
        for ref in self.created:
            if ref.id in self.gone:
                continue
            link = self.world.store.link_for_record(self.world.spec.name, ref.id)
            if link is None or link.issue.id in self.gone:
                continue
            detached = link.closed is not None or ref.id not in {r.id for r in link.records}
            if not detached or ref.id in self.detached:
                continue
            reason = link.closed_reason if link.closed is not None else ""
            if link.closed is not None and not (reason or "").startswith("no longer synced"):
                continue  # closed for another reason (its issue or a merge)
            self.detached[ref.id] = (ref, link.issue, self._bridge_writes(ref, link.issue))
            notes = [c for c in self.world.jira.comments(link.issue) if "no longer synced" in c.body]
            assert len([c for c in notes if ref.key in c.body]) == 1, f"{ref.key}: one note on its issue"
        for ref, issue, seen in self.detached.values():
            if ref.id in self.gone or issue.id in self.gone:
                continue
            assert self._bridge_writes(ref, issue) == seen, f"bridge synced {ref.key} after detaching it"

    def _left_alone(self, ref: Ref) -> bool:
        """A record outside the route whose back-reference names a deleted issue, and no stored link: the
        store was lost before it saw the deletion, and nothing left proves the record was ever linked (the
        issue that carried its marker is gone). bridge leaves it alone — leaving the route is never a reason
        to escalate (docs/operations.md §11) — and escalates it anew if it comes back into the route."""
        fields = self.world.itsm.record(ref).fields
        issues = {i.ref.key for i in self.world.jira.issues()}
        backref = fields.get("correlation_id")
        return fields.get("category") != "software" and bool(backref) and backref not in issues

    def _mirrors_come_from_own_issue(self, record: Ref, issue: Ref) -> None:
        """No write meant for a merged record landed on its survivor: every mirror bridge wrote on a
        record after a merge into it is of a comment on the record's own issue."""
        merged_at = [r for r, s in self.merged_into.items() if s == record.id]
        if not merged_at:
            return
        own = {c.id for c in self.world.jira.comments(issue)}
        for comment in self.world.itsm.comments(record):
            if comment.marker is None or comment.marker.side is not Side.JIRA:
                continue
            moved = any(comment.id in {c.id for c in self.world.itsm._merged[m].comments} for m in merged_at)
            assert moved or comment.marker.origin_id in own, f"{record.key} got a mirror of another issue's comment"

    @precondition(lambda self: bool(self.created))
    @rule()
    def quiescent_state_is_consistent(self) -> None:
        railed = self._settle()
        self._note_closed_links()
        self._note_detached()
        world = self.world
        live = [ref for ref in self.created if self._open_link(ref) is not None]
        linked_issues = {link.issue.id for link in world.store.links(world.spec.name)} - self.gone
        # an issue whose record was deleted while the state database was lost can be linked by nobody: the
        # record that would prove the pairing is gone (it carries that record's marker, and nothing else)
        gone_tokens = {ref.token for ref in self.created if ref.id in self.gone}
        orphans = {i.ref.id for i in world.jira.issues() if set(i.fields.get("labels") or ()) & gone_tokens}
        assert {i.ref.id for i in world.jira.issues()} - (orphans - linked_issues) == linked_issues, (
            "one issue per link, none twice"
        )
        for ref in self.created:
            if ref.id not in self.gone and not railed:  # the rail holds every cycle back until a person looks
                if world.store.link_for_record(world.spec.name, ref.id) is None and self._left_alone(ref):
                    continue
                assert world.store.link_for_record(world.spec.name, ref.id) is not None, f"{ref.key} has no link"
        troubled = {e.item_ref for e in world.store.errors()} | {e.link_id for e in world.store.errors()}
        for ref in live:
            link = self._open_link(ref)
            assert link is not None
            record, issue = world.itsm.record(ref), world.jira.issue(link.issue)
            self._mirrors_come_from_own_issue(ref, link.issue)
            if any(s == ref.id for s in self.merged_into.values()) or len(link.records) > 1:
                continue  # a survivor holds the merged ticket's comments and history too (RT moves them)
            assert ref.token in issue.fields["labels"]
            assert record.fields["correlation_id"] == issue.ref.key
            self._comments_mirrored_once(ref, link.issue)
            if link.id in troubled or ref.key in troubled or issue.ref.key in troubled:
                continue
            assert issue.fields["summary"] == f"{ref.key}: {record.fields['short_description']}"
            assert issue.fields["priority"] == PRIORITY[str(record.fields["priority"])]
            if record.status in STATE_TO_JIRA:
                assert issue.status == STATE_TO_JIRA[record.status], (record.status, issue.status)
            if issue.status in STATE_TO_ITSM:
                assert record.status == STATE_TO_ITSM[issue.status], (issue.status, record.status)

    def _rail_is_right(self) -> None:
        """A full read found nothing while links are open: only right when the rules deleted every issue
        (or record) those links point at, before bridge noticed."""
        open_links = [link for link in self.world.store.links(self.world.spec.name) if link.closed is None]
        assert open_links
        assert all(link.issue.id in self.gone for link in open_links) or all(
            {r.id for r in link.records} <= self.gone for link in open_links
        ), "the safety rail fired while the side still holds linked items"

    def _open_link(self, ref: Ref) -> Link | None:
        """The open link of a live record (``None`` when it is gone, or its link closed or moved away)."""
        if ref.id in self.gone:
            return None
        link = self.world.store.link_for_record(self.world.spec.name, ref.id)
        if link is None or link.closed is not None or link.issue.id in self.gone:
            return None
        if ref.id not in {r.id for r in link.records}:
            return None  # it left a link other records still share
        return link

    def _comments_mirrored_once(self, record: Ref, issue: Ref) -> None:
        itsm_comments = self.world.itsm.comments(record)
        jira_comments = self.world.jira.comments(issue)
        for original in (c for c in itsm_comments if c.marker is None):
            mirrors = [c for c in jira_comments if c.marker is not None and c.marker.origin_id == original.id]
            assert len(mirrors) == 1, f"ITSM comment {original.id} mirrored {len(mirrors)} times"
        for original in (c for c in jira_comments if c.marker is None):
            mirrors = [c for c in itsm_comments if c.marker is not None and c.marker.origin_id == original.id]
            assert len(mirrors) == 1, f"Jira comment {original.id} mirrored {len(mirrors)} times"

    def _settle(self) -> bool:
        """Cycles until nothing is planned or retried (crashes and failures armed earlier may still fire);
        True when the safety rail stopped them (rightly: :meth:`_rail_is_right`)."""
        for _ in range(12):
            self.world.clock.advance(seconds=7)
            try:
                report = self.world.cycle()
            except SimulatedCrash:
                self.world.restart()
                continue
            except ConnectorError:
                continue
            except SafetyRailError:
                self._rail_is_right()
                return True  # bridge refuses to go on until a person looks: as quiet as it gets
            if not report.actions and not report.reconciled:
                return False
        raise AssertionError("bridge never reached a quiescent state")


SyncMachine.TestCase.settings = settings(settings.default, stateful_step_count=25)
TestSyncStateMachine = SyncMachine.TestCase
