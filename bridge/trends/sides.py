"""``bridge trends --online``: one bounded read per side and mapping, for what the store does not hold.

The store keeps only the fields a mapping syncs, so a ``trends.group_by`` field the mappings merely filter
on (``category``, ``cmdb_ci``) is unknown to it, and an issue's status is the one last synced. One
``search_changed`` per side and mapping (the same single paginated query a cycle makes) since the start of
the period fills both: records escalated in the period were written by bridge then, so they are among the
records updated since. Records the route no longer selects, and issues not updated in the period, keep
what the store says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.connectors.base import Connector
from bridge.mapping.schema import Mapping as MappingSpec


@dataclass
class SideFacts:
    """Current values read from the vendors: record fields by record id, issue status by issue id."""

    record_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    issue_status: dict[str, str] = field(default_factory=dict)


def read_sides(
    itsm: Connector, jira: Connector, specs: Iterable[MappingSpec], since: datetime, group_by: Sequence[str]
) -> SideFacts:
    facts = SideFacts()
    for spec in specs:
        for item in itsm.search_changed(spec, since, list(group_by)):
            facts.record_fields[item.ref.id] = {k: v for k, v in item.fields.items() if k in group_by}
        for item in jira.search_changed(spec, since, []):
            if item.status:
                facts.issue_status[item.ref.id] = item.status
    return facts
