"""How the doctor words a side's failure: busy is not unreachable, and a 404 names its endpoint."""

from __future__ import annotations

import pytest

from bridge.commands.doctor import FAIL, OK, Finding, Section, connector_failure, count
from bridge.errors import ConnectorError, NotFoundError, RateLimitedError, TransientError

CASES = [
    (RateLimitedError("jira rate limit", side="jira", method="GET", endpoint="/rest/api/3/myself", status=429),
     "Jira is busy: GET /rest/api/3/myself answered 429 — try again later"),
    (TransientError("jira server error", side="jira", method="GET", endpoint="/rest/api/3/serverInfo", status=503),
     "Jira is busy: GET /rest/api/3/serverInfo answered 503"),
    (NotFoundError("not found", side="jira", method="GET", endpoint="/rest/api/3/serverInfo", status=404),
     "Jira: GET /rest/api/3/serverInfo answered 404"),
    (ConnectorError("connection refused", side="jira"), "not reachable: connection refused"),
]


@pytest.mark.parametrize(("error", "text"), CASES, ids=["429", "503", "404", "refused"])
def test_failure_wording(error: ConnectorError, text: str) -> None:
    result = connector_failure(error, "Jira")
    assert not result.ok
    assert result.what.startswith(text)
    if error.status is not None:
        assert "reachable" not in result.what


def test_a_finding_repeated_counts_once() -> None:
    section = Section("jira")
    for _ in range(3):
        section.add(FAIL, "status 'In Reveiw' exists in DEMO")
    section.add(OK, "fine")
    assert count([section], FAIL) == 1
    assert list(dict.fromkeys(section.findings)) == [Finding(FAIL, "status 'In Reveiw' exists in DEMO"),
                                                     Finding(OK, "fine")]
