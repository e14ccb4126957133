"""The JSM connector's parsing and its comment-visibility safety, one response at a time (``responses``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr

from bridge.connectors.base import CreateSpec
from bridge.connectors.http import HttpOptions
from bridge.connectors.jira_text import wiki_to_text
from bridge.connectors.jsm import JsmConnector, request_type_name
from bridge.errors import ConfigError, NotFoundError, PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Marker, Ref, Side
from bridge.settings import Settings

CLOUD = "https://acme.atlassian.net"
DC = "https://jira.acme.example"
SECRET = "s3cr3t-token-value"
REF = Ref(Side.ITSM, "SUP", "10001", "SUP-1")
MARKER = Marker(Side.JIRA, "20007")
FIELDS = [
    {"id": "summary", "name": "Summary", "schema": {"type": "string", "system": "summary"}},
    {"id": "priority", "name": "Priority", "schema": {"type": "priority", "system": "priority"}},
    {
        "id": "customfield_10010",
        "name": "Request Type",
        "schema": {"type": "sd-customerrequesttype", "custom": "com.atlassian.servicedesk:vp-origin"},
    },
    {"id": "customfield_10060", "name": "Development issue", "schema": {"type": "string", "custom": "x:textfield"}},
]


def connector(deployment: str = "cloud") -> JsmConnector:
    url = CLOUD if deployment == "cloud" else DC
    return JsmConnector(
        url,
        deployment=deployment,  # type: ignore[arg-type]
        email="agent@example.com" if deployment == "cloud" else None,
        token=SecretStr(SECRET),
        http=HttpOptions(base_url=url, requests_per_second=1000, burst=1000, max_attempts=2),
        sleep=lambda _: None,
    )


def comment(cid: str, text: str, **extra: Any) -> dict[str, Any]:
    body: Any = (
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
        if not extra.pop("wiki", False)
        else text
    )
    return {
        "id": cid,
        "author": {"displayName": "Sam Agent"},
        "body": body,
        "created": "2026-03-10T10:30:15.000+0100",
        "updated": "2026-03-10T10:30:15.000+0100",
        **extra,
    }


def no_comment_files(base: str) -> None:
    """The JSM API's comment list (``expand=attachment``): none of the comments carries a file."""
    responses.get(f"{base}/rest/servicedeskapi/request/10001/comment", json={"values": [], "isLastPage": True})


def page(*comments: dict[str, Any]) -> dict[str, Any]:
    return {"startAt": 0, "maxResults": 100, "total": len(comments), "comments": list(comments)}


# ------------------------------------------------------------------------------------ reading comments


@responses.activate
def test_cloud_reads_the_channel_from_jsd_public() -> None:
    responses.get(
        f"{CLOUD}/rest/api/3/issue/10001/comment",
        json=page(
            comment("1", "Have you tried turning it off?", jsdPublic=True),
            comment("2", "Customer is a VIP, be quick", jsdPublic=False),
        ),
    )
    no_comment_files(CLOUD)
    found = connector().comments_since([REF], None)[REF.id]
    assert [(c.body, c.channel, c.internal) for c in found] == [
        ("Have you tried turning it off?", "public", False),
        ("Customer is a VIP, be quick", "internal", True),
    ]


@responses.activate
def test_data_center_reads_the_channel_from_the_sd_public_comment_property() -> None:
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    public = [{"key": "sd.public.comment", "value": {"internal": False}}]
    responses.get(
        f"{DC}/rest/api/2/issue/10001/comment",
        json=page(
            comment("1", "Reply to the customer", wiki=True, properties=public),
            comment("2", "Note for agents", wiki=True, properties=internal),
            comment("3", "No property at all: a public comment", wiki=True, properties=[]),
        ),
    )
    no_comment_files(DC)
    found = connector("datacenter").comments_since([REF], None)[REF.id]
    assert [(c.id, c.channel) for c in found] == [("1", "public"), ("2", "internal"), ("3", "public")]
    # DC only tells with expand=properties: the request must ask for it
    assert "expand=properties" in (responses.calls[0].request.url or "")


@responses.activate
def test_bridge_markers_are_parsed_from_the_marker_property_and_stay_out_of_the_body() -> None:
    props = [
        {"key": "sd.public.comment", "value": {"internal": True}},
        {"key": "bridge.origin", "value": {"side": "jira", "origin_id": "20007", "marker": "[bridge:jira:20007]"}},
    ]
    responses.get(
        f"{CLOUD}/rest/api/3/issue/10001/comment",
        json=page(comment("5", "Dana (Jira) wrote: fixed", jsdPublic=False, properties=props)),
    )
    found = connector().find_comment_by_marker(REF, MARKER)
    assert found is not None
    assert (found.id, found.channel, found.marker, found.body) == ("5", "internal", MARKER, "Dana (Jira) wrote: fixed")


def test_request_type_value_is_its_name() -> None:
    value = {"_links": {}, "requestType": {"id": "11", "name": "Report a bug"}, "currentStatus": {"status": "Open"}}
    assert request_type_name(value) == "Report a bug"
    assert request_type_name(None) is None


# ------------------------------------------------------------------------------------ writing comments


def _posted(call_index: int = 0) -> dict[str, Any]:
    return json.loads(responses.calls[call_index].request.body or b"{}")


@responses.activate
def test_internal_note_is_one_platform_request_with_visibility_and_marker_properties() -> None:
    props = [
        {"key": "sd.public.comment", "value": {"internal": True}},
        {"key": "bridge.origin", "value": {"side": "jira", "origin_id": "20007", "marker": "[bridge:jira:20007]"}},
    ]
    responses.post(
        f"{CLOUD}/rest/api/3/issue/10001/comment",
        status=201,
        json=comment("9", "fixed", jsdPublic=False, properties=props),
    )
    written = connector().add_comment(REF, "fixed", channel="internal", marker=MARKER)
    assert len(responses.calls) == 1
    sent = _posted()
    assert {"key": "sd.public.comment", "value": {"internal": True}} in sent["properties"]
    assert any(p["key"] == "bridge.origin" and p["value"]["origin_id"] == "20007" for p in sent["properties"])
    assert sent["body"]["type"] == "doc"  # Cloud: ADF
    assert (written.id, written.channel, written.internal, written.marker) == ("9", "internal", True, MARKER)


@responses.activate
def test_public_reply_says_internal_false() -> None:
    props = [
        {"key": "sd.public.comment", "value": {"internal": False}},
        {"key": "bridge.origin", "value": {"side": "jira", "origin_id": "20007", "marker": "[bridge:jira:20007]"}},
    ]
    responses.post(
        f"{DC}/rest/api/2/issue/10001/comment", status=201, json=comment("9", "ok", wiki=True, properties=props)
    )
    written = connector("datacenter").add_comment(REF, "We deployed the fix", channel="public", marker=MARKER)
    sent = _posted()
    assert {"key": "sd.public.comment", "value": {"internal": False}} in sent["properties"]
    assert sent["body"] == "We deployed the fix"  # DC: wiki markup string
    assert (written.channel, written.internal) == ("public", False)


@responses.activate
def test_an_internal_note_the_site_made_public_is_deleted_and_fails() -> None:
    # The site dropped the property: Cloud answers jsdPublic true, so a customer could see the note.
    responses.post(f"{CLOUD}/rest/api/3/issue/10001/comment", status=201, json=comment("9", "secret", jsdPublic=True))
    deleted = responses.delete(f"{CLOUD}/rest/api/3/issue/10001/comment/9", status=204)
    with pytest.raises(PermanentError, match="did not keep the comment internal"):
        connector().add_comment(REF, "secret", channel="internal", marker=MARKER)
    assert deleted.call_count == 1


@responses.activate
def test_data_center_without_expanded_properties_reads_the_comment_back() -> None:
    props = [
        {"key": "sd.public.comment", "value": {"internal": True}},
        {"key": "bridge.origin", "value": {"side": "jira", "origin_id": "20007", "marker": "[bridge:jira:20007]"}},
    ]
    responses.post(f"{DC}/rest/api/2/issue/10001/comment", status=201, json=comment("9", "x", wiki=True))
    read = responses.get(f"{DC}/rest/api/2/issue/10001/comment/9", json=comment("9", "x", wiki=True, properties=props))
    written = connector("datacenter").add_comment(REF, "x", channel="internal", marker=MARKER)
    assert read.call_count == 1
    assert written.internal is True


@responses.activate
def test_a_dropped_marker_property_puts_the_marker_into_the_text() -> None:
    props = [{"key": "sd.public.comment", "value": {"internal": True}}]
    responses.post(
        f"{DC}/rest/api/2/issue/10001/comment", status=201, json=comment("9", "x", wiki=True, properties=props)
    )
    put = responses.put(f"{DC}/rest/api/2/issue/10001/comment/9", status=200, json={})
    connector("datacenter").add_comment(REF, "x", channel="internal", marker=MARKER)
    assert put.call_count == 1
    text = wiki_to_text(json.loads(put.calls[0].request.body or b"{}")["body"])
    assert Marker.find(text) == MARKER  # what the next read parses


def test_an_unknown_channel_is_refused_before_any_request() -> None:
    with responses.RequestsMock() as mock, pytest.raises(PermanentError, match=r"'internal'.*'public'"):
        connector().add_comment(REF, "x", channel="work_notes", marker=MARKER)
    assert len(mock.calls) == 0


# ------------------------------------------------------------------------------------ the rest of the port


def test_create_is_refused() -> None:
    with pytest.raises(PermanentError, match="never creates"):
        connector().create(CreateSpec("SUP", "Task", {"summary": "x"}, marker="m"))


@responses.activate
def test_errors_name_the_jsm_side_and_never_the_token() -> None:
    responses.get(
        f"{CLOUD}/rest/api/3/issue/SUP-9",
        status=404,
        json={"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}},
    )
    with pytest.raises(NotFoundError) as caught:
        connector().get(Ref(Side.ITSM, "SUP", "", "SUP-9"), ["summary"])
    assert caught.value.side == "jsm"
    assert SECRET not in str(caught.value)


@responses.activate
def test_search_sends_one_jql_with_the_exact_conditions_and_filters_the_rest_locally() -> None:
    responses.get(f"{CLOUD}/rest/api/3/field", json=FIELDS)
    issue = {
        "id": "10001",
        "key": "SUP-1",
        "fields": {
            "summary": "Export crashes",
            "priority": {"name": "High"},
            "status": {"name": "Waiting for support", "statusCategory": {"key": "new"}},
            "updated": "2026-03-10T10:30:15.000+0100",
            "customfield_10010": {"requestType": {"id": "11", "name": "Report a bug"}},
            "customfield_10060": "DEV-4",
        },
    }
    other = {**issue, "id": "10002", "key": "SUP-2"}
    other["fields"] = {**issue["fields"], "customfield_10010": {"requestType": {"id": "10", "name": "Get IT help"}},
                       "customfield_10060": None}
    # linked (carries the back-reference) but reassigned out of the route: it keeps syncing
    moved = {**other, "id": "10003", "key": "SUP-3", "fields": {**other["fields"], "customfield_10060": "DEV-5"}}
    search = responses.post(f"{CLOUD}/rest/api/3/search/jql", json={"issues": [issue, other, moved],
                                                                     "isLast": True})
    mapping = MappingSpec.model_validate(
        {
            "name": "m",
            "route": {
                "record_type": "SUP",
                "system": "jsm",
                "where": {
                    "all": [
                        {"field": "priority", "in": ["High", "Highest"]},
                        {"field": "Request Type", "equals": "Report a bug"},
                    ]
                },
            },
            "target": {"project": "DEV", "issue_type": "Bug"},
            "links": {"itsm_key_field": "Development issue"},
        }
    )
    records = list(connector().search_changed(mapping, None, ["summary"]))
    assert [r.ref.key for r in records] == ["SUP-1", "SUP-3"]
    assert dict(records[0].fields) == {"summary": "Export crashes"}  # the filter's own field is not handed on
    assert records[0].status == "Waiting for support"
    assert records[0].back_reference == "DEV-4"
    sent = json.loads(search.calls[0].request.body or b"{}")
    assert sent["jql"] == ('project = "SUP" AND ((priority in ("High", "Highest")) OR cf[10060] IS NOT EMPTY)'
                           " ORDER BY updated ASC, key ASC")
    assert "customfield_10010" in sent["fields"]


# ------------------------------------------------------------------------------------ settings


def _settings(tmp_path: Path, itsm: dict[str, Any]) -> Settings:
    from bridge.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps({"itsm": {"kind": "jsm", "url": CLOUD, **itsm}, "jira": {"url": CLOUD, "email": "a@b.c"}})
    )
    return load_settings(config, env={})


def test_from_settings_cloud_is_email_and_api_token(tmp_path: Path) -> None:
    built = JsmConnector.from_settings(_settings(tmp_path, {"username": "agent@example.com", "password": SECRET}))
    assert built.site.deployment == "cloud"
    assert built.name == "jsm"


def test_from_settings_data_center_is_a_personal_access_token(tmp_path: Path) -> None:
    built = JsmConnector.from_settings(_settings(tmp_path, {"token": SECRET}))
    assert built.site.deployment == "datacenter"


def test_from_settings_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        JsmConnector.from_settings(_settings(tmp_path, {}))
    assert any("itsm.username" in p for p in caught.value.problems)
    assert any("itsm.token" in p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(404, "has no Jira Service Management"), (403, "the service desks of")],
)
@responses.activate
def test_check_without_jsm_or_without_agent_rights_says_so(status: int, expected: str) -> None:
    responses.get(f"{CLOUD}/rest/api/3/myself", json={"accountId": "a1", "displayName": "Agent", "timeZone": "UTC"})
    responses.get(
        f"{CLOUD}/rest/servicedeskapi/servicedesk", status=status, json={"errorMessage": "nope", "i18nErrorMessage": {}}
    )
    mapping = MappingSpec.model_validate(
        {
            "name": "m",
            "route": {"record_type": "SUP", "system": "jsm"},
            "target": {"project": "DEV", "issue_type": "Bug"},
        }
    )
    results = connector().check([mapping])
    assert results[0].ok is True
    assert results[-1].ok is False
    assert expected in results[-1].what
