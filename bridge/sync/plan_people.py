"""Jira → ITSM values of field rules: which ITSM person a Jira user field's value becomes (pure).

The accounts were resolved before planning (:mod:`bridge.sync.people`, the ``users:`` section); here the
planner only reads :attr:`bridge.core.state.PlanInput.people_to_itsm`. A Jira person with no ITSM user
(no table pair, no address match, no fallback) is never written as an empty value: the records keep
the person they have and the plan says so, because clearing an assignee loses work nobody asked to lose.
"""

from __future__ import annotations

from bridge.core.state import PlanInput
from bridge.mapping.schema import FieldRule
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import to_itsm_value
from bridge.model import FieldValue, Ref
from bridge.sync.plan_views import within_itsm_limit, written_projection

#: the key of ``PlanInput.people_to_itsm`` holding the ITSM value for "no one" (RT ``Nobody``)
NOBODY = ""


def itsm_person(
    rule: FieldRule, key: str, jira_now: FieldValue, given: PlanInput, where: str
) -> tuple[FieldValue, FieldValue] | str:
    """``(ITSM value to write, what the record then projects to)``, or the note saying why nothing is written.

    ``where`` names the issue in the note. An emptied Jira field empties the ITSM one (RT: ``Nobody``).
    """
    back = given.people_to_itsm
    if jira_now in (None, "", ()):
        value: FieldValue = back.get(NOBODY)
    else:
        accounts = jira_now if isinstance(jira_now, tuple) else (str(jira_now),)
        found = [back.get(account) for account in accounts]
        missing = [a for a, f in zip(accounts, found, strict=True) if not f]
        if missing:
            return (f"{where}: {key}: no {given.itsm_system} user for the {given.jira_system} user "
                    f"{', '.join(missing)} (not in users.table, no matching e-mail address, no users.fallback): "
                    "the records keep their person")
        value = tuple(sorted(str(f) for f in found)) if isinstance(jira_now, tuple) else found[0]
    return value, written_projection(rule, value, given.people)


def record_value(
    rule: FieldRule, jira_now: FieldValue, given: PlanInput, mapping: MappingSpec, issue: Ref
) -> tuple[FieldValue, FieldValue]:
    """``(ITSM value to write, what the record then projects to)`` for a rule that is not a person: the
    Jira value through the rule's map in reverse, within the ITSM field's length."""
    value = within_itsm_limit(rule, to_itsm_value(rule, jira_now), given.itsm_limits,
                              mapping.comments.truncation_notice, issue)
    return value, written_projection(rule, value)
