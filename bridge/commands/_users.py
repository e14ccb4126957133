"""The ``users`` section of ``bridge check --online``: accounts named in ``users:`` that cannot be resolved,
and people in the route's recent records (and issues) whom bridge cannot find on the other side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bridge.bootstrap import ConnectorFactory, build_connectors
from bridge.commands.doctor import FAIL, OK, WARN, Section
from bridge.errors import BridgeError, ConnectorError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Side
from bridge.settings import Settings
from bridge.users.check import SAMPLE, SAMPLE_DAYS, sampled_people, user_findings, without_fallback
from bridge.users.directories import directory_of


def users_sections(
    settings: Settings, mappings: Sequence[MappingSpec], factories: Mapping[str, ConnectorFactory] | None = None
) -> list[Section]:
    """One section when a mapping maps people (``user: true``), none otherwise."""
    wanted = [m for m in mappings if any(rule.user for rule in m.fields.values())]
    if not wanted:
        return []
    section = Section("users")
    try:
        connectors = build_connectors(settings, factories)
    except BridgeError as exc:
        section.add(FAIL, f"cannot build the connectors: {exc}")
        return [section]
    try:
        itsm, jira = directory_of(connectors[Side.ITSM]), directory_of(connectors[Side.JIRA])
        if itsm is None:
            section.add(OK, f"{settings.itsm.kind}: people map through users.table and users.fallback only")
        now = datetime.now(UTC)
        for mapping in wanted:
            for result in user_findings(mapping, itsm, jira):
                section.add(OK if result.ok else FAIL, result.what, result.hint)
            try:
                seen, unknown = sampled_people(mapping, connectors[Side.ITSM], connectors[Side.JIRA],
                                               without_fallback(mapping, itsm, jira, now), now)
            except ConnectorError as exc:
                section.add(WARN, f"{mapping.name}: cannot sample recent records for their people: {exc}")
                continue
            for person in unknown:
                section.add(WARN, person.what, person.hint)
            if not unknown:
                section.add(OK, f"{mapping.name}: the {seen} people of the newest {SAMPLE} records and issues "
                                f"(last {SAMPLE_DAYS} days) all resolve")
    finally:
        for connector in connectors.values():
            connector.close()
    return [section]
