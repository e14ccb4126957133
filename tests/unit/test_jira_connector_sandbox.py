"""The Jira connector against the sandbox Jira over real HTTP, in Cloud and Data Center modes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira import JiraConnector
from bridge.errors import AuthError, RateLimitedError, TransientError, WorkflowError
from bridge.mapping.schema import JiraStatusTarget, LinkRules, Mapping, Route, StatusRules, Target
from bridge.model import Marker, Ref, Side, Visibility

#: Real HTTP against an in-process vendor sandbox: the slow tier (README "Development").
pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

MAPPING = Mapping(name="incidents", route=Route(record_type="incident"), target=Target(project="OPS", issue_type="Bug"))
RECORD = Ref(
    Side.ITSM, "incident", "9d38abc0", "INC0010001", "https://acme.service-now.com/incident.do?sys_id=9d38abc0"
)


def calls(connector: JiraConnector, fragment: str) -> int:
    return sum(n for endpoint, n in connector.calls.snapshot().items() if fragment in endpoint)


def create(connector: JiraConnector, record: Ref = RECORD, **fields: object) -> Ref:
    spec = CreateSpec(
        project="OPS",
        issue_type="Bug",
        fields={"summary": "Printer down", **fields},
        marker=record.token,
        labels=("bridge",),
    )
    return connector.create(spec).ref


# ------------------------------------------------------------------------------------------ search


def test_search_follows_every_page_even_when_jira_returns_short_ones(jira_env: JiraEnv) -> None:
    keys = [jira_env.sandbox.create_issue(summary=f"n{n}", labels=["bridge"]) for n in range(7)]
    jira_env.sandbox.create_issue(summary="not ours", labels=["other"])
    jira_env.sandbox.configure(page_size=2)
    connector = jira_env.connector(page_size=3)
    found = list(connector.search_changed(MAPPING, None, ["summary"]))
    assert [i.ref.key for i in found] == keys
    assert [i.fields["summary"] for i in found] == [f"n{n}" for n in range(7)]
    path = "search/jql" if jira_env.mode == "cloud" else "/search"
    assert calls(connector, path) == 4


def test_change_in_the_cursor_minute_is_not_missed_in_a_non_utc_zone(jira_env: JiraEnv) -> None:
    jira_env.sandbox.set_time_zone("America/New_York")
    key = jira_env.sandbox.create_issue(summary="edge", labels=["bridge"])  # 09:30:15 UTC
    connector = jira_env.connector(overlap=timedelta(0))
    since = datetime(2026, 3, 10, 9, 30, 50, tzinfo=UTC)  # later in the same minute
    jira_env.sandbox.start_recording()
    found = [i.ref.key for i in connector.search_changed(MAPPING, since, ["summary"])]
    assert found == [key]
    search = next(e for e in jira_env.sandbox.exchanges if "search" in e["path"])
    assert (
        'updated >= "2026/03/10 05:30"' in json.loads(search["request_body"])["jql"]
    )  # New York, EDT from 8 March: UTC-4
    assert list(connector.search_changed(MAPPING, since + timedelta(minutes=1), ["summary"])) == []


def test_overlap_reaches_back_and_updated_is_parsed_to_utc(jira_env: JiraEnv) -> None:
    key = jira_env.sandbox.create_issue(summary="a", labels=["bridge"])
    connector = jira_env.connector(overlap=timedelta(minutes=2))
    found = list(connector.search_changed(MAPPING, datetime(2026, 3, 10, 9, 31, 30, tzinfo=UTC), []))
    assert [i.ref.key for i in found] == [key]
    assert found[0].updated == datetime(2026, 3, 10, 9, 30, 15, tzinfo=UTC)
    assert found[0].status == "To Do"
    assert found[0].status_category == "new"


def test_the_zone_override_wins_over_the_profile(jira_cloud: JiraEnv) -> None:
    connector = jira_cloud.connector(time_zone="Asia/Kolkata")
    assert connector.cursor_literal(datetime(2026, 3, 10, 9, 30, 59, tzinfo=UTC)) == "2026/03/10 14:58"
    assert calls(connector, "myself") == 0


# ------------------------------------------------------------------------------------------ create / read


def test_create_is_one_post_with_marker_label_and_literal_text(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    text = "Users report *nothing* works {color:red}\n\n- step one\n- step two\n\n```\nerr: [x|y]\n```"
    issue = connector.create(
        CreateSpec(
            project="OPS",
            issue_type="Bug",
            marker=RECORD.token,
            labels=("bridge",),
            components=("Backend",),
            fields={
                "summary": "Printer down",
                "description": text,
                "priority": "High",
                "ServiceNow Number": "INC0010001",
                "Linked records": 2,
            },
        )
    )
    assert calls(connector, "POST") == 1
    assert issue.back_reference == RECORD.token
    assert issue.fields["description"] == text
    assert issue.fields["priority"] == "High"
    assert issue.fields["Linked records"] == 2
    stored = jira_env.sandbox.snapshot()[0]
    assert stored["labels"] == sorted(["bridge", RECORD.token])
    again = connector.get(issue.ref, ["description", "components", "labels"])
    assert again.fields["description"] == text
    assert again.fields["components"] == ("Backend",)
    assert connector.find_by_marker(MAPPING, RECORD.token).ref == issue.ref  # type: ignore[union-attr]
    assert connector.find_by_marker(MAPPING, "itsm-incident-other") is None


def test_marker_field_instead_of_label(jira_env: JiraEnv) -> None:
    mapping = MAPPING.model_copy(update={"links": LinkRules(jira_marker_field="ITSM Reference")})
    connector = jira_env.connector()
    ref = connector.create(
        CreateSpec(
            project="OPS",
            issue_type="Bug",
            fields={"summary": "m"},
            marker=RECORD.token,
            labels=("bridge",),
            marker_field="ITSM Reference",
        )
    ).ref
    assert RECORD.token not in jira_env.sandbox.snapshot()[0]["labels"]
    found = connector.find_by_marker(mapping, RECORD.token)
    assert found is not None
    assert found.ref == ref
    assert found.back_reference == RECORD.token


def test_update_fields_is_one_put_and_labels_are_only_added(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    connector.fields_index()  # read once per connector; custom fields need it
    before = connector.calls.snapshot()
    connector.update_fields(ref, {"summary": "renamed", "labels": ("triaged",), "customfield_10051": 4})
    assert connector.calls.since(before) == {f"PUT {jira_env.sandbox.api}/issue/{{id}}": 1}
    issue = connector.get(ref, ["summary", "labels", "Linked records"])
    assert issue.fields["labels"] == tuple(sorted(["bridge", "triaged", RECORD.token]))
    assert issue.fields["summary"] == "renamed"
    assert issue.fields["Linked records"] == 4


# ------------------------------------------------------------------------------------------ workflow


def test_path_to_done_sends_resolution_only_on_the_done_screen_then_reuses_the_graph(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    jira_env.sandbox.start_recording()
    connector.set_status(ref, "Done", {"resolution": "Done"})
    posts = [e for e in jira_env.sandbox.exchanges if e["method"] == "POST" and e["path"].endswith("/transitions")]
    assert [("resolution" in e["request_body"]) for e in posts] == [False, False, True]
    snap = jira_env.sandbox.snapshot()[0]
    assert (snap["status"], snap["resolution"]) == ("Done", "Done")
    # Reopen, then back to Done: the known part of the workflow is not read again.
    connector.set_status(ref, "In Progress", {})
    assert jira_env.sandbox.snapshot()[0]["resolution"] is None
    before = connector.calls.snapshot()
    connector.set_status(ref, "Done", {"resolution": "Won't Do"})
    spent = connector.calls.since(before)
    assert sum(n for e, n in spent.items() if e.startswith("GET") and e.endswith("/transitions")) == 0
    assert jira_env.sandbox.snapshot()[0]["resolution"] == "Won't Do"


def test_already_in_target_status_costs_one_read(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    before = connector.calls.snapshot()
    connector.set_status(ref, "to do", {})
    assert sum(connector.calls.since(before).values()) == 1


def test_missing_required_resolution_and_unknown_status_are_workflow_errors(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    with pytest.raises(WorkflowError, match="requires resolution"):
        connector.set_status(ref, "Done", {})
    assert jira_env.sandbox.snapshot()[0]["status"] == "To Do"  # explored, then put back
    before = connector.calls.snapshot()
    with pytest.raises(WorkflowError, match="requires resolution"):  # now from the known graph, no move
        connector.set_status(ref, "Done", {})
    assert connector.calls.since(before) == {f"GET {jira_env.sandbox.api}/issue/{{id}}": 1}
    with pytest.raises(WorkflowError, match="requires resolution"):
        connector.set_status(ref, "Done", {})
    with pytest.raises(WorkflowError, match="no transition path"):
        connector.set_status(ref, "Closed", {})


def test_stale_graph_is_relearnt_when_someone_else_moved_the_issue(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    connector.set_status(ref, "In Progress", {})
    jira_env.sandbox.transition(ref.key, "In Review")  # a developer moves it meanwhile
    connector.set_status(ref, "Done", {"resolution": "Done"})
    assert jira_env.sandbox.snapshot()[0]["status"] == "Done"


# ------------------------------------------------------------------------------------------ comments


def test_comments_carry_markers_and_visibility_and_respect_since(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    jira_env.sandbox.add_comment(ref.key, "old note")
    jira_env.clock.advance(60)
    since = jira_env.clock()
    marker = Marker(Side.ITSM, "journal-42")
    mine = connector.add_comment(
        ref, "Caller says *still* broken", channel="comment", marker=marker, visibility=Visibility("role", "Developers")
    )
    jira_env.clock.advance(5)
    jira_env.sandbox.add_comment(ref.key, "Dev: fixed in build 7")
    got = connector.comments_since([ref], since)[ref.id]
    assert [c.body for c in got] == ["Caller says *still* broken", "Dev: fixed in build 7"]
    assert got[0].id == mine.id
    assert got[0].marker == marker
    assert got[0].visibility == Visibility("role", "Developers")
    assert got[0].internal is True
    assert got[1].internal is False
    assert got[1].marker is None
    assert got[1].author == "Dana Developer"
    assert len(connector.comments_since([ref], None)[ref.id]) == 3
    assert connector.find_comment_by_marker(ref, marker).id == mine.id  # type: ignore[union-attr]
    assert connector.find_comment_by_marker(ref, Marker(Side.ITSM, "nope")) is None


def test_comment_pages_are_followed(jira_dc: JiraEnv) -> None:
    connector = jira_dc.connector()
    ref = create(connector)
    for n in range(105):
        jira_dc.sandbox.add_comment(ref.key, f"c{n}")
    assert len(connector.comments_since([ref], None)[ref.id]) == 105
    assert calls(connector, "/comment") == 2


# ------------------------------------------------------------------------------------------ links


def test_remote_link_upsert_twice_gives_one_link(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    connector.write_back_reference(ref, RECORD, {"summary": "Printer down"})
    connector.write_back_reference(ref, RECORD, {"summary": "Printer down", "resolved": True})
    links = jira_env.sandbox.snapshot()[0]["remotelinks"]
    assert len(links) == 1
    assert links[0]["globalId"] == "system=https://acme.service-now.com&type=incident&id=9d38abc0"
    assert links[0]["object"]["url"] == RECORD.url
    assert links[0]["object"]["title"] == "INC0010001"
    assert links[0]["object"]["status"] == {"resolved": True}
    assert links[0]["application"] == {"type": "com.servicenow", "name": "ServiceNow"}


# ------------------------------------------------------------------------------------------ limits & auth


def test_429_storm_is_ridden_out_with_bounded_retries_and_no_busy_loop(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    connector.myself()
    jira_env.sandbox.rate_limiter.configure(limit=None, burst_429=3)
    seen = jira_env.sandbox.requests_seen
    assert connector.get(create_ref := create(connector), ["summary"]).ref == create_ref
    # POST issue (3 refused + 1), GET issue, GET issue: each retry waited Retry-After (1 s) first.
    assert jira_env.sandbox.requests_seen - seen == 6
    assert len([s for s in jira_env.clock.sleeps if s >= 1.0]) == 3


def test_429_that_never_ends_gives_up_after_max_attempts(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    jira_env.sandbox.rate_limiter.configure(limit=None, burst_429=50)
    seen = jira_env.sandbox.requests_seen
    with pytest.raises(RateLimitedError) as info:
        connector.myself()
    assert info.value.retry_after == 1.0
    assert jira_env.sandbox.requests_seen - seen == 4  # HttpOptions.max_attempts in the fixture


def test_a_500_on_a_comment_post_is_not_repeated(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    jira_env.sandbox.fail_next(1, 500, retry_after=-1)
    seen = jira_env.sandbox.requests_seen
    with pytest.raises(TransientError):
        connector.add_comment(ref, "x", channel="comment", marker=Marker(Side.ITSM, "1"))
    assert jira_env.sandbox.requests_seen - seen == 1


def test_wrong_credentials_are_an_auth_error_without_the_secret(jira_env: JiraEnv) -> None:
    connector = JiraConnector(
        jira_env.url,
        deployment=jira_env.mode,
        email="bridge@example.com",  # type: ignore[arg-type]
        token=SecretStr("hunter2-secret"),
        sleep=jira_env.clock.sleep,
    )
    try:
        with pytest.raises(AuthError) as info:
            connector.myself()
        assert "hunter2" not in str(info.value)
        assert info.value.status == 401
        results = connector.check([MAPPING])
        assert results[-1].ok is False
        assert "authentication" in results[-1].what
    finally:
        connector.close()


def test_credentials_served_as_anonymous_are_detected(jira_cloud: JiraEnv) -> None:
    jira_cloud.sandbox.configure(bad_credentials_anonymous=True)
    connector = JiraConnector(
        jira_cloud.url,
        deployment="cloud",
        email="bridge@example.com",
        token=SecretStr("wrong"),
        sleep=jira_cloud.clock.sleep,
    )
    try:
        with pytest.raises(AuthError):
            list(connector.search_changed(MAPPING, None, []))
    finally:
        connector.close()


def test_check_reports_what_the_mapping_names_and_missing_permissions(jira_env: JiraEnv) -> None:
    jira_env.sandbox.configure(revoked=["LINK_ISSUES"])
    mapping = MAPPING.model_copy(
        update={
            "status": StatusRules(
                to_jira={"6": JiraStatusTarget(status="Done", fields={"resolution": "Done"}), "7": "Closed"}
            ),
            "links": LinkRules(jira_marker_field="No Such Field"),
        }
    )
    results = {r.what: r for r in jira_env.connector().check([mapping])}
    failed = sorted(what for what, r in results.items() if not r.ok)
    assert failed == [
        "incidents: jira has no field 'No Such Field' (neither an id nor a field name)",
        "incidents: status 'Closed' exists in OPS",
        "permission LINK_ISSUES in OPS",
    ]
    assert results["incidents: status 'Done' exists in OPS"].ok
    assert results["incidents: field 'resolution' is resolution"].ok
    missing = jira_env.connector().check(
        [MAPPING.model_copy(update={"target": Target(project="NOPE", issue_type="Bug")})]
    )
    assert missing[-1].ok is False
    assert "NOPE" in missing[-1].what


def test_marker_lookup_on_an_issue_carrying_several_records(jira_env: JiraEnv) -> None:
    """link_existing fans several records into one issue: each marker must still find it."""
    mapping = MAPPING.model_copy(update={"links": LinkRules(jira_marker_field="ITSM Reference")})
    connector = jira_env.connector()
    ref = connector.create(
        CreateSpec(
            project="OPS",
            issue_type="Bug",
            fields={"summary": "m"},
            marker=RECORD.token,
            labels=("bridge", "itsm-incident-second"),
            marker_field="ITSM Reference",
        )
    ).ref
    by_field = connector.find_by_marker(mapping, RECORD.token)
    assert by_field is not None
    assert by_field.ref == ref
    assert by_field.back_reference == RECORD.token
    by_label = connector.find_by_marker(MAPPING, "itsm-incident-second")
    assert by_label is not None
    assert by_label.ref == ref


def test_version_does_not_change_when_only_the_accounts_zone_does(jira_env: JiraEnv) -> None:
    connector = jira_env.connector()
    ref = create(connector)
    before = connector.get(ref, ["summary"])
    jira_env.sandbox.set_time_zone("Pacific/Auckland")
    after = connector.get(ref, ["summary"])
    assert after.version == before.version == "2026-03-10T09:30:15.000+00:00"
    assert after.updated == before.updated
