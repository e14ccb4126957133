"""A state machine for attachments: people attach files on both sides, bridge syncs, crashes after an
upload, loses its state database; after every settled sync each side holds exactly one copy of every
file (by name and SHA-256) and nothing more — no file lost, none copied twice, none echoed back.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bridge.connectors.memory import SimulatedCrash
from bridge.model import Ref
from tests.fixtures.engine import World, mapping_spec

pytestmark = pytest.mark.slow

CONTENT = st.binary(min_size=0, max_size=64)


class AttachmentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="bridge-att-"))
        self.world = World(self.directory, mapping_spec(attachments={"max_size": 48}), backoff_base=0)
        self.record: Ref | None = None
        self.issue: Ref | None = None
        self.count = 0
        self.oversize: set[str] = set()

    def teardown(self) -> None:
        self.world.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @initialize()
    def link(self) -> None:
        self.record = self.world.incident("Printer on fire", state="2")
        self.world.cycle()
        self.world.settle()
        [issue] = self.world.jira.issues()
        self.issue = issue.ref

    def _name(self, side: str) -> str:
        self.count += 1
        return f"{side}-{self.count}.bin"

    @rule(content=CONTENT)
    def support_attaches(self, content: bytes) -> None:
        assert self.record is not None
        name = self._name("itsm")
        self.world.itsm.attach(self.record, name, content)
        self.world.itsm.edit(self.record, short_description=f"see {name}")  # ServiceNow: the file alone is no change
        if len(content) > 48:
            self.oversize.add(name)

    @rule(content=CONTENT)
    def developer_attaches(self, content: bytes) -> None:
        assert self.issue is not None
        name = self._name("jira")
        self.world.jira.attach(self.issue, name, content)
        if len(content) > 48:
            self.oversize.add(name)

    @rule()
    def sync(self) -> None:
        self.world.clock.advance(minutes=1)
        self.world.cycle()

    @rule(content=CONTENT)
    def crash_after_an_upload(self, content: bytes) -> None:
        """A file support attached is uploaded to Jira, and bridge dies before it writes that down."""
        self.support_attaches(content)
        self.world.clock.advance(minutes=1)
        self.world.jira.crash_after_next_write("upload_attachment")
        with contextlib.suppress(SimulatedCrash):
            self.world.cycle()
        self.world.jira._crash.clear()  # disarm when nothing was uploaded

    @rule()
    def lose_the_state_database(self) -> None:
        self.world.store.close()
        (self.directory / "bridge.sqlite3").unlink()
        self.world._open()
        assert self.record is not None
        assert self.issue is not None
        # adoption needs both items to change once, like a person touching them after the restore
        self.world.clock.advance(minutes=1)
        self.world.itsm.edit(self.record, short_description="after the restore")
        self.world.jira.edit(self.issue, summary="after the restore")

    @invariant()
    def settled_sides_hold_every_file_once(self) -> None:
        assert self.record is not None
        assert self.issue is not None
        self.world.clock.advance(minutes=1)
        self.world.itsm.edit(self.record, short_description=f"check {self.count}")
        self.world.settle()
        on_itsm = Counter((a.filename, hashlib.sha256(d).hexdigest()) for a, d in self.world.itsm.files(self.record))
        on_jira = Counter((a.filename, hashlib.sha256(d).hexdigest()) for a, d in self.world.jira.files(self.issue))
        everything = {k for k in on_itsm | on_jira if k[0] not in self.oversize}
        assert all(on_itsm[k] == 1 and on_jira[k] == 1 for k in everything), (on_itsm, on_jira)
        for name in self.oversize:
            assert sum(1 for k in on_itsm | on_jira if k[0] == name) == 1
            notes = [c for c in [*self.world.jira.comments(self.issue), *self.world.itsm.comments(self.record)]
                     if name in c.body and "did not copy" in c.body]
            assert len(notes) == 1, notes


# Every step settles two cycles or more: a few examples of a few steps already cover crash and loss orders.
AttachmentMachine.TestCase.settings = settings(settings.default, stateful_step_count=8,
                                               max_examples=min(settings.default.max_examples, 15))
TestAttachmentMachine = AttachmentMachine.TestCase
