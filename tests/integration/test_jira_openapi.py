"""Every request the Jira connector sends to the Cloud sandbox, and every answer, against Atlassian's OpenAPI.

The sandbox records each exchange; after a connector exercise that touches every endpoint the connector
uses, each recorded request and response is validated with openapi-core against the Jira Cloud platform
OpenAPI v3 document (tests/data/, copied from Atlassian's ``swagger-v3.v3.json``). A path the document
does not know fails the test, so neither the connector nor the sandbox can drift from the vendor.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import DataValidationError

from bridge.connectors.base import CreateSpec
from bridge.errors import NotFoundError, PermanentError
from bridge.mapping.schema import JiraStatusTarget, LinkRules, Mapping, Route, StatusRules, Target
from bridge.model import Marker, Ref, Side, Visibility

if TYPE_CHECKING:
    from tests.fixtures.jira_sandbox import JiraEnv

pytest_plugins = ["tests.fixtures.jira_sandbox"]

SPEC = Path(__file__).resolve().parents[1] / "data" / "jira-cloud-platform-openapi-v3.json"
HOST = "https://your-domain.atlassian.net"  # the document's server URL
RECORD = Ref(
    Side.ITSM, "incident", "9d38abc0", "INC0010001", "https://acme.service-now.com/incident.do?sys_id=9d38abc0"
)
MAPPING = Mapping(
    name="incidents",
    route=Route(record_type="incident"),
    target=Target(project="OPS", issue_type="Bug"),
    status=StatusRules(to_jira={"6": JiraStatusTarget(status="Done", fields={"resolution": "Done"})}),
    links=LinkRules(jira_label="bridge"),
)
#: Every endpoint the connector uses on Cloud; the exercise below must reach all of them.
ENDPOINTS = {
    ("GET", "/rest/api/3/serverInfo"),
    ("GET", "/rest/api/3/myself"),
    ("GET", "/rest/api/3/field"),
    ("GET", "/rest/api/3/project/{projectIdOrKey}"),
    ("GET", "/rest/api/3/project/{projectIdOrKey}/statuses"),
    ("GET", "/rest/api/3/mypermissions"),
    ("POST", "/rest/api/3/search/jql"),
    ("POST", "/rest/api/3/issue"),
    ("POST", "/rest/api/3/issue/bulk"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}"),
    ("PUT", "/rest/api/3/issue/{issueIdOrKey}"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    ("GET", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    ("POST", "/rest/api/3/issue/{issueIdOrKey}/remotelink"),
}


#: Jira writes timestamps as ``2024-01-02T03:04:05.000+0100`` — the document's own examples do too
#: (``"2021-01-17T12:34:00.000+0000"``) — although it declares ``format: date-time`` (RFC 3339 wants
#: ``+01:00``). The sandbox is faithful to the vendor, so the check accepts what Jira really sends.
JIRA_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")


def _jira_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(JIRA_DATE_TIME.match(value))


@pytest.fixture(scope="session")
def spec_document() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


@pytest.fixture(scope="session")
def openapi(spec_document: dict[str, Any]) -> OpenAPI:
    """The 2.4 MB document, loaded once per session (its own validation is skipped: it is Atlassian's)."""
    config = Config(spec_validator_cls=None, extra_format_validators={"date-time": _jira_date_time})
    return OpenAPI.from_dict(spec_document, config=config)


@pytest.fixture
def exchanges(jira_cloud: JiraEnv) -> list[dict[str, Any]]:
    """Drive the connector through everything it does, recording the sandbox's side of it."""
    sandbox = jira_cloud.sandbox
    sandbox.configure(page_size=2)
    sandbox.start_recording()
    connector = jira_cloud.connector(page_size=2)
    assert all(result.ok for result in connector.check([MAPPING]))
    created = [
        connector.create(
            CreateSpec(
                project="OPS",
                issue_type="Bug",
                marker=f"itsm-incident-{n}",
                labels=("bridge",),
                fields={
                    "summary": f"Printer {n}",
                    "description": "Down\n\n- a\n- b",
                    "priority": "High",
                    "ServiceNow Number": f"INC{n}",
                    "Linked records": 1,
                },
            )
        )
        for n in range(3)
    ]
    ref = created[0].ref
    bulk = connector.create_many(
        [CreateSpec(project="OPS", issue_type="Bug", marker=f"itsm-incident-b{n}", fields={"summary": s})
         for n, s in enumerate(["Bulk one", "", "Bulk two"])]  # "": a partial failure (201)
    )
    assert [type(r).__name__ for r in bulk] == ["Issue", "PermanentError", "Issue"]
    assert len(list(connector.search_changed(MAPPING, jira_cloud.clock() - timedelta(hours=1), ["summary"]))) == 3
    assert connector.find_by_marker(MAPPING, "itsm-incident-1") is not None
    connector.update_fields(ref, {"summary": "Printer down again", "labels": ("triaged",)})
    marker = Marker(Side.ITSM, "journal-1")
    connector.add_comment(
        ref, "From the caller", channel="comment", marker=marker, visibility=Visibility("role", "Developers")
    )
    sandbox.add_comment(ref.key, "Developer reply")
    assert len(connector.comments_since([ref], None)[ref.id]) == 2
    assert connector.find_comment_by_marker(ref, marker) is not None
    connector.set_status(ref, "Done", {"resolution": "Done"})
    connector.set_status(ref, "In Progress", {})
    connector.write_back_reference(ref, RECORD, {"summary": "Printer down"})
    connector.write_back_reference(ref, RECORD, {"resolved": True})
    connector.get(ref, ["summary", "description", "labels", "priority"])
    # Error answers are part of the contract too: a missing issue (404), an invalid create (400).
    with pytest.raises(NotFoundError):
        connector.get(Ref(Side.JIRA, "issue", "999999", "OPS-999"), ["summary"])
    with pytest.raises(PermanentError):
        connector.create(CreateSpec(project="OPS", issue_type="Bug", fields={"summary": ""}, marker="itsm-incident-x"))
    return sandbox.exchanges


def _request(exchange: dict[str, Any]) -> MockRequest:
    headers = {"Content-Type": exchange["request_content_type"] or "application/json"}
    if exchange["request_auth_scheme"]:
        headers["Authorization"] = f"{exchange['request_auth_scheme']} redacted"
    return MockRequest(
        HOST,
        exchange["method"].lower(),
        exchange["path"],
        args={k: v[-1] for k, v in exchange["query"].items()},
        headers=headers,
        data=exchange["request_body"].encode() or None,
        content_type=(exchange["request_content_type"] or "application/json").split(";")[0],
    )


def _response(exchange: dict[str, Any]) -> MockResponse:
    body = exchange["response_body"] if exchange["response_body"] is not None else (exchange["response_text"] or "")
    content_type = "application/json" if exchange["response_body"] is not None else "text/plain"
    return MockResponse(
        body.encode(), status_code=exchange["status"], headers=exchange["response_headers"], content_type=content_type
    )


def _template(openapi: OpenAPI, exchange: dict[str, Any]) -> tuple[str, str]:
    finder = APICallPathFinder(openapi.spec, base_url=None)
    found = finder.find(exchange["method"].lower(), HOST + exchange["path"])
    return exchange["method"], found.path.parts[-1]


def test_every_request_and_response_matches_the_openapi_document(
    openapi: OpenAPI, spec_document: dict[str, Any], exchanges: list[dict[str, Any]]
) -> None:
    problems = []
    for exchange in exchanges:
        request = _request(exchange)
        where = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
        try:
            openapi.validate_request(request)
        except Exception as exc:  # collect them all: one run shows every drift
            problems.append(f"request {where}: {type(exc).__name__}: {_cause(exc)}")
        if exchange["status"] == 204:
            # Jira's 204s have no body, while the document gives them an (empty) JSON schema: check the
            # status is one the operation documents, and that nothing was sent.
            method, template = _template(openapi, exchange)
            documented = spec_document["paths"][template][method.lower()]["responses"]
            if "204" not in documented or exchange["response_body"] or exchange["response_text"]:
                problems.append(f"response {where}: 204 not documented or not empty")
            continue
        try:
            openapi.validate_response(request, _response(exchange))
        except Exception as exc:
            problems.append(f"response {where}: {type(exc).__name__}: {_cause(exc)}")
    assert not problems, "\n".join(problems)


def test_the_exercise_covers_every_endpoint_the_connector_uses(
    openapi: OpenAPI, exchanges: list[dict[str, Any]]
) -> None:
    seen = {_template(openapi, e) for e in exchanges}
    assert seen == ENDPOINTS
    assert len(exchanges) > len(ENDPOINTS)


def test_an_unknown_path_fails_validation(openapi: OpenAPI) -> None:
    exchange = {
        "method": "GET",
        "path": "/rest/api/3/issue/OPS-1/nonsense",
        "query": {},
        "request_body": "",
        "request_content_type": "",
        "request_auth_scheme": "Basic",
    }
    with pytest.raises(Exception, match="Path not found"):
        openapi.validate_request(_request(exchange))


def _cause(exc: BaseException) -> str:
    parts = [str(exc)]
    for detail in (
        getattr(exc, "schema_errors", None) or getattr(getattr(exc, "__cause__", None), "schema_errors", None) or []
    ):
        parts.append(f"{list(detail.absolute_path)}: {detail.message}")
    cause = exc.__cause__
    if cause is not None and not getattr(exc, "schema_errors", None):
        parts.append(str(cause))
        for detail in getattr(cause, "schema_errors", None) or []:
            parts.append(f"{list(detail.absolute_path)}: {detail.message}")
    return " | ".join(parts)[:1500]


def test_a_drifted_sandbox_answer_would_be_caught(openapi: OpenAPI, exchanges: list[dict[str, Any]]) -> None:
    """The check has teeth: the same search answer with a wrongly typed field fails it."""
    search = next(e for e in exchanges if e["path"].endswith("/search/jql") and e["status"] == 200)
    body = json.loads(search["response_body"])
    openapi.validate_response(_request(search), _response(search))
    body["issues"][0]["id"] = 10001  # Jira's issue ids are strings
    drifted = dict(search, response_body=json.dumps(body))
    with pytest.raises(DataValidationError):
        openapi.validate_response(_request(drifted), _response(drifted))
