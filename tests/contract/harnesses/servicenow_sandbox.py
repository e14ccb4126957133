"""The ServiceNow connector over the sandbox ServiceNow (real HTTP on loopback) as a contract harness."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import pytest

from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref, Side
from tests.contract.harness import ItsmProfile, ItsmSide, JiraSide, register
from tests.fixtures.servicenow import ManualClock, make_connector, running_sandbox

PAGE_SIZE = 5

MAPPING: dict[str, Any] = {
    "name": "contract",
    "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {"summary": {"itsm": "short_description"}},
    "links": {"jira_label": "bridge-contract"},
}

#: what a person closing or holding an incident in the UI fills in, unless the test says otherwise
_DEMANDED = {
    "6": {"close_code": "Solution provided", "close_notes": "Resolved by the service desk"},
    "7": {"close_code": "Solution provided", "close_notes": "Closed by the service desk"},
    "3": {"hold_reason": "1"},
}


class _Person:
    """Sam Support in the sandbox instance, acting through its scripting API (never the port)."""

    can_advance_clock = True

    def __init__(self, env: Any, clock: ManualClock) -> None:
        self.app, self.clock, self.url = env.app, clock, env.url

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        values = {"short_description": "Printer down", "category": "software", **(fields or {})}
        short = values.pop("short_description")
        made = self.app.create_incident(short, **values)
        return Ref(Side.ITSM, "incident", made["sys_id"], made["number"],
                   f"{self.url}/incident.do?sys_id={made['sys_id']}")

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        self.app.edit("incident", ref.id, **fields)

    def comment(self, ref: Ref, body: str) -> None:
        self.app.add_work_note("incident", ref.id, body)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        self.app.set_state("incident", ref.id, status, **{**_DEMANDED.get(str(status), {}), **(fields or {})})

    def attach(self, ref: Ref, filename: str, data: bytes, mime_type: str = "text/plain") -> None:
        self.app.attach("incident", ref.id, filename, data, content_type=mime_type)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> datetime:
        return self.clock()


@register("servicenow-sandbox")
class ServiceNowSandboxHarness:
    """ServiceNow side only; the clock starts 10 s into a minute."""

    def __init__(self) -> None:
        self.stack = ExitStack()
        self.clock = ManualClock()
        self.env = self.stack.enter_context(running_sandbox(self.clock))

    def make_itsm(self) -> ItsmSide:
        return ItsmSide(
            make_connector(self.env.url, page_size=PAGE_SIZE),
            _Person(self.env, self.clock),
            MappingSpec.model_validate(MAPPING),
            ItsmProfile(
                text_field="short_description",
                other_text_field="description",
                open_status="2",
                closed_status="6",
                close_fields={"close_code": "Solution provided", "close_notes": "Fixed by the vendor patch"},
                comment_channel="work_notes",
                key_field="correlation_id",
            ),
            PAGE_SIZE,
        )

    def make_jira(self) -> JiraSide:
        pytest.skip("the ServiceNow sandbox harness provides the ITSM side only")

    def close(self) -> None:
        self.stack.close()
