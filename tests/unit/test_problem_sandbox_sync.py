"""A ``problem`` mapping syncs through the real ServiceNow connector against the sandbox's problem table:
the problem becomes a Jira Bug, the developer's Done resolves the problem with its resolution code and
notes, and the sandbox refuses a resolving write without them, as the instance's data policy does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.connectors.memory import ManualClock, MemoryJira
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.sandbox.servicenow import Refused
from bridge.store import Store
from bridge.sync.cycle import run_cycle
from bridge.sync.engine import Engine
from tests.fixtures.servicenow import Snow, make_connector, running_sandbox

SPEC = MappingSpec.model_validate(
    {
        "name": "problem-to-bug",
        "route": {"record_type": "problem", "where": {"field": "state", "in": ["101", "102", "103", "104"]}},
        "target": {"project": "OPS", "issue_type": "Bug"},
        "fields": {"summary": {"template": "{{ record.key }}: {{ short_description }}"}},
        "status": {
            "to_jira": {"101": "To Do", "102": "To Do", "103": "In Progress", "104": "In Progress"},
            "to_itsm": {
                "category:done": {
                    "state": "106",
                    "fields": {
                        "resolution_code": "fix_applied",
                        "cause_notes": "Root cause found in Jira",
                        "fix_notes": "Fixed in Jira",
                    },
                }
            },
        },
    }
)


@pytest.fixture
def snow() -> Iterator[Snow]:
    with running_sandbox(clock=ManualClock()) as running:  # type: ignore[arg-type]
        yield running


def test_a_problem_becomes_a_bug_and_is_resolved_with_its_close_fields(snow: Snow, tmp_path: Path) -> None:
    clock = snow.clock
    problem = snow.app.create_problem("Checkout fails for coupon codes with lower case letters")
    assert problem["number"].startswith("PRB")
    assert problem["state"] == "101"
    jira = MemoryJira(clock=clock)  # type: ignore[arg-type]
    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    itsm = make_connector(snow.url)
    engine = Engine(store, itsm, jira, [SPEC], clock=clock)  # type: ignore[arg-type]
    try:
        clock.advance(5)  # type: ignore[call-arg]
        report = run_cycle(engine, SPEC.name)
        assert report.actions_by_kind.get("create_issue") == 1
        (issue,) = jira.issues()
        assert (
            issue.fields["summary"] == f"{problem['number']}: Checkout fails for coupon codes with lower case letters"
        )

        jira.transition_to(issue.ref, "Done")
        for _ in range(3):
            clock.advance(5)  # type: ignore[call-arg]
            run_cycle(engine, SPEC.name)
        resolved = snow.app.record("problem", problem["sys_id"])
        assert resolved["state"] == "106"
        assert resolved["problem_state"] == "106"
        assert resolved["resolution_code"] == "fix_applied"
        assert resolved["cause_notes"] == "Root cause found in Jira"
        assert resolved["fix_notes"] == "Fixed in Jira"
        assert store.errors() == []
    finally:
        itsm.close()
        store.close()


def test_the_sandbox_refuses_resolving_a_problem_without_its_close_fields(snow: Snow) -> None:
    problem = snow.app.create_problem("Printer queue stalls")
    with pytest.raises(Refused, match="Resolution code"):
        snow.app.set_state("problem", problem["sys_id"], 106)
    with pytest.raises(Refused, match="Fix notes"):
        snow.app.set_state("problem", problem["sys_id"], 106, resolution_code="fix_applied", cause_notes="x")
    closed = snow.app.set_state("problem", problem["sys_id"], 107, resolution_code="canceled", close_notes="went away")
    assert closed["active"] == "false"
