"""comments.rules (routing by content) and customer-visible mirrors: no marker, no internal attribution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.mapping import patterns
from bridge.mapping.loader import load_mapping_text
from bridge.mapping.schema import CommentRules
from bridge.model import Visibility
from bridge.sync.actions import AddComment
from bridge.sync.plan_comments_rules import customer_visible, route_to_itsm, route_to_jira
from bridge.sync.planner import plan
from tests.fixtures.engine import World, mapping_spec
from tests.fixtures.planning import comment, given, issue, link_state, mapping, record

CUSTOMER_RULES: dict[str, Any] = {
    "to_itsm_channel": "work_notes",
    "rules": {"to_itsm": [{"match": r"^\[customer\]\s*", "channel": "comments", "strip": True}]},
}
SYNCED = {"summary": "INC0000001: Printer 1 down", "priority": "Medium", "Customer": None, "Fix notes": None}


def linked() -> Any:
    return link_state(1, 1, {1: (SYNCED, "2")}, issue_fields=SYNCED)


def test_the_first_matching_rule_routes_and_strips_and_the_rest_take_the_mapping_channel() -> None:
    rules = CommentRules.model_validate(CUSTOMER_RULES)
    iss = issue(1)
    to_customer = route_to_itsm(comment("1", iss.ref, "[customer] The fix is deployed."), rules)
    assert (to_customer.channel, to_customer.body, to_customer.rule) == ("comments", "The fix is deployed.", 0)
    internal = route_to_itsm(comment("2", iss.ref, "root cause: [customer] config"), rules)
    assert (internal.channel, internal.body, internal.rule) == ("work_notes", "root cause: [customer] config", None)


def test_to_jira_rules_set_the_visibility_and_public_lifts_the_default() -> None:
    rules = CommentRules.model_validate({
        "jira_visibility": {"type": "role", "value": "Developers"},
        "rules": {"to_jira": [
            {"match": "^#public", "visibility": "public", "strip": True},
            {"match": "(?i)password", "visibility": {"type": "group", "value": "jira-administrators"}},
        ]},
    })
    default = Visibility("role", "Developers")
    rec = record(1)
    assert route_to_jira(comment("1", rec.ref, "#public all good"), rules, default).visibility is None
    assert route_to_jira(comment("1", rec.ref, "#public all good"), rules, default).body == "all good"
    secret = route_to_jira(comment("2", rec.ref, "the Password is in the vault"), rules, default)
    assert secret.visibility == Visibility("group", "jira-administrators")
    assert route_to_jira(comment("3", rec.ref, "plain"), rules, default).visibility == default


def test_a_rule_that_runs_out_of_time_is_not_applied_and_is_reported() -> None:
    rules = CommentRules.model_validate({"rules": {"to_itsm": [{"match": "(a|aa)+$", "channel": "comments"}]}})
    problems: list[str] = []
    before = patterns.timeout_ms()
    patterns.set_timeout_ms(20)
    try:
        routed = route_to_itsm(comment("9", issue(1).ref, "a" * 60 + "!"), rules, problems.append)
    finally:
        patterns.set_timeout_ms(before)
    assert routed.channel == "work_notes"  # the internal default, never the customer by accident
    assert problems
    assert "comments.rules.to_itsm[0]" in problems[0]


def test_the_planner_routes_a_customer_comment_with_the_customer_attribution_and_the_rest_internally() -> None:
    iss = issue(1)
    comments = {iss.ref.id: [comment("500", iss.ref, "[customer] Fixed in 2.3, please retry.", author="Dana Dev"),
                             comment("501", iss.ref, "Root cause: cache TTL", author="Dana Dev")]}
    result = plan(mapping(comments=CUSTOMER_RULES), given(issues=[iss], links=[linked()], comments=comments))
    mirrors = {a.origin_comment_id: a for a in result.actions if isinstance(a, AddComment)}
    assert mirrors["500"].channel == "comments"
    assert mirrors["500"].body == "Dana Dev\nFixed in 2.3, please retry."  # the person's name, nothing internal
    assert mirrors["501"].channel == "work_notes"
    assert mirrors["501"].body.startswith("Dana Dev (")  # the internal attribution


def test_customer_visibility_comes_from_the_vendor_facts() -> None:
    sn = mapping()
    rt = mapping(route={"record_type": "Support", "system": "rt"})
    jsm = mapping(route={"record_type": "HELP", "system": "jsm"})
    assert customer_visible(sn, "comments")
    assert not customer_visible(sn, "work_notes")
    assert customer_visible(rt, "correspond")
    assert not customer_visible(rt, "comment")
    assert customer_visible(jsm, "public")
    assert not customer_visible(jsm, "internal")


def test_a_rule_routing_to_a_channel_the_system_lacks_is_an_error_at_its_line() -> None:
    text = (
        "name: m\nroute: {record_type: incident}\ntarget: {project: OPS, issue_type: Bug}\n"
        "fields: {summary: {itsm: short_description}}\n"
        "comments:\n  rules:\n    to_itsm:\n      - match: '^x'\n        channel: coments\n"
    )
    [problem] = [p for p in load_mapping_text(text, "m.yaml").problems if p.severity == "error"]
    assert (problem.line, problem.path, problem.severity) == (9, "comments.rules.to_itsm[0].channel", "error")
    assert "did you mean `comments`" in (problem.hint or "")


# ------------------------------------------------------------------------- whole engine, in memory


def test_a_customer_reply_carries_no_marker_and_is_never_echoed(tmp_path: Path) -> None:
    world = World(tmp_path, mapping_spec(comments=CUSTOMER_RULES))
    try:
        record_ref = world.incident()
        world.settle()
        key = world.issue_of(record_ref)
        world.jira.comment(key, "[customer] Please restart the spooler.", author="Dana Developer")
        world.jira.comment(key, "spooler leaks handles", author="Dana Developer")
        world.settle()
        entries = {c.channel: c for c in world.itsm.comments(record_ref)}
        assert entries["comments"].body == "Dana Developer\nPlease restart the spooler."
        assert entries["comments"].marker is None  # nothing in the text the caller's e-mail would show
        assert entries["work_notes"].marker is not None  # internal: the marker stays as a fallback
        assert "[bridge:" not in entries["comments"].body
        jira_bodies = [c.body for c in world.jira.comments(world.jira.issue(key).ref)]
        assert len(jira_bodies) == 2  # neither mirror came back
        assert not world.settle()[-1].actions
    finally:
        world.close()

