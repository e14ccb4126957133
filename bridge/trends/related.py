"""Records that count towards an escalated record's issue without being linked themselves.

"Incident → problem → Jira Bug": support relates each new incident to the known problem
(``incident.problem_id``), and only the problem is escalated. The Bug's weight in the trend report is
every incident behind it, so ``bridge trends --online`` reads them: one search of the related table per
100 linked records (``problem_idIN…``, the same paginated change search a cycle makes, with no cursor),
never one call per record. The vendor facts (:data:`bridge.vendors.servicenow.RELATED_RECORDS`) say
which tables relate to which.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from bridge.connectors.base import Connector
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.schema import Route
from bridge.model import Record
from bridge.trends.report import RelatedRecord
from bridge.vendors import servicenow, system_of

#: Parent ids per search: ``<field>IN`` with 100 sys_ids keeps the URL far below the usual 8 KB limit.
CHUNK = 100
OPENED_FIELD = "opened_at"


def related_table(spec: MappingSpec) -> tuple[str, str] | None:
    """``(table, reference field)`` of the records that relate to this mapping's records, if any."""
    if system_of(spec.route.record_type, spec.route.system) != "servicenow":
        return None
    return servicenow.RELATED_RECORDS.get(spec.route.record_type)


def read_related(itsm: Connector, spec: MappingSpec, parent_ids: Iterable[str]) -> dict[str, list[RelatedRecord]]:
    """The related records of ``parent_ids`` (linked record ids), by parent id."""
    relation = related_table(spec)
    parents = sorted(set(parent_ids))
    if relation is None or not parents:
        return {}
    table, field = relation
    found: dict[str, list[RelatedRecord]] = {}
    for start in range(0, len(parents), CHUNK):
        chunk = parents[start:start + CHUNK]
        # the related table's own search: no back-reference group (its linked records are not wanted)
        search = spec.model_copy(
            update={
                "route": Route.model_validate(
                    {"record_type": table, "system": spec.route.system, "where": {"field": field, "in": chunk}}
                ),
                "links": spec.links.model_copy(update={"itsm_key_field": None}),
            }
        )
        for item in itsm.search_changed(search, None, [field, OPENED_FIELD]):
            if not isinstance(item, Record):
                continue  # an unreadable row: the report counts what it can read
            parent = str(item.fields.get(field) or "")
            if parent in chunk:
                found.setdefault(parent, []).append(
                    RelatedRecord(item.ref.id, item.ref.key, item.status, _opened(item), parent)
                )
    return found


def _opened(record: Record) -> datetime | None:
    """``opened_at`` as ServiceNow sends it with ``sysparm_display_value=false``: UTC, seconds."""
    value = record.fields.get(OPENED_FIELD)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
