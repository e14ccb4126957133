"""Customer replies without marker text, and a state database that is lost or restored, as a hypothesis
state machine (memory connectors, real SQLite; ``itsm.dedicated_account: true``).

Developers comment in Jira; a comment starting with ``[customer]`` goes to the caller (ServiceNow
``comments``: no marker, the person's name as the first line), the rest are work notes (with a marker).
Callers answer on the record. Cycles run; the database is backed up, deleted, restored to an older
snapshot. At every quiescent point:

* each Jira comment has exactly one mirror on its record: a work note naming it, or a reply to the
  caller by bridge's account with its text — never two (identical texts need one reply each);
* each comment a person made on the record has exactly one mirror in Jira;
* nothing bridge wrote on the record (a reply by its account, a work note with a marker) reached Jira.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, precondition, rule

from bridge.model import Ref, Side
from tests.fixtures.engine import World, mapping_spec

WORDS = st.sampled_from(["ok", "retry", "VPN", "down", "thanks", "résumé"])
TEXT = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
pytestmark = pytest.mark.slow  # whole engine cycles per step, like the attachments machine

RULES = {"rules": {"to_itsm": [{"match": r"^\[customer\]\s*", "channel": "comments", "strip": True}]}}


class CustomerCarrierMachine(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="bridge-carrier-"))
        self.world = World(self.directory, mapping_spec(comments=RULES), backoff_base=0)
        self.world.itsm.dedicated_account = True
        self.installed = self.world.store.see_mapping(self.world.spec.name, self.world.clock())
        self.created: list[Ref] = []
        self.snapshots: list[Path] = []

    def teardown(self) -> None:
        self.world.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(target=records, summary=TEXT)
    def create_record(self, summary: str) -> Ref:
        ref = self.world.incident(summary, state="2")
        self.created.append(ref)
        return ref

    @rule(record=records, body=TEXT, customer=st.booleans())
    def developer_comments(self, record: Ref, body: str, customer: bool) -> None:
        link = self.world.store.link_for_record(self.world.spec.name, record.id)
        if link is not None:
            self.world.jira.comment(link.issue, f"[customer] {body}" if customer else body, author="Dana Developer")

    @rule(record=records, body=TEXT, channel=st.sampled_from(["comments", "work_notes"]))
    def person_comments_on_the_record(self, record: Ref, body: str, channel: str) -> None:
        self.world.itsm.comment(record, body, channel=channel, author="Carol Caller")

    @rule()
    def cycle(self) -> None:
        self.world.clock.advance(seconds=7)
        self.world.cycle()

    @property
    def _database(self) -> Path:
        return self.directory / "bridge.sqlite3"

    def _replace_database(self, snapshot: Path | None) -> None:
        self.world.store.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self._database}{suffix}").unlink(missing_ok=True)
        if snapshot is not None:
            shutil.copy(snapshot, self._database)
        self.world._open()
        self.world.store.see_mapping(self.world.spec.name, self.installed)

    @rule()
    def back_up_the_state_database(self) -> None:
        target = self.directory / f"snapshot-{len(self.snapshots)}.sqlite3"
        with sqlite3.connect(self._database) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        self.snapshots.append(target)

    @rule()
    def delete_the_state_database(self) -> None:
        self._replace_database(None)

    @precondition(lambda self: bool(self.snapshots))
    @rule(pick=st.integers(min_value=0, max_value=7))
    def restore_the_state_database_to_an_older_snapshot(self, pick: int) -> None:
        self._replace_database(self.snapshots[pick % len(self.snapshots)])

    @precondition(lambda self: bool(self.created))
    @rule()
    def quiescent_state_is_consistent(self) -> None:
        for _ in range(12):
            self.world.clock.advance(seconds=7)
            report = self.world.cycle()
            if not report.actions and not report.reconciled:
                break
        else:
            raise AssertionError("bridge never reached a quiescent state")
        for ref in self.created:
            link = self.world.store.link_for_record(self.world.spec.name, ref.id)
            assert link is not None, f"{ref.key} has no link"
            on_record = self.world.itsm.comments(ref)
            on_issue = self.world.jira.comments(link.issue)
            originals = [c for c in on_issue if c.marker is None]
            replies = Counter(c.body for c in on_record if c.own)
            wanted = Counter(f"{c.author}\n{c.body.removeprefix('[customer]').strip()}"
                             for c in originals if c.body.startswith("[customer]"))
            assert replies == wanted, f"{ref.key}: replies to the caller {dict(replies)} != {dict(wanted)}"
            for original in (c for c in originals if not c.body.startswith("[customer]")):
                notes = [c for c in on_record if c.marker is not None and c.marker.origin_id == original.id]
                assert len(notes) == 1, f"Jira comment {original.id} became {len(notes)} work notes"
            by_origin = Counter(c.marker.origin_id for c in on_issue if c.marker is not None)
            for comment in on_record:
                if comment.is_mirror:
                    assert by_origin[comment.id] == 0, f"bridge's {comment.id} went back to Jira"
                else:
                    assert by_origin[comment.id] == 1, f"{comment.id} mirrored {by_origin[comment.id]} times"
            assert all(c.marker is None or c.marker.side is Side.ITSM for c in on_issue)


CustomerCarrierMachine.TestCase.settings = settings(settings.default, stateful_step_count=20,
                                                    max_examples=min(settings.default.max_examples, 15))
TestCustomerCarrierMachine = CustomerCarrierMachine.TestCase
