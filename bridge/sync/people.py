"""The people a cycle's records name, resolved before planning (the planner stays pure).

Field rules with ``user: true`` copy a person from the record (``assigned_to``, ``caller_id``, ``Owner``) to
a Jira user field; :func:`people_for` turns every handle the changed records hold into the Jira account
through :class:`bridge.users.resolve.UserResolver` (table, cache in the store, e-mail, fallback). A
lookup that fails with a vendor error fails the cycle rather than clearing someone's assignee.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Record
from bridge.users.directories import directory_of
from bridge.users.resolve import UserResolver, people_in

if TYPE_CHECKING:
    from bridge.sync.engine import Engine


def resolver_for(engine: Engine, spec: MappingSpec) -> UserResolver:
    return UserResolver(spec.name, spec.users, directory_of(engine.itsm), directory_of(engine.jira),
                        engine.store, engine.clock)


def people_for(engine: Engine, spec: MappingSpec, records: Iterable[Record]) -> dict[str, str | None]:
    """ITSM user → Jira user for every person the ``user: true`` rules read from ``records``."""
    sources = [rule.itsm for rule in spec.fields.values() if rule.user and rule.itsm]
    if not sources:
        return {}
    handles = people_in(record.fields.get(field) for record in records for field in sources)
    if not handles:
        return {}
    resolver = resolver_for(engine, spec)
    return {handle: resolver.resolve("to_jira", handle) for handle in sorted(handles)}
