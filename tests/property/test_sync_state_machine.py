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
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from bridge.connectors.memory import SimulatedCrash
from bridge.errors import ConnectorError, TransientError
from bridge.model import Ref, Side
from tests.fixtures.engine import World, mapping_spec

PRIORITY = {"1": "Highest", "2": "High", "3": "Medium", "4": "Low"}
STATE_TO_JIRA = {"2": "In Progress", "6": "Done"}
STATE_TO_ITSM = {status: state for state, status in STATE_TO_JIRA.items()}
WORDS = st.sampled_from(["printer", "smoke", "VPN", "down", "again", "urgent", "résumé", "ok"])
TEXT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
WRITES = ["create", "update_fields", "set_status", "add_comment", "write_back_reference"]
READS = ["search_changed", "comments_since", "find_by_marker", "find_comment_by_marker", "get"]


class SyncMachine(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="bridge-sm-"))
        self.world = World(self.directory, mapping_spec(), backoff_base=0)
        self.created: list[Ref] = []
        self.snapshots: list[Path] = []  # backups of the state database (see the state-database rules)

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
        self.world.itsm.edit(record, short_description=summary)

    @rule(record=records, priority=st.sampled_from(sorted(PRIORITY)))
    def edit_priority(self, record: Ref, priority: str) -> None:
        self.world.itsm.edit(record, priority=priority)

    @rule(record=records, state=st.sampled_from(["2", "6"]))
    def change_state(self, record: Ref, state: str) -> None:
        close = {"close_code": "Solved (Permanently)", "close_notes": "done"} if state == "6" else {}
        self.world.itsm.set_state(record, state, **close)

    @rule(record=records, body=TEXT, channel=st.sampled_from(["work_notes", "comments"]))
    def itsm_comment(self, record: Ref, body: str, channel: str) -> None:
        self.world.itsm.comment(record, body, channel=channel)

    def _issue(self, record: Ref) -> Ref | None:
        link = self.world.store.link_for_record(self.world.spec.name, record.id)
        return link.issue if link is not None else None

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

    @rule()
    def cycle(self) -> None:
        self._cycle()

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

    # ------------------------------------------------------------------------------ the state database

    @property
    def _database(self) -> Path:
        return self.directory / "bridge.sqlite3"

    def _replace_database(self, snapshot: Path | None) -> None:
        """The process stops, the database file is removed (or replaced by ``snapshot``), bridge starts again."""
        self.world.store.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self._database}{suffix}").unlink(missing_ok=True)
        if snapshot is not None:
            shutil.copy(snapshot, self._database)
        self.world._open()

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

    @precondition(lambda self: bool(self.created))
    @rule()
    def quiescent_state_is_consistent(self) -> None:
        self._settle()
        world = self.world
        issues = world.jira.issues()
        assert len(issues) == len(self.created), "one issue per selected record, none twice"
        troubled = {e.item_ref for e in world.store.errors()} | {e.link_id for e in world.store.errors()}
        for ref in self.created:
            link = world.store.link_for_record(world.spec.name, ref.id)
            assert link is not None, f"{ref.key} has no link"
            record, issue = world.itsm.record(ref), world.jira.issue(link.issue)
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

    def _comments_mirrored_once(self, record: Ref, issue: Ref) -> None:
        itsm_comments = self.world.itsm.comments(record)
        jira_comments = self.world.jira.comments(issue)
        for original in (c for c in itsm_comments if c.marker is None):
            mirrors = [c for c in jira_comments if c.marker is not None and c.marker.origin_id == original.id]
            assert len(mirrors) == 1, f"ITSM comment {original.id} mirrored {len(mirrors)} times"
        for original in (c for c in jira_comments if c.marker is None):
            mirrors = [c for c in itsm_comments if c.marker is not None and c.marker.origin_id == original.id]
            assert len(mirrors) == 1, f"Jira comment {original.id} mirrored {len(mirrors)} times"

    def _settle(self) -> None:
        """Cycles until nothing is planned or retried (crashes and failures armed earlier may still fire)."""
        for _ in range(12):
            self.world.clock.advance(seconds=7)
            try:
                report = self.world.cycle()
            except SimulatedCrash:
                self.world.restart()
                continue
            except ConnectorError:
                continue
            if not report.actions and not report.reconciled:
                return
        raise AssertionError("bridge never reached a quiescent state")


SyncMachine.TestCase.settings = settings(settings.default, stateful_step_count=25)
TestSyncStateMachine = SyncMachine.TestCase
