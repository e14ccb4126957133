"""The Jira connector's parsing and error handling, one response at a time (``responses``, no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bridge.connectors.http import HttpOptions
from bridge.connectors.jira import JiraConnector, jql_string, parse_jira_datetime
from bridge.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from bridge.model import Marker, Ref, Side

CLOUD = "https://acme.atlassian.net"
DC = "https://jira.acme.example"
SECRET = "s3cr3t-token-value"
FIELDS = [
    {"id": "summary", "name": "Summary", "schema": {"type": "string", "system": "summary"}},
    {"id": "description", "name": "Description", "schema": {"type": "string", "system": "description"}},
    {"id": "priority", "name": "Priority", "schema": {"type": "priority", "system": "priority"}},
    {"id": "components", "name": "Component/s", "schema": {"type": "array", "items": "component"}},
    {"id": "labels", "name": "Labels", "schema": {"type": "array", "items": "string"}},
    {"id": "assignee", "name": "Assignee", "schema": {"type": "user", "system": "assignee"}},
    {"id": "resolutiondate", "name": "Resolved", "schema": {"type": "datetime", "system": "resolutiondate"}},
    {"id": "customfield_10051", "name": "Linked records", "schema": {"type": "number", "custom": "x:float"}},
    {"id": "customfield_10053", "name": "Customer Impact", "schema": {"type": "string", "custom": "x:textarea"}},
    {"id": "customfield_10060", "name": "Severity", "schema": {"type": "option", "custom": "x:select"}},
]
REF = Ref(Side.JIRA, "issue", "10001", "OPS-1")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(deployment: str = "cloud", sleep: Sleeps | None = None, **kwargs: object) -> JiraConnector:
    url = CLOUD if deployment == "cloud" else DC
    return JiraConnector(
        url,
        deployment=deployment,  # type: ignore[arg-type]
        email="bridge@example.com" if deployment == "cloud" else None,
        token=SecretStr(SECRET),
        http=HttpOptions(base_url=url, requests_per_second=1000, burst=1000, max_attempts=3),
        sleep=sleep if sleep is not None else Sleeps(),
        **kwargs,  # type: ignore[arg-type]
    )


def api(path: str, deployment: str = "cloud") -> str:
    return f"{CLOUD}/rest/api/3/{path}" if deployment == "cloud" else f"{DC}/rest/api/2/{path}"


# ------------------------------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05.000+0100", datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123-0530", datetime(2024, 1, 2, 8, 34, 5, 123000, tzinfo=UTC)),
        ("2024-01-02T03:04:05+0000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.000+05:45", datetime(2024, 1, 1, 21, 19, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_jira_timestamps_with_offsets_become_utc(text: str, expected: datetime) -> None:
    assert parse_jira_datetime(text) == expected


@pytest.mark.parametrize("text", ["2024-01-02T03:04:05.000", "yesterday", "2024-01-02"])
def test_timestamps_without_offset_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        parse_jira_datetime(text)


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_any_jira_formatted_instant_parses_back(local: datetime, offset_minutes: int) -> None:
    moment = local.replace(
        microsecond=local.microsecond // 1000 * 1000, tzinfo=timezone(timedelta(minutes=offset_minutes))
    )
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")
    parsed = parse_jira_datetime(text)
    assert parsed == moment
    assert parsed.tzinfo == UTC


def test_cursor_literal_is_floored_in_the_user_zone_minus_overlap() -> None:
    c = connector(time_zone="Australia/Adelaide", overlap=timedelta(minutes=3))  # +10:30 in January
    assert c.cursor_literal(datetime(2024, 1, 2, 3, 4, 59, tzinfo=UTC)) == "2024/01/02 13:31"


@given(st.text())
def test_jql_strings_are_quoted_so_no_text_escapes_them(value: str) -> None:
    quoted = jql_string(value)
    assert quoted[0] == quoted[-1] == '"'
    inner = quoted[1:-1]
    unescaped, i = [], 0
    while i < len(inner):
        if inner[i] == "\\":
            unescaped.append(inner[i + 1])
            i += 2
        else:
            assert inner[i] != '"'
            unescaped.append(inner[i])
            i += 1
    assert "".join(unescaped) == value


# ------------------------------------------------------------------------------------------ errors


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            400,
            {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}},
            PermanentError,
            "summary: You must specify a summary of the issue.",
        ),
        (
            401,
            {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}},
            AuthError,
            "Client must be authenticated",
        ),
        (
            404,
            {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}},
            NotFoundError,
            "Issue does not exist",
        ),
        (403, {"errorMessages": ["You do not have permission"], "errors": {}}, PermanentError, "You do not have"),
        (
            409,
            {"errorMessages": ["conflict"], "errors": {"status": "moved"}},
            PermanentError,
            "conflict; status: moved",
        ),
    ],
)
def test_error_bodies_become_typed_errors_with_jiras_text(
    status: int, body: dict[str, object], error: type[Exception], message: str
) -> None:
    responses.get(api("issue/10001"), json=body, status=status)
    with pytest.raises(error) as info:
        connector().get(REF, [])
    assert message in str(info.value)
    assert SECRET not in str(info.value)
    assert "Authorization" not in str(info.value)


@responses.activate
def test_plain_text_401_is_an_auth_error() -> None:
    responses.get(
        api("myself", "dc"),
        body="Client must be authenticated to access this resource.",
        status=401,
        content_type="text/plain",
    )
    with pytest.raises(AuthError, match="must be authenticated"):
        connector("datacenter").myself()


@responses.activate
def test_captcha_denied_login_is_an_auth_error() -> None:
    responses.get(api("myself"), body="", status=403, headers={"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"})
    with pytest.raises(AuthError, match="CAPTCHA"):
        connector().myself()


@responses.activate
def test_success_served_as_anonymous_is_an_auth_error() -> None:
    responses.post(
        api("search/jql"), json={"issues": [], "isLast": True}, headers={"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}
    )
    with pytest.raises(AuthError, match="anonymous"):
        list(connector().search("project = OPS", ["summary"]))


@responses.activate
def test_429_retry_after_seconds_then_success_without_real_sleep() -> None:
    sleeps = Sleeps()
    responses.get(
        api("myself"),
        json={"errorMessages": ["Rate limit exceeded."]},
        status=429,
        headers={"Retry-After": "7", "RateLimit-Reason": "jira-burst-based"},
    )
    responses.get(api("myself"), json={"accountId": "a", "displayName": "B", "timeZone": "Europe/Berlin"})
    c = connector(sleep=sleeps)
    assert c.myself()["accountId"] == "a"
    assert len(sleeps) == 1
    assert 7.0 <= sleeps[0] <= 7.7
    assert c.calls.statuses() == {("GET /rest/api/3/myself", 429): 1, ("GET /rest/api/3/myself", 200): 1}


@responses.activate
def test_429_retry_after_http_date_is_honoured() -> None:
    sleeps = Sleeps()
    when = datetime.now(UTC) + timedelta(seconds=30)
    responses.get(api("myself"), status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    responses.get(api("myself"), json={"accountId": "a"})
    connector(sleep=sleeps).myself()
    assert 25 <= sleeps[0] <= 34


@responses.activate
def test_persistent_429_raises_rate_limited_after_max_attempts() -> None:
    sleeps = Sleeps()
    responses.get(api("myself"), status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitedError) as info:
        connector(sleep=sleeps).myself()
    assert info.value.retry_after == 2.0
    assert len(responses.calls) == 3
    assert len(sleeps) == 2


@responses.activate
def test_503_without_retry_after_backs_off_exponentially_on_reads() -> None:
    sleeps = Sleeps()
    responses.get(api("myself"), status=503, body="")
    responses.get(api("myself"), json={"accountId": "a"})
    connector(sleep=sleeps).myself()
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 60


@responses.activate
def test_a_create_that_may_have_happened_is_not_repeated() -> None:
    responses.get(api("field"), json=FIELDS)
    responses.post(api("issue"), status=502, body="")
    from bridge.connectors.base import CreateSpec

    with pytest.raises(TransientError):
        connector().create(CreateSpec(project="OPS", issue_type="Bug", fields={"summary": "x"}, marker="itsm-i-1"))
    assert [c.request.method for c in responses.calls] == ["POST"]  # system fields need no GET /field


def test_configuration_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="email"):
        JiraConnector(CLOUD, deployment="cloud", token=SecretStr("x"))
    with pytest.raises(ConfigError, match="deployment"):
        JiraConnector(CLOUD, deployment="server", token=SecretStr("x"), email="a@b")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="time zone"):
        JiraConnector(CLOUD, deployment="cloud", token=SecretStr("x"), email="a@b", time_zone="Mars/Olympus")


@responses.activate
def test_dc_uses_bearer_and_cloud_basic_auth() -> None:
    responses.get(api("myself"), json={"accountId": "a"})
    responses.get(api("myself", "dc"), json={"name": "bridge"})
    connector().myself()
    connector("datacenter").myself()
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {SECRET}"


@responses.activate
def test_requests_carry_the_headers_jira_expects_through_the_shared_client() -> None:
    """Same headers as when the ``jira`` library built the session: JSON both ways, no XSRF refusal on DC."""
    responses.put(api("issue/10001", "dc"), status=204)
    connector("datacenter").update_fields(REF, {"summary": "x"})
    headers = responses.calls[0].request.headers
    assert headers["X-Atlassian-Token"] == "no-check"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("bridge/")
    assert json.loads(responses.calls[0].request.body) == {"fields": {"summary": "x"}}


# ------------------------------------------------------------------------------------------ parsing


@responses.activate
def test_field_values_are_normalised() -> None:
    responses.get(api("field"), json=FIELDS)
    adf = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Hello "},
                    {"type": "mention", "attrs": {"id": "x", "text": "@Dana"}},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "one", "marks": [{"type": "strong"}]}],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    responses.get(
        api("issue/10001"),
        json={
            "id": "10001",
            "key": "OPS-1",
            "fields": {
                "summary": "S",
                "description": adf,
                "priority": {"id": "2", "name": "High"},
                "components": [{"name": "Web"}, {"name": "API"}],
                "labels": ["b", "a", "itsm-incident-1"],
                "assignee": {"accountId": "x", "displayName": "Dana Developer"},
                "customfield_10051": 3.0,
                "customfield_10060": {"value": "Sev 2", "id": "1"},
                "resolutiondate": "2024-01-02T03:04:05.000+0100",
                "customfield_10053": None,
                "updated": "2024-01-02T03:04:05.000+0100",
                "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            },
        },
    )
    names = [
        "summary",
        "description",
        "Priority",
        "components",
        "labels",
        "assignee",
        "Linked records",
        "Severity",
        "resolutiondate",
        "Customer Impact",
    ]
    issue = connector().get(REF, names)
    assert dict(issue.fields) == {
        "summary": "S",
        "description": "Hello @Dana\n\n- one",
        "Priority": "High",
        "components": ("API", "Web"),
        "labels": ("a", "b", "itsm-incident-1"),
        "assignee": "x",  # a Cloud user is its accountId (a Data Center user its name): what user rules write
        "Linked records": 3.0,
        "Severity": "Sev 2",
        "resolutiondate": "2024-01-02T02:04:05+00:00",
        "Customer Impact": None,
    }
    assert issue.back_reference == "itsm-incident-1"
    assert (issue.status, issue.status_category) == ("In Progress", "indeterminate")
    assert issue.updated == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    requested = responses.calls[1].request.url
    assert "customfield_10051" in requested
    assert "status" in requested


@responses.activate
def test_dc_wiki_description_is_read_as_plain_text_and_written_escaped() -> None:
    responses.get(api("field", "dc"), json=FIELDS)
    responses.get(
        api("issue/10001", "dc"),
        json={
            "id": "10001",
            "key": "OPS-1",
            "fields": {
                "description": "h2. Steps\n* open *it*\n* see {{error}}",
                "updated": "2024-01-02T03:04:05.000+0000",
            },
        },
    )
    responses.put(api("issue/10001", "dc"), status=204)
    c = connector("datacenter")
    assert c.get(REF, ["description"]).fields["description"] == "Steps\n- open it\n- see error"
    c.update_fields(REF, {"description": "a *b* [c|d]", "Severity": "Sev 1", "assignee": "dana", "labels": ("x",)})
    sent = json.loads(responses.calls[-1].request.body)
    assert sent == {
        "fields": {
            "description": "a \\*b* \\[c|d]",  # only what would render as markup is escaped
            "customfield_10060": {"value": "Sev 1"},
            "assignee": {"name": "dana"},
        },
        "update": {"labels": [{"add": "x"}]},
    }


@responses.activate
def test_several_people_for_a_one_user_field_are_refused_with_who_they_are() -> None:
    """A record with two requestors mapped to Jira's assignee: Jira would take one; bridge says why it
    writes none rather than sending a made-up account."""
    responses.get(api("field"), json=FIELDS)
    with pytest.raises(PermanentError, match=r"assignee holds one user, not 2 \(acc-a, acc-b\)"):
        connector().update_fields(REF, {"assignee": ("acc-a", "acc-b")})
    assert not [c for c in responses.calls if c.request.method == "PUT"]  # nothing was sent


@responses.activate
def test_unknown_field_names_are_a_clear_permanent_error() -> None:
    responses.get(api("field"), json=FIELDS)
    with pytest.raises(PermanentError, match="no field 'Colour'"):
        connector().get(REF, ["Colour"])


@responses.activate
def test_comments_parse_marker_property_text_marker_and_jsd_internal() -> None:
    responses.get(
        api("issue/10001/comment"),
        json={
            "startAt": 0,
            "maxResults": 100,
            "total": 3,
            "comments": [
                {
                    "id": "3",
                    "author": {"displayName": "Bridge"},
                    "created": "2024-01-02T03:06:00.000+0100",
                    "body": {
                        "type": "doc",
                        "version": 1,
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a"}]}],
                    },
                    "properties": [{"key": "bridge.origin", "value": {"side": "itsm", "origin_id": "j-1"}}],
                },
                {
                    "id": "2",
                    "author": {"displayName": "Old"},
                    "created": "2024-01-02T03:05:00.000+0100",
                    "body": {
                        "type": "doc",
                        "version": 1,
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "b"},
                                    {"type": "hardBreak"},
                                    {"type": "text", "text": "[bridge:itsm:j-0]"},
                                ],
                            }
                        ],
                    },
                    "jsdPublic": False,
                },
                {
                    "id": "1",
                    "author": {"displayName": "Older"},
                    "created": "2024-01-02T01:00:00.000+0100",
                    "body": {"type": "doc", "version": 1, "content": []},
                },
            ],
        },
    )
    got = connector().comments_since([REF], datetime(2024, 1, 2, 2, 0, tzinfo=UTC))[REF.id]
    assert [(c.id, c.body, c.marker) for c in got] == [
        ("2", "b", Marker(Side.ITSM, "j-0")),
        ("3", "a", Marker(Side.ITSM, "j-1")),
    ]
    assert got[0].internal is True
    assert got[1].internal is False
    assert "orderBy=-created" in responses.calls[0].request.url


@responses.activate
def test_dc_server_dropping_comment_properties_gets_a_text_marker() -> None:
    responses.post(
        api("issue/10001/comment", "dc"),
        json={
            "id": "7",
            "author": {"name": "bridge", "displayName": "Bridge"},
            "body": "hi",
            "created": "2024-01-02T03:04:05.000+0000",
        },
        status=201,
    )
    responses.put(api("issue/10001/comment/7", "dc"), json={"id": "7"})
    c = connector("datacenter")
    comment = c.add_comment(REF, "hi", channel="comment", marker=Marker(Side.ITSM, "j-9"))
    assert comment.marker == Marker(Side.ITSM, "j-9")
    assert comment.body == "hi"
    assert json.loads(responses.calls[1].request.body) == {"body": "hi\n\n\\[bridge:itsm:j-9]"}
    c.add_comment(REF, "again", channel="comment", marker=Marker(Side.ITSM, "j-10"))
    assert json.loads(responses.calls[2].request.body)["body"] == "again\n\n\\[bridge:itsm:j-10]"


@responses.activate
def test_cloud_search_stops_when_the_token_key_is_absent() -> None:
    responses.post(
        api("search/jql"),
        json={"issues": [{"id": "1", "key": "OPS-1", "fields": {}}], "nextPageToken": "t1", "isLast": False},
    )
    responses.post(api("search/jql"), json={"issues": [], "nextPageToken": "t2", "isLast": False})
    responses.post(api("search/jql"), json={"issues": [{"id": "2", "key": "OPS-2", "fields": {}}], "isLast": True})
    found = list(connector().search("project = OPS", ["summary"]))
    assert [i["key"] for i in found] == ["OPS-1", "OPS-2"]
    bodies = [json.loads(c.request.body) for c in responses.calls]
    assert [b.get("nextPageToken") for b in bodies] == [None, "t1", "t2"]


@responses.activate
def test_from_settings_uses_the_configured_deployment_timeouts_and_token() -> None:
    from bridge.settings import JiraSettings

    settings = JiraSettings(
        url=DC,
        deployment="datacenter",
        token=SecretStr(SECRET),
        timeout_seconds={"connect": 2, "read": 9},
        requests_per_second=3,
    )
    built = JiraConnector.from_settings(settings, sleep=Sleeps())
    assert (built.deployment, built.http.connect_timeout, built.http.read_timeout) == ("datacenter", 2, 9)
    responses.get(api("myself", "dc"), json={"name": "bridge"})
    built.myself()
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    with pytest.raises(ConfigError, match="token"):
        JiraConnector.from_settings(JiraSettings(url=CLOUD, email="a@b"))


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/rest/api/3/issue/10001/comment", "GET /rest/api/3/issue/{id}/comment"),
        ("/rest/api/2/issue/OPS-7/transitions", "GET /rest/api/2/issue/{id}/transitions"),
        ("/jira/rest/api/2/search", "GET /jira/rest/api/2/search"),
    ],
)
def test_endpoint_templates_keep_the_api_version(path: str, template: str) -> None:
    from bridge.connectors.http import endpoint_template

    assert endpoint_template("get", path) == template


@responses.activate
def test_read_timeouts_are_retried_on_reads_but_not_on_comment_posts() -> None:
    import requests

    responses.get(api("myself"), body=requests.ReadTimeout("slow"))
    responses.get(api("myself"), json={"accountId": "a"})
    c = connector()
    assert c.myself()["accountId"] == "a"
    responses.post(api("issue/10001/comment"), body=requests.ReadTimeout("slow"))
    with pytest.raises(TransientError, match="did not answer in time"):
        c.add_comment(REF, "x", channel="comment", marker=Marker(Side.ITSM, "1"))
    assert [call.request.method for call in responses.calls] == ["GET", "GET", "POST"]


@responses.activate
def test_a_refused_connection_is_retried_even_for_a_comment() -> None:
    import requests

    responses.post(api("issue/10001/comment"), body=requests.ConnectionError("[Errno 111] Connection refused"))
    responses.post(
        api("issue/10001/comment"),
        status=201,
        json={
            "id": "5",
            "author": {"displayName": "Bridge"},
            "created": "2024-01-02T03:04:05.000+0000",
            "body": {"type": "doc", "version": 1, "content": []},
        },
    )
    comment = connector().add_comment(REF, "x", channel="comment", marker=Marker(Side.ITSM, "1"))
    assert comment.id == "5"
    assert len(responses.calls) == 2
