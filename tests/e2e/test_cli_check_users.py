"""``bridge check --online`` names the accounts of ``users:`` that cannot be resolved (real Jira connector,
Jira sandbox in Cloud mode; the ITSM in memory, which has no user directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sandbox.jira.catalog import USERS
from tests.e2e.test_cli_doctor import ITSM_IN_MEMORY, bridge, jira, lines_with, site, write_mapping
from tests.fixtures.engine import MAPPING

__all__ = ["jira", "site"]  # the fixtures this module uses

pytestmark = pytest.mark.slow


def test_check_online_names_the_jira_accounts_that_do_not_exist(site: Path) -> None:
    people = {
        **MAPPING,
        "fields": {**MAPPING["fields"], "assignee": {"itsm": "assigned_to", "user": True}},
        "users": {
            "table": [{"itsm": "sn-dana", "jira": USERS["dana"]["accountId"]},
                      {"itsm": "sn-gone", "jira": "557058:no-such-account"}],
            "fallback": {"itsm": "sn-bridge", "jira": USERS["bridge"]["accountId"]},
        },
    }
    write_mapping(site, people)
    result = bridge(site, "check", "--online", factories=ITSM_IN_MEMORY)
    assert result.exit_code == 3, result.output
    assert lines_with(result.output, "✖ incidents: users.table[1]: no Jira user '557058:no-such-account'")
    assert not any("users.table[0]" in line for line in result.output.splitlines())
    assert "people map through users.table and users.fallback only" in result.output
    people["users"]["table"].pop()
    write_mapping(site, people)
    fixed = bridge(site, "check", "--online", factories=ITSM_IN_MEMORY)
    assert fixed.exit_code == 0, fixed.output
    resolved = "✔ incidents: users resolve by e-mail, then through 1 table pair(s) and the fallback"
    assert lines_with(fixed.output, resolved)
