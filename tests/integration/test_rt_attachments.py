"""Files both ways between a real Request Tracker 5 and the Jira sandbox (Data Center, over HTTP), through
the real engine: identical bytes (sha256) both ways, exactly once, bridge's own uploads never mirrored back,
and a file that came with an RT comment keeps its place: the mirrored comment says "(attached: …)"."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from bridge.connectors.http import HttpOptions
from bridge.connectors.jira import JiraConnector
from bridge.connectors.rt import RTConnector
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref
from bridge.sandbox.jira import BRIDGE_PAT, JiraSandbox
from bridge.sandbox.server import SandboxServer
from bridge.store import Store
from bridge.sync.cycle import CycleReport, run_cycle
from bridge.sync.engine import Engine, EngineOptions
from tests.fixtures.rt_contract import engine_mapping

if TYPE_CHECKING:
    from tests.fixtures.rt import RTPerson, RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = pytest.mark.integration

LOG = b"2026-12-03 12:00:01 ERROR disk full on /var\n" * 30
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class World:
    spec: MappingSpec
    rt: RTConnector
    jira: JiraConnector
    sandbox: JiraSandbox
    agent: RTPerson
    store: Store
    engine: Engine

    def cycle(self) -> CycleReport:
        return run_cycle(self.engine, self.spec.name)

    def settle(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            report = self.cycle()
            if not report.actions:
                return
        raise AssertionError("never settled")

    def issue_for(self, ticket: str) -> Ref:
        link = self.store.link_for_record(self.spec.name, ticket)
        assert link is not None, f"ticket {ticket} has no link"
        return link.issue


@pytest.fixture
def world(rt_server: RTServer, tmp_path: Path) -> Iterator[World]:
    queue = rt_server.take_queue()
    spec = MappingSpec.model_validate({**engine_mapping(queue).model_dump(by_alias=True, exclude_none=True),
                                       "attachments": {"direction": "both", "max_size": 100_000}})
    sandbox = JiraSandbox(mode="datacenter")
    server = SandboxServer(sandbox).start()
    jira = JiraConnector(server.url, deployment="datacenter", token=SecretStr(BRIDGE_PAT),
                         http=HttpOptions(base_url=server.url, requests_per_second=10_000, burst=10_000,
                                          max_attempts=3, backoff_base=0.1, read_timeout=20))
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.sqlite3'}")
    rt = rt_server.connector()
    engine = Engine(store, rt, jira, [spec], options=EngineOptions(backoff_base=0.1, work_dir=str(tmp_path / "files")))
    try:
        yield World(spec, rt, jira, sandbox, rt_server.person(), store, engine)
    finally:
        store.close()
        jira.close()
        server.stop()


def test_files_cross_between_rt_and_jira_once_with_identical_bytes(world: World, tmp_path: Path) -> None:
    ticket = world.agent.create_ticket("Disk full", queue=world.spec.route.record_type,
                                       custom_fields={"Severity": "high"})
    world.settle()
    issue = world.issue_for(ticket)

    world.agent.attach(ticket, "error.log", LOG, "text/plain", text="The log from last night.")
    world.sandbox.attach(issue.key, "screenshot.png", PNG, mime_type="image/png")
    world.settle()

    on_jira = {meta["filename"]: data for meta, data in world.sandbox.files(issue.key)}
    on_rt = world.agent.files(ticket)
    assert sorted(on_jira) == ["error.log", "screenshot.png"]
    assert sha(on_jira["error.log"]) == sha(LOG)
    assert sorted(on_rt) == ["error.log", "screenshot.png"]
    assert sha(on_rt["screenshot.png"]) == sha(PNG)
    # the file came with a comment: the mirrored comment names it where it was
    [mirrored] = [c for c in world.jira.comments_since([issue], None)[issue.id] if "The log from last night." in c.body]
    assert "(attached: error.log)" in mirrored.body

    # nothing echoed, nothing copied twice
    world.agent.comment(ticket, "any news?")
    world.settle()
    assert len(world.sandbox.files(issue.key)) == 2
    assert sorted(world.agent.files(ticket)) == ["error.log", "screenshot.png"]
    assert list((tmp_path / "files").iterdir()) == []
