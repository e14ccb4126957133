"""Every action's log line carries ``record`` and ``issue`` as fields, not only inside a sentence."""

from __future__ import annotations

from pathlib import Path

from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from bridge.errors import PermanentError
from bridge.model import Ref, Side
from bridge.sync.actions import SetStatus
from bridge.sync.executor_parts import action_refs
from tests.fixtures.engine import World, mapping_spec


def test_action_lines_name_the_record_and_the_issue(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec())
    try:
        record = world.incident("Printer on fire", state="2")
        world.cycle()
        key = world.issue_of(record)
        world.clock.advance(minutes=3)
        world.itsm.edit(record, priority="1")
        world.jira.fail_next("update_fields", PermanentError("refused", side="jira", status=400, vendor_message="no"))
        with capture_logs(processors=[merge_contextvars]) as lines:
            world.cycle()
    finally:
        world.close()
    failed = [line for line in lines if line.get("action") == "update_fields"]
    assert failed, lines
    assert all(line.get("record") == record.key and line.get("issue") == key for line in failed), failed


def test_a_placeholder_issue_is_no_log_field() -> None:
    record = Ref(Side.ITSM, "incident", "sys1", "INC0010001")
    placeholder = Ref(Side.JIRA, "issue", "pending:sys1", "pending-key:sys1")
    assert action_refs(SetStatus("m", None, placeholder, "Done")) == {}
    assert action_refs(SetStatus("m", 1, record, "6")) == {"record": "INC0010001"}
