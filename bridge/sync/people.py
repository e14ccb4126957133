"""The people a cycle's records and issues name, resolved before planning (the planner stays pure).

Field rules with ``user: true`` copy a person between an ITSM field (``assigned_to``, ``caller_id``,
``Owner``) and a Jira user field. :func:`people_input` turns every handle the changed records hold into
the Jira account and, for rules that write back (``direction: both`` or ``to_itsm``), every account the
changed issues hold into the ITSM user, through :class:`bridge.users.resolve.UserResolver` (table, cache
in the store, e-mail, fallback). A lookup that fails with a vendor error fails the cycle rather than
clearing someone's assignee; a Jira person nobody on the ITSM side matches (and no fallback) is logged
here and left out of the map, so the planner keeps the record's person and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Issue, Record
from bridge.sync.plan_people import NOBODY
from bridge.users.directories import directory_of
from bridge.users.resolve import UserResolver, people_in

if TYPE_CHECKING:
    from bridge.sync.engine import Engine

log = get_logger(__name__)


class PeopleInput(TypedDict):
    """The two maps :class:`bridge.core.state.PlanInput` takes (``PlanInput(..., **people_input(...))``)."""

    people: dict[str, str | None]
    people_to_itsm: dict[str, str | None]


def resolver_for(engine: Engine, spec: MappingSpec) -> UserResolver:
    return UserResolver(spec.name, spec.users, directory_of(engine.itsm), directory_of(engine.jira),
                        engine.store, engine.clock)


def itsm_nobody(engine: Engine) -> str | None:
    """The handle the ITSM uses for "no one" (RT ``Nobody``), ``None`` where an empty field says it."""
    nobody = getattr(directory_of(engine.itsm), "nobody", None)
    return nobody if isinstance(nobody, str) else None


def people_for(engine: Engine, spec: MappingSpec, records: Iterable[Record]) -> dict[str, str | None]:
    """ITSM user → Jira user for every person the ``user: true`` rules read from ``records``."""
    return people_input(engine, spec, records, ())["people"]


def people_input(
    engine: Engine, spec: MappingSpec, records: Iterable[Record], issues: Iterable[Issue]
) -> PeopleInput:
    """Both directions: the records' people to Jira, the issues' people (rules writing back) to the ITSM."""
    rules = [rule for rule in spec.fields.items() if rule[1].user and rule[1].itsm]
    sources = [rule.itsm for _, rule in rules if rule.itsm]
    back = [key for key, rule in rules if rule.direction != "to_jira"]
    handles = people_in(record.fields.get(field) for record in records for field in sources)
    accounts = people_in(issue.fields.get(key) for issue in issues for key in back)
    out = PeopleInput(people={}, people_to_itsm={})
    if not handles and not accounts:
        if back:
            out["people_to_itsm"] = _nobody(engine)
        return out
    resolver = resolver_for(engine, spec)
    nobody = itsm_nobody(engine)
    for account in sorted(accounts):
        found = resolver.resolve("to_itsm", account)
        out["people_to_itsm"][account] = found
        if found is None:
            log.warning("jira user has no ITSM user and the mapping has no users.fallback: the ITSM field "
                        "keeps its person", mapping=spec.name, jira_user=account,
                        why=resolver.unresolved.get(("to_itsm", account), ""), hint="add the pair to users.table")
        elif found != nobody:
            handles.add(found)  # what the record will show once written, for the planner's synced value
    if back:
        out["people_to_itsm"].update(_nobody(engine))
    for handle in sorted(handles):
        out["people"][handle] = None if handle == nobody else resolver.resolve("to_jira", handle)
    return out


def _nobody(engine: Engine) -> dict[str, str | None]:
    nobody = itsm_nobody(engine)
    return {NOBODY: nobody} if nobody is not None else {}
