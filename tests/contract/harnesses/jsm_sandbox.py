"""The JSM connector over the sandbox JSM site (real HTTP on loopback), Cloud and Data Center, as ITSM harnesses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from bridge.connectors.http import HttpOptions
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from tests.contract.harness import ItsmProfile, ItsmSide, JiraSide, register

pytest.register_assert_rewrite("tests.fixtures.jsm_sandbox")
from tests.fixtures.jira_sandbox import stop_jira  # noqa: E402
from tests.fixtures.jsm_sandbox import JsmEnv, start_jsm  # noqa: E402

PAGE_SIZE = 5

MAPPING: dict[str, Any] = {
    "name": "contract",
    "route": {
        "record_type": "SUP",
        "system": "jsm",
        # compiled into JQL (priority by name) AND filtered locally (request type): both paths run
        "where": {
            "all": [
                {"field": "priority", "in": ["Highest", "High", "Medium"]},
                {"field": "Request Type", "not_equals": "Request new software"},
            ]
        },
    },
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {"summary": {"itsm": "summary"}},
    "comments": {"to_itsm_channel": "internal", "from_itsm_channels": ["internal", "public"]},
    "links": {"jira_label": "bridge-contract", "itsm_key_field": "Development issue", "itsm_url_field": None},
}


class _Person:
    """Sam, an agent of the service desk, acting through the sandbox's scripting API (never the port)."""

    can_advance_clock = True

    def __init__(self, env: JsmEnv) -> None:
        self.env = env

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        values = dict(fields or {})
        summary = str(values.pop("summary", "Printer down"))
        description = values.pop("description", None)
        key = self.env.sandbox.create_request(summary, description=description, fields=values)
        issue = next(i for i in self.env.sandbox.snapshot() if i["key"] == key)
        return Ref(Side.ITSM, "SUP", issue["id"], key, f"{self.env.url}/browse/{key}")

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        self.env.sandbox.edit_issue(ref.key, dict(fields), as_user="sam")

    def attach(self, ref: Ref, filename: str, data: bytes, mime_type: str = "text/plain") -> None:
        self.env.sandbox.attach(ref.key, filename, data, mime_type=mime_type, author="sam")

    def comment(self, ref: Ref, body: str) -> None:
        self.env.sandbox.reply(ref.key, body, public=False)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        resolution = str((fields or {}).get("resolution", "Done"))
        self.env.sandbox.transition(ref.key, status, as_user="sam", resolution=resolution)

    def advance(self, seconds: float) -> None:
        self.env.clock.advance(seconds)

    def now(self) -> datetime:
        return self.env.clock()


class _JsmHarness:
    mode = "cloud"

    def __init__(self) -> None:
        self.env = start_jsm(self.mode)  # its clock starts 15 s into a minute

    def make_itsm(self) -> ItsmSide:
        http = HttpOptions(base_url=self.env.url, requests_per_second=10_000, burst=10_000, max_attempts=4)
        connector = self.env.jsm(http=http, page_size=PAGE_SIZE)
        # A running bridge reads the site's field list once per process; the contract counts the calls of
        # a connector in that steady state (one search per query), so read it before the tests count.
        connector.site.fields_index()
        return ItsmSide(
            connector,
            _Person(self.env),
            MappingSpec.model_validate(MAPPING),
            ItsmProfile(
                text_field="summary",
                other_text_field="description",
                open_status="In Progress",
                closed_status="Resolved",
                close_fields={"resolution": "Done"},
                comment_channel="internal",
                key_field="Development issue",
            ),
            PAGE_SIZE,
        )

    def make_jira(self) -> JiraSide:
        pytest.skip("the JSM sandbox harness provides the ITSM side only (the Jira harnesses cover the Jira side)")

    def close(self) -> None:
        stop_jira(self.env)


@register("jsm-sandbox-cloud")
class CloudHarness(_JsmHarness):
    mode = "cloud"


@register("jsm-sandbox-datacenter")
class DataCenterHarness(_JsmHarness):
    mode = "datacenter"
