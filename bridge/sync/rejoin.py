"""Records that left the route while the store forgot their link: found again by their marker.

The change search returns linked records outside the route by their back-reference field, and the cycle
drops those bridge did not link (keys a person typed, another mapping's links) before reading anything
else. After the state database is lost or restored from an older backup, that drop would also hit
records bridge DID link, if they left the route since: their link would never come back, and their
issue would be orphaned. So before dropping them, one batched marker search (``find_by_markers``) asks
whether the issue their back-reference names carries THEIR marker: only then is the pairing proven,
and the record is kept to be adopted (never escalated: the planner adopts a record outside the route
only on that evidence, :meth:`bridge.sync.plan_adoption.AdoptionPlanning.rejoin`). A typed key costs
that one search, once per change of the record, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.core.state import LinkState
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Record
from bridge.sync.adoption import back_reference_key
from bridge.sync.engine import Engine

log = get_logger(__name__)


def strays(
    engine: Engine,
    spec: MappingSpec,
    records: Sequence[Record],
    by_record: Mapping[str, LinkState],
    kept: Sequence[Record],
    fields: list[str],
) -> list[Record]:
    """The unlinked records outside the route (not in ``kept``) whose back-reference names an issue that
    carries their own marker, and that no mapping links: links the store forgot."""
    chosen = {r.ref.id for r in kept}
    candidates = [
        r for r in records
        if r.ref.id not in by_record and r.ref.id not in chosen and back_reference_key(r) is not None
        and r.ref.kind == spec.route.record_type and not matches(spec.route.where, r.fields)
    ]
    if not candidates:
        return []
    owners = engine.store.record_owners([r.ref.id for r in candidates])
    candidates = [r for r in candidates if r.ref.id not in owners]
    if not candidates:
        return []
    found = engine.jira.find_by_markers(spec, [r.ref.token for r in candidates], fields)
    proven = [
        r for r in candidates
        if any(i.ref.key == back_reference_key(r) for i in found.get(r.ref.token, ()))
    ]
    for record in proven:
        log.info("record outside the route found again by its marker: its link is adopted", item=record.ref.key)
    return proven


__all__ = ["strays"]
