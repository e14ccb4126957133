"""The ``users`` section of ``bridge check --online``: accounts named in ``users:`` that cannot be resolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.bootstrap import ConnectorFactory, build_connectors
from bridge.commands.doctor import FAIL, OK, Section
from bridge.errors import BridgeError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Side
from bridge.settings import Settings
from bridge.users.check import user_findings
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
        for mapping in wanted:
            for result in user_findings(mapping, itsm, jira):
                section.add(OK if result.ok else FAIL, result.what, result.hint)
    finally:
        for connector in connectors.values():
            connector.close()
    return [section]
