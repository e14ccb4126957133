"""`bridge sync` as an operator runs it, with an RT mapping, against a real RT 5 and the Jira sandbox.

Both connectors are built from the configuration file exactly as in production (``itsm.kind: rt`` with
``itsm.timezone``, the Jira sandbox's URL, tokens from the environment); nothing is injected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from bridge.cli import cli
from bridge.sandbox.jira import BRIDGE_EMAIL, BRIDGE_TOKEN
from tests.fixtures.jira_sandbox import JiraEnv, start_jira, stop_jira

if TYPE_CHECKING:
    from tests.fixtures.rt import RTPerson, RTServer

pytest_plugins = ["tests.fixtures.rt"]
pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@dataclass
class Setup:
    path: Path
    queue: str
    agent: RTPerson
    jira: JiraEnv

    def bridge(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.path / "config.yaml"), *args])

    def issues(self) -> list[dict[str, Any]]:
        return self.jira.sandbox.snapshot()

    def sync(self) -> None:
        result = self.bridge("sync", "--once")
        assert result.exit_code == 0, result.output


@pytest.fixture
def setup(rt_server: RTServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    for name in ("BRIDGE_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    jira = start_jira("cloud")
    monkeypatch.setenv("BRIDGE_ITSM__TOKEN", rt_server.tokens["bridge"])
    monkeypatch.setenv("BRIDGE_JIRA__TOKEN", BRIDGE_TOKEN)
    queue = rt_server.take_queue()
    example = YAML(typ="safe", pure=True).load(
        (Path(__file__).resolve().parents[2] / "mappings" / "rt-incident-to-bug.yaml").read_text()
    )
    example.update(enabled=True)
    example["route"]["record_type"] = queue
    example["target"]["project"] = "OPS"
    (tmp_path / "mappings").mkdir()
    with (tmp_path / "mappings" / "rt.yaml").open("w") as out:
        YAML(typ="safe", pure=True).dump(example, out)
    (tmp_path / "config.yaml").write_text(
        f"jira:\n  url: {jira.url}\n  email: {BRIDGE_EMAIL}\n"
        f"itsm:\n  kind: rt\n  url: {rt_server.url}\n  timezone: {rt_server.timezone}\n"
        f"state:\n  url: sqlite:///{tmp_path / 'bridge.sqlite3'}\n"
        "mappings:\n  directory: mappings\n"
        "logging:\n  format: json\n  level: WARNING\n"
    )
    try:
        yield Setup(tmp_path, queue, rt_server.person(), jira)
    finally:
        stop_jira(jira)


def test_ticket_to_bug_and_back_through_the_cli(setup: Setup) -> None:
    agent = setup.agent
    ticket = agent.create_ticket("Checkout fails with 500", queue=setup.queue, custom_fields={"Severity": "critical"})
    agent.create_ticket("Font too small", queue=setup.queue, custom_fields={"Severity": "low"})
    setup.sync()
    [issue] = setup.issues()
    assert issue["summary"] == f"RT#{ticket}: Checkout fails with 500"
    assert issue["issuetype"] == "Bug"
    assert "bridge-rt" in issue["labels"]
    assert agent.custom_field(ticket, "Jira Key") == [issue["key"]]

    agent.comment(ticket, "Happens only with coupons")
    setup.jira.sandbox.add_comment(issue["key"], "Reproduced, fixing")
    setup.sync()
    setup.sync()
    [issue] = setup.issues()
    bodies = [c["body"] for c in issue["comments"]]
    assert sum("Happens only with coupons" in b for b in bodies) == 1
    assert sum("Reproduced, fixing" in b for b in bodies) == 1
    texts = agent.texts(ticket)
    assert sum("Reproduced, fixing" in t for t in texts) == 1
    assert not any("Happens only with coupons" in t and "[bridge:" in t for t in texts)  # no echo back

    setup.jira.sandbox.transition(issue["key"], "Done")
    setup.sync()
    assert agent.ticket(ticket)["Status"] == "resolved"
    agent.set_status(ticket, "open")  # the customer is not happy
    setup.sync()
    [issue] = setup.issues()
    assert issue["status"] == "In Progress"
    assert len(setup.issues()) == 1


def test_kill_9_mid_sync_and_restart_duplicates_nothing(setup: Setup) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import bridge

    source = str(Path(bridge.__file__).resolve().parents[1])  # this checkout, whatever is installed
    env = {**os.environ, "PYTHONPATH": source}  # the tokens are in the environment already (fixture)
    tickets = []
    for n in range(6):
        ticket = setup.agent.create_ticket(f"Outage {n}", queue=setup.queue, custom_fields={"Severity": "high"})
        setup.agent.comment(ticket, f"first note {n}")
        tickets.append(ticket)
    command = [sys.executable, "-m", "bridge", "--config", str(setup.path / "config.yaml"), "sync", "--once"]
    log = (setup.path / "killed.log").open("w")
    child = subprocess.Popen(command, env=env, cwd=setup.path, start_new_session=True, stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not setup.issues() and child.poll() is None:
        time.sleep(0.05)
    assert child.poll() is None, (setup.path / "killed.log").read_text()[-2000:]
    os.killpg(child.pid, signal.SIGKILL)  # mid-cycle: after the first issue exists, before the rest
    child.wait(timeout=10)
    # Cut short (or raced to the end): creates go to Jira in one bulk request, so every issue may exist
    # already while their follow-ups (remote links, back-references, comments) are still to be written.
    assert child.returncode in (-signal.SIGKILL, 0)
    for _ in range(3):
        finished = subprocess.run(command, env=env, cwd=setup.path, capture_output=True, text=True, timeout=300,
                                  check=False)
        assert finished.returncode == 0, finished.stderr[-2000:]
    issues = setup.issues()
    assert len(issues) == len(tickets)
    assert sorted(i["summary"] for i in issues) == sorted(f"RT#{t}: Outage {n}" for n, t in enumerate(tickets))
    for n, issue in enumerate(sorted(issues, key=lambda i: i["summary"])):
        assert sum(f"first note {n}" in c["body"] for c in issue["comments"]) == 1
    keys = {ticket: setup.agent.custom_field(ticket, "Jira Key") for ticket in tickets}
    # every ticket has exactly its own issue's key: the follow-ups of a create interrupted by the kill are
    # journaled with it and reconciled after the restart (tests/unit/test_crash_followups.py pins each point)
    by_summary = {i["summary"]: i["key"] for i in issues}
    assert keys == {t: [by_summary[f"RT#{t}: Outage {n}"]] for n, t in enumerate(tickets)}
