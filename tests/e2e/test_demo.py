"""``bridge demo`` as a newcomer runs it: a subprocess in an empty directory, the shipped mappings.

The story lines are asserted from what the sandboxes must have done (issue keys, the close code the
shipped mapping demands, the reopen, idle cycles), and no sandbox secret may reach either stream.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bridge.sandbox.jira import BRIDGE_PASSWORD, BRIDGE_PAT, BRIDGE_TOKEN
from bridge.sandbox.servicenow import API_PASSWORD, OAUTH_TOKEN

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
SECRETS = (BRIDGE_TOKEN, BRIDGE_PAT, BRIDGE_PASSWORD, API_PASSWORD, OAUTH_TOKEN)


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "bridge", "demo", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def incident_key(stdout: str, title: str) -> tuple[str, str]:
    match = re.search(rf'(INC\d{{7}}) → (DEMO-\d+) \(Bug\)  "{re.escape(title)}"', stdout)
    assert match, stdout
    return match.group(1), match.group(2)


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_demo_tells_the_whole_story_and_exits_0(tmp_path: Path, mode: str) -> None:
    result = run_demo(tmp_path, "--mappings", str(MAPPINGS), "--jira-mode", mode)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr

    record, issue = incident_key(out, "Users cannot log in to the customer portal")
    incident_key(out, "Monthly sales report shows totals off by one day")
    assert re.search(r'CHG\d{7} → DEMO-\d+ \(Story\)  "Upgrade OpenSSL to 3.0.x on the payment gateway"', out)
    assert re.search(r"INC\d{7} not selected by incident-to-bug \(assignment group Service Desk, priority 4\)", out)
    assert f"comment mirrored {issue} → {record} (work note)" in out
    assert f"comment mirrored {record} → {issue} (comment)" in out
    assert f'{issue} Done → {record} Resolved (close code "Solved (Permanently)")' in out
    assert f"Sam Support reopened {record} (Resolved → In Progress)" in out
    assert f"{record} In Progress → {issue} In Progress" in out
    idle = re.findall(r"idle cycle \d: (\d+) action\(s\); vendor calls: ServiceNow (\d+), Jira (\d+) "
                      r"\(promised: 1 search per side per mapping = 3 \+ 3\) ✔", out)
    assert idle == [("0", "3", "3")] * 3, out
    assert "reading back its own last writes: 0 action(s)" in out
    # incident -> problem -> Jira Bug: the problem is escalated, its incidents are related, not escalated
    problem = re.search(r'(PRB\d{7}) → (DEMO-\d+) \(Bug\)  "Invoice PDFs are cut off after the first page"', out)
    assert problem, out
    related = re.findall(rf"(INC\d{{7}}) \(P4, Service Desk, related to {problem.group(1)}\)", out)
    assert len(related) == 2, out
    assert f"{problem.group(2)} Done → {problem.group(1)} Resolved" in out
    assert not any(re.search(rf"{number} → DEMO-", out) for number in related)
    row = re.search(rf"^{record}\s+{issue}\s+Bug\s+In Progress\s+In Progress\s+(\d+)\s+(\d+)$", out, re.M)
    assert row, out
    assert row.groups() == ("2", "2"), out
    assert "✖" not in out
    assert "\x1b[" not in out  # no colours when stdout is not a terminal
    for secret in SECRETS:
        assert secret not in out
        assert secret not in result.stderr


def test_demo_workdir_keeps_a_config_with_no_secret_in_it(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = run_demo(tmp_path, "--mappings", str(MAPPINGS), "--workdir", str(workdir))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    assert config["mappings"]["directory"] == str(MAPPINGS)
    assert config["itsm"]["kind"] == "servicenow"
    text = (workdir / "config.yaml").read_text()
    assert not any(secret in text for secret in SECRETS)
    assert (workdir / "credentials" / "jira_token").stat().st_mode & 0o077 == 0
    assert (workdir / "bridge.sqlite3").exists()
    assert f"kept in {workdir}" in result.stdout
    # a rerun in the same directory starts afresh: the same keys again, not duplicates
    again = run_demo(tmp_path, "--mappings", str(MAPPINGS), "--workdir", str(workdir))
    assert again.returncode == 0, again.stdout + again.stderr
    created = re.compile(r"→ (DEMO-\d+) \((?:Bug|Story)\)")
    keys = sorted(created.findall(result.stdout))
    assert sorted(created.findall(again.stdout)) == keys == ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]


def test_demo_without_mappings_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_demo(tmp_path, "--mappings", str(tmp_path / "mappings"))
    assert result.returncode == 2
    assert f"{tmp_path / 'mappings'}" in result.stderr
    assert "--mappings" in result.stderr
    assert result.stdout == ""
