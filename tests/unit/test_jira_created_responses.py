"""A predicted create against Jira's documented answers (``responses``): the fields a sandbox does not have —
a select option, a Cloud user, a date-time — are predicted as a read converts them, or read back."""

from __future__ import annotations

import json

import responses

from bridge.connectors.base import CreateSpec
from tests.unit.test_jira_connector import FIELDS, api, connector

ANSWER = {"id": "10001", "key": "OPS-1", "self": "https://acme.atlassian.net/rest/api/3/issue/10001"}
ACCOUNT = "5b10a2844c20165700ede21g"


def read(fields: dict[str, object], *, moved: bool = False) -> dict[str, object]:
    """A ``GET /issue/{id}`` answer (OpenAPI v3 getIssue) of a new issue: Jira's objects with their ids."""
    return {"id": "10001", "key": "OPS-1", "fields": {
        "status": {"name": "Open", "statusCategory": {"key": "new"}},
        "project": {"key": "OPS", "id": "10000", "name": "Operations"},
        "issuetype": {"name": "Task", "id": "10002"},
        "labels": ["bridge", "itsm-incident-sys0001"],
        "created": "2026-03-10T09:30:15.000+0000",
        "updated": "2026-03-10T09:30:16.000+0000" if moved else "2026-03-10T09:30:15.000+0000",
        **fields}}


def spec(**fields: object) -> CreateSpec:
    return CreateSpec("OPS", "Task", {"summary": "Printer down", **fields}, "itsm-incident-sys0001",  # type: ignore[arg-type]
                      labels=("bridge",))


@responses.activate
def test_options_and_cloud_users_are_predicted_as_a_read_converts_them() -> None:
    responses.get(api("field"), json=FIELDS)
    responses.post(api("issue"), json=ANSWER, status=201)
    first = read({"summary": "Printer down", "customfield_10060": {"value": "Sev 2", "id": "10400"},
                  "assignee": {"accountId": ACCOUNT, "displayName": "Dana Developer"}})
    responses.get(api("issue/10001"), json=first)
    jira = connector()
    values = {"Severity": "Sev 2", "assignee": ACCOUNT}
    read_back = jira.create(spec(**values))
    predicted = jira.create(spec(**values))
    gets = [c.request for c in responses.calls if c.request.method == "GET" and "/issue/" in c.request.url]
    assert len(gets) == 1  # the second create of OPS/Task is not read
    assert dict(predicted.fields) == dict(read_back.fields) == {"summary": "Printer down", "Severity": "Sev 2",
                                                                 "assignee": ACCOUNT}
    assert (predicted.status, predicted.status_category) == ("Open", "new")
    sent = json.loads(responses.calls[-1].request.body or b"{}")["fields"]
    assert sent["customfield_10060"] == {"value": "Sev 2"}
    assert sent["assignee"] == {"accountId": ACCOUNT}


@responses.activate
def test_a_date_time_or_an_issue_moved_at_once_is_read() -> None:
    responses.get(api("field"), json=FIELDS)
    responses.post(api("issue"), json=ANSWER, status=201)
    responses.get(api("issue/10001"), json=read({"summary": "Printer down"}, moved=True))
    jira = connector()
    jira.create(spec())
    jira.create(spec())  # the first read showed an issue changed since its creation: nothing learnt
    assert jira.initial_statuses() == {}
    responses.replace(responses.GET, api("issue/10001"), json=read({"summary": "Printer down"}))
    jira.create(spec())
    assert jira.initial_statuses() == {("OPS", "Task"): ("Open", "new")}
    before = len(responses.calls)
    jira.create(spec(resolutiondate="2026-03-10T09:30:15.123456+00:00"))  # Jira keeps milliseconds: read
    assert [c.request.method for c in responses.calls[before:]] == ["POST", "GET"]
