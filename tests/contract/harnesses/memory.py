"""The in-memory connectors as the first contract harness."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.connectors.memory import ManualClock, MemoryItsm, MemoryJira
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref
from tests.contract.harness import ItsmProfile, ItsmSide, JiraProfile, JiraSide, register

PAGE_SIZE = 5

ITSM_MAPPING: dict[str, Any] = {
    "name": "contract",
    "route": {"record_type": "incident", "where": {"field": "category", "equals": "software"}},
    "target": {"project": "OPS", "issue_type": "Bug"},
    "fields": {"summary": {"itsm": "short_description"}},
    "links": {"jira_label": "bridge-contract"},
}


class _ItsmPerson:
    can_advance_clock = True

    def __init__(self, itsm: MemoryItsm, clock: ManualClock) -> None:
        self.itsm, self.clock = itsm, clock

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        return self.itsm.create_record(
            "incident", {"short_description": "Printer down", "category": "software", **(fields or {})}
        )

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        self.itsm.edit(ref, **fields)

    def comment(self, ref: Ref, body: str) -> None:
        self.itsm.comment(ref, body)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        self.itsm.set_state(ref, status, **(fields or {}))

    def attach(self, ref: Ref, filename: str, data: bytes, mime_type: str = "text/plain") -> None:
        self.itsm.attach(ref, filename, data, mime_type=mime_type)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> datetime:
        return self.clock()


class _JiraPerson:
    can_advance_clock = True

    def __init__(self, jira: MemoryJira, clock: ManualClock, label: str) -> None:
        self.jira, self.clock, self.label = jira, clock, label

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        values = dict(fields or {})
        summary = values.pop("summary", "Fix the printer driver")
        return self.jira.create_issue("OPS", "Bug", summary, fields=values, labels=[self.label])

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None:
        self.jira.edit(ref, **fields)

    def comment(self, ref: Ref, body: str) -> None:
        self.jira.comment(ref, body)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        self.jira.transition_to(ref, status, resolution=(fields or {}).get("resolution"))

    def attach(self, ref: Ref, filename: str, data: bytes, mime_type: str = "text/plain") -> None:
        self.jira.attach(ref, filename, data, mime_type=mime_type)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> datetime:
        return self.clock()

    def remote_link_count(self, ref: Ref) -> int:
        return len(self.jira.remote_links(ref))


@register("memory")
class MemoryHarness:
    """Both fakes on one manual clock that starts 10 s into a minute (minute-boundary tests rely on it)."""

    #: No HTTP, no server: the only harness of the fast tier (tests/conftest.py marks the others slow).
    in_memory = True

    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC))

    def make_itsm(self) -> ItsmSide:
        itsm = MemoryItsm(clock=self.clock, page_size=PAGE_SIZE)
        return ItsmSide(
            itsm,
            _ItsmPerson(itsm, self.clock),
            MappingSpec.model_validate(ITSM_MAPPING),
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
        jira = MemoryJira(clock=self.clock, page_size=PAGE_SIZE)
        mapping = MappingSpec.model_validate(ITSM_MAPPING)
        with_field = MappingSpec.model_validate(
            {**ITSM_MAPPING, "links": {**ITSM_MAPPING["links"], "jira_marker_field": "customfield_10050"}}
        )
        return JiraSide(
            jira,
            _JiraPerson(jira, self.clock, mapping.links.jira_label),
            mapping,
            JiraProfile(initial_status="To Do", far_status="In Review", done_status="Done", resolution="Done"),
            PAGE_SIZE,
            with_field,
        )

    def close(self) -> None:
        """Nothing to release: everything lives in memory."""
