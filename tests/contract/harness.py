"""The contract suite's plug-in point: how a connector under test is built and driven "as a person".

Every connector (in-memory fakes, Jira/ServiceNow adapters over the HTTP sandbox, Request Tracker over
a real RT) must pass ``tests/contract/``. To add one, drop a module into ``tests/contract/harnesses/``
that defines a :class:`ConnectorHarness` and registers it::

    from tests.contract.harness import register

    @register("servicenow-sandbox")
    class SandboxHarness:
        def make_itsm(self) -> ItsmSide: ...
        def make_jira(self) -> JiraSide: ...
        def close(self) -> None: ...

Every module of that package is imported by ``tests/contract/conftest.py``; each registered harness
becomes one parameter of every contract test. A harness that can only provide one side raises
``pytest.skip`` (with the reason) from the other ``make_*``; a harness needing a server that is missing
calls ``tests.conftest.integration_unavailable`` (or ``pytest.skip``) so CI can forbid the skip.

The **person** handle is the smallest uniform scripting API the tests need: create an item the
side's mapping selects, edit it, comment on it, set its status as a human would, and move the
server's clock when the harness can (``can_advance_clock``; servers without a controllable clock make
the tests that need it skip with that reason). The **profile** says the vendor's own vocabulary (field
names, status values, the fields a closing status demands), so one test text serves every vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bridge.connectors.base import Connector
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Ref


class Person(Protocol):
    """Acts on one side the way a person in the vendor's UI would (never through the port)."""

    can_advance_clock: bool

    def create(self, fields: Mapping[str, Any] | None = None) -> Ref:
        """Create an item that the side's mapping selects (ITSM: matches the route; Jira: carries the label)."""

    def edit(self, ref: Ref, fields: Mapping[str, Any]) -> None: ...

    def comment(self, ref: Ref, body: str) -> None: ...

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, Any] | None = None) -> None:
        """Put the item in ``status`` (any status, with whatever the vendor demands supplied by the harness)."""

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward (only when ``can_advance_clock``)."""

    def now(self) -> datetime:
        """The server's current time (UTC)."""


class JiraPerson(Person, Protocol):
    def remote_link_count(self, ref: Ref) -> int:
        """How many remote links the issue has."""


@dataclass(frozen=True)
class ItsmProfile:
    """The ITSM vendor's vocabulary for the contract tests."""

    text_field: str  # a writable plain-text field, e.g. ServiceNow short_description, RT Subject
    other_text_field: str  # a second one, for multi-field round trips
    open_status: str  # a status a new record can move to without extra fields
    closed_status: str  # a status the vendor only accepts with close fields
    close_fields: Mapping[str, Any]  # what closed_status demands (close_code, close_notes)
    comment_channel: str  # a journal to write to (work_notes, RT comment)
    key_field: str  # the field write_back_reference writes the Jira key into


@dataclass(frozen=True)
class JiraProfile:
    """The Jira instance's vocabulary for the contract tests."""

    initial_status: str  # where a new issue starts (To Do)
    far_status: str  # reachable from initial_status only in several steps, needing no fields
    done_status: str  # a done-category status that needs ``resolution``
    resolution: str  # a valid resolution name
    text_field: str = "summary"


@dataclass
class ItsmSide:
    connector: Connector
    person: Person
    mapping: MappingSpec
    profile: ItsmProfile
    page_size: int


@dataclass
class JiraSide:
    connector: Connector
    person: JiraPerson
    mapping: MappingSpec
    profile: JiraProfile
    page_size: int
    marker_field_mapping: MappingSpec | None = field(default=None)  # same, with links.jira_marker_field


class ConnectorHarness(Protocol):
    def make_itsm(self) -> ItsmSide: ...

    def make_jira(self) -> JiraSide: ...

    def close(self) -> None: ...


HARNESSES: dict[str, Callable[[], ConnectorHarness]] = {}


def register(name: str) -> Callable[[Callable[[], ConnectorHarness]], Callable[[], ConnectorHarness]]:
    """Class (or factory) decorator adding a harness to :data:`HARNESSES` under ``name``."""

    def add(factory: Callable[[], ConnectorHarness]) -> Callable[[], ConnectorHarness]:
        if name in HARNESSES and HARNESSES[name] is not factory:
            raise ValueError(f"two contract harnesses are named {name!r}")
        HARNESSES[name] = factory
        return factory

    return add
