"""Which fields a mapping reads on each side, so connectors fetch exactly those (and nothing more).

ServiceNow's ``sysparm_fields`` and Jira's ``fields=`` keep payloads small; a field the mapping needs but
the connector did not fetch would silently render as missing. Deriving the lists from the mapping, in one
place, keeps the two in step.
"""

from __future__ import annotations

from jinja2 import meta, nodes

from bridge.mapping.context import JINJA_GLOBALS, PLACES
from bridge.mapping.sandbox import parse
from bridge.mapping.schema import ItsmStateTarget, Mapping, TemplateValue
from bridge.mapping.transform import condition_fields

_CONTEXT_NAMES = frozenset(name for place in PLACES.values() for name in place.names)


def _record_variables(source: str) -> set[str]:
    """Names a template reads that are record fields (not context names, not Jinja globals)."""
    return set(meta.find_undeclared_variables(parse(source))) - _CONTEXT_NAMES - JINJA_GLOBALS


def _jira_to_itsm_templates(mapping: Mapping) -> list[str]:
    sources = [note.template for note in mapping.notes_to_itsm]
    for target in mapping.status.to_itsm.values():
        if isinstance(target, ItsmStateTarget):
            sources.extend(v.template for v in target.fields.values() if isinstance(v, TemplateValue))
    return sources


def _issue_fields_used(source: str) -> set[str]:
    """Jira fields a template reads through ``issue``: ``issue.fields.X`` / ``issue.fields['X']``,
    and ``issue.summary`` / ``issue.resolution`` (which are Jira fields too)."""
    used: set[str] = set()
    for node in parse(source).find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):  # find_all is typed as any node
            continue
        inner = node.node
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if not isinstance(name, str):
            continue
        if isinstance(inner, nodes.Name) and inner.name == "issue" and name in ("summary", "resolution"):
            used.add(name)
        if (
            isinstance(inner, nodes.Getattr)
            and inner.attr == "fields"
            and isinstance(inner.node, nodes.Name)
            and inner.node.name == "issue"
        ):
            used.add(name)
    return used


def itsm_fields_needed(mapping: Mapping, status_field: str | None = None) -> set[str]:
    """ITSM fields the engine must fetch for ``mapping``: route conditions, ``itsm:`` sources (every
    direction), record fields used by any template (Jira→ITSM ones included), the link fields and
    ``link_existing``. The status field (``state`` on ServiceNow, ``Status`` on RT) is added when given:
    the cycle does not pass it, because every ITSM connector reads the status into ``Record.status``."""
    needed = set(condition_fields(mapping.route.where))
    if status_field is not None:
        needed.add(status_field)
    for rule in mapping.fields.values():
        if rule.itsm is not None:
            needed.add(rule.itsm)
        if rule.template is not None:
            needed |= _record_variables(rule.template)
    for source in _jira_to_itsm_templates(mapping):
        needed |= _record_variables(source)
    links = mapping.links
    needed |= {f for f in (links.itsm_key_field, links.itsm_url_field, links.link_existing) if f}
    return needed


def jira_fields_needed(mapping: Mapping) -> set[str]:
    """Jira fields the engine must fetch for ``mapping``: every rule's field, ``status``, ``labels``, the
    marker and linked-count fields, ``notes_to_itsm`` trigger fields, fields Jira→ITSM templates read,
    and ``summary`` and ``resolution``, which the planner's issue view always shows."""
    needed = set(mapping.fields) | {"status", "labels", "summary", "resolution"}
    links = mapping.links
    needed |= {f for f in (links.jira_marker_field, links.linked_count_field) if f}
    needed |= {note.when_changed for note in mapping.notes_to_itsm}
    for source in _jira_to_itsm_templates(mapping):
        needed |= _issue_fields_used(source)
    return needed
