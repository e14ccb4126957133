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


def test_incidents_related_to_an_escalated_problem_count_towards_its_bug(snow: Snow, tmp_path: Path) -> None:
    """"Incident → problem → Jira Bug": support relates incidents to the problem (``problem_id``); only the
    problem is escalated. The trend report ranks the problem's Bug by every incident behind it, read in
    one search of the incident table (``problem_idIN…``) through the real connector."""
    from datetime import UTC, datetime, timedelta

    from bridge.store.trends_queries import load_trend_facts
    from bridge.trends.related import read_related
    from bridge.trends.report import StatusPolicy, build_report

    clock = snow.clock
    coupons = snow.app.create_problem("Coupons with lower case letters are refused")
    printers = snow.app.create_problem("Printer queue stalls")
    jira = MemoryJira(clock=clock)  # type: ignore[arg-type]
    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    itsm = make_connector(snow.url)
    engine = Engine(store, itsm, jira, [SPEC], clock=clock)  # type: ignore[arg-type]
    try:
        clock.advance(5)  # type: ignore[call-arg]
        run_cycle(engine, SPEC.name)
        behind_coupons = [snow.app.create_incident(f"Coupon refused #{n}", problem_id=coupons["sys_id"])
                          for n in range(4)]
        snow.app.set_state("incident", behind_coupons[0]["sys_id"], 6, close_code="Solution provided",
                           close_notes="Workaround given")
        snow.app.create_incident("Unrelated outage")  # no problem: counts nowhere
        facts = load_trend_facts(store.engine)
        parents = [r.record_id for f in facts for r in f.records]
        before = itsm.calls.total
        related = read_related(itsm, SPEC, parents)
        assert itsm.calls.total - before == 1  # one search for both problems' incidents
        assert sorted(x.record_key for x in related[coupons["sys_id"]]) == sorted(
            i["number"] for i in behind_coupons
        )
        assert printers["sys_id"] not in related

        now = datetime.now(UTC) + timedelta(days=400)  # the sandbox clock is in 2026; count everything
        report = build_report(facts, now=now, since=now - timedelta(days=3650), policy=StatusPolicy.of(["6", "7"], []),
                              related=related)
        ranked = [(x.issue_key, x.linked_total, x.linked_open, x.via_related) for x in report.issues]
        coupons_issue = store.link_for_record(SPEC.name, coupons["sys_id"]).issue.key  # type: ignore[union-attr]
        printers_issue = store.link_for_record(SPEC.name, printers["sys_id"]).issue.key  # type: ignore[union-attr]
        assert ranked == [(coupons_issue, 5, 4, 4), (printers_issue, 1, 1, 0)]
        assert report.issues[0].added_in_period == 5  # the problem and its four incidents (opened_at)
    finally:
        itsm.close()
        store.close()
