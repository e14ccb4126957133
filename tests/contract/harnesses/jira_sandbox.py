"""The Jira connector over the sandbox Jira (real HTTP on loopback), Cloud and Data Center, as contract harnesses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from bridge.connectors.http import HttpOptions
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from tests.contract.harness import ItsmSide, JiraProfile, JiraSide, register

# Imported here before test modules name it in pytest_plugins: let pytest rewrite it as a plugin.
pytest.register_assert_rewrite("tests.fixtures.jira_sandbox")
from tests.fixtures.jira_sandbox import JiraEnv, start_jira, stop_jira  # noqa: E402

PAGE_SIZE = 5

MAPPING: dict[str, Any] = {
    "name": "contract",
    "route": {"record_type": "incident"},
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {"summary": {"itsm": "short_description"}},
    "links": {"jira_label": "bridge-contract"},
}


class _Person:
    """A developer in the sandbox Jira (Dana), acting through the sandbox's scripting API."""

    can_advance_clock = True

    def __init__(self, env: JiraEnv, label: str) -> None:
        self.env, self.label = env, label

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        values = dict(fields or {})
        summary = str(values.pop("summary", "Fix the printer driver"))
        key = self.env.sandbox.create_issue("OPS", summary, labels=[self.label], fields=values)
        issue = next(i for i in self.env.sandbox.snapshot() if i["key"] == key)
        return Ref(Side.JIRA, "issue", issue["id"], key, f"{self.env.url}/browse/{key}")

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        self.env.sandbox.edit_issue(ref.key, dict(fields))

    def comment(self, ref: Ref, body: str) -> None:
        self.env.sandbox.add_comment(ref.key, body)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        self.env.sandbox.transition(ref.key, status, resolution=str((fields or {}).get("resolution", "Done")))

    def attach(self, ref: Ref, filename: str, data: bytes, mime_type: str = "text/plain") -> None:
        self.env.sandbox.attach(ref.key, filename, data, mime_type=mime_type)

    def advance(self, seconds: float) -> None:
        self.env.clock.advance(seconds)

    def now(self) -> datetime:
        return self.env.clock()

    def remote_link_count(self, ref: Ref) -> int:
        return len(next(i for i in self.env.sandbox.snapshot() if i["key"] == ref.key)["remotelinks"])


class _SandboxHarness:
    mode = "cloud"

    def __init__(self) -> None:
        self.env = start_jira(self.mode)  # its clock starts 15 s into a minute

    def make_itsm(self) -> ItsmSide:
        pytest.skip("the Jira sandbox harness provides the Jira side only")

    def make_jira(self) -> JiraSide:
        mapping = MappingSpec.model_validate(MAPPING)
        with_field = MappingSpec.model_validate(
            {**MAPPING, "links": {**MAPPING["links"], "jira_marker_field": "ITSM Reference"}}
        )
        http = HttpOptions(base_url=self.env.url, requests_per_second=10_000, burst=10_000, max_attempts=4)
        connector = self.env.connector(http=http, page_size=PAGE_SIZE)
        return JiraSide(
            connector,
            _Person(self.env, mapping.links.jira_label),
            mapping,
            JiraProfile(initial_status="To Do", far_status="In Review", done_status="Done", resolution="Done"),
            PAGE_SIZE,
            with_field,
        )

    def close(self) -> None:
        stop_jira(self.env)


@register("jira-sandbox-cloud")
class CloudHarness(_SandboxHarness):
    mode = "cloud"


@register("jira-sandbox-datacenter")
class DataCenterHarness(_SandboxHarness):
    mode = "datacenter"
