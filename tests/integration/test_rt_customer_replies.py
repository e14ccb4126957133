"""Against the real RT 5: a Jira comment routed to the requestor (comments.rules) is a reply without any
marker text, attributed with the person's name only, and it is never mirrored back to Jira."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.connectors.memory import MemoryJira
from tests.fixtures.rt_contract import engine_mapping
from tests.integration.test_rt_engine import Bridge

if TYPE_CHECKING:
    from tests.fixtures.rt import RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration


def test_a_customer_reply_from_jira_reaches_rt_without_marker_and_never_echoes(
    rt_server: RTServer, tmp_path: Path
) -> None:
    queue = rt_server.take_queue()
    base = engine_mapping(queue)
    rules = base.comments.model_validate({
        **base.comments.model_dump(exclude={"rules"}),
        "rules": {"to_itsm": [{"match": r"^\[customer\]\s*", "channel": "correspond", "strip": True}]},
    })
    spec = base.model_copy(update={"comments": rules})
    jira = MemoryJira(clock=lambda: datetime.now(UTC))
    bridge = Bridge(tmp_path, spec, rt_server.connector(), jira, rt_server.person())
    bridge.open()
    try:
        ticket = bridge.agent.create_ticket("Portal down", queue=queue, custom_fields={"Severity": "high"})
        bridge.cycle()
        issue = bridge.issue_for(ticket)
        bridge.jira.comment(issue, "[customer] A fix is deployed, please retry.", author="Dana Developer")
        bridge.jira.comment(issue, "Root cause: stale cache", author="Dana Developer")
        bridge.cycle()
        history = bridge.agent.history(ticket)
        texts = bridge.agent.texts(ticket)
        assert [t["Type"] for t in history].count("Correspond") == 1
        reply = next(t for t in texts if "A fix is deployed" in t)
        assert reply.strip() == "Dana Developer\nA fix is deployed, please retry."  # no marker, no "(Jira) wrote:"
        note = next(t for t in texts if "Root cause" in t)
        assert "[bridge:jira:" in note  # internal: the marker stays as the fallback
        before = len(bridge.jira.comments(issue))
        bridge.cycle()
        bridge.cycle()
        assert len(bridge.jira.comments(issue)) == before  # neither mirror came back
    finally:
        assert bridge.store is not None
        bridge.store.close()
