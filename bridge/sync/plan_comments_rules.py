"""Where one comment goes: ``comments.rules`` (routing by content) and who may read the mirror.

Pure, used by the planner. A support team writes "[customer] we have deployed the fix" in Jira to answer
the caller and everything else stays internal; ``comments.rules`` says so as an ordered list of regexes
per direction (first match wins, the mapping's channel otherwise). The regexes run through
:mod:`bridge.mapping.patterns` with its time limit: a rule that runs out of time is not applied (the
comment takes the mapping's channel, the *internal* default) and the caller hears why, for the error list.

Whether the target channel is read by the record's customer decides two things about the mirror
(:func:`customer_visible`): its first line comes from ``comments.customer_attribution`` (the person's
name only) instead of ``comments.attribution``, and connectors write no marker text into it (they
recognise it by the comment id bridge stores, or by an invisible carrier where the vendor has one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from bridge.mapping import patterns
from bridge.mapping.patterns import PatternTimeout
from bridge.mapping.schema import CommentRoute, CommentRules
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, Visibility
from bridge.vendors import jsm as jsm_facts
from bridge.vendors import rt as rt_facts
from bridge.vendors import servicenow as sn_facts
from bridge.vendors import system_of
from bridge.vendors.facts import Channel, System, is_internal

_CHANNELS: dict[System, tuple[Channel, ...]] = {
    "servicenow": sn_facts.JOURNALS,
    "rt": rt_facts.CHANNELS,
    "jsm": jsm_facts.CHANNELS,
}


def itsm_system(mapping: MappingSpec) -> System:
    return system_of(mapping.route.record_type, mapping.route.system)


def customer_visible(mapping: MappingSpec, channel: str) -> bool:
    """Whether a comment written to ITSM ``channel`` reaches the record's customer (unknown: internal)."""
    return not is_internal(_CHANNELS[itsm_system(mapping)], channel)


@dataclass(frozen=True)
class Routed:
    """A comment's mirror as routed: the body to mirror (a matched prefix stripped), channel, visibility."""

    body: str
    channel: str
    visibility: Visibility | None
    rule: int | None = None
    """0-based index of the rule that matched, ``None`` for the mapping's default."""

    def comment(self, original: Comment) -> Comment:
        """``original`` with the routed body (what the mirror shows)."""
        return original if original.body == self.body else dataclasses.replace(original, body=self.body)


def _first_match(
    comment: Comment, routes: list[CommentRoute], direction: str, on_problem: Callable[[str], None] | None
) -> tuple[int, CommentRoute, tuple[int, int]] | None:
    for index, route in enumerate(routes):
        try:
            found = patterns.span(route.match, comment.body)
        except PatternTimeout as exc:
            if on_problem is not None:
                on_problem(
                    f"comments.rules.{direction}[{index}] ({exc.pattern!r}) took longer than {exc.limit_ms:g} ms "
                    f"on comment {comment.id}: not applied"
                )
            continue
        if found is not None:
            return index, route, found
    return None


def _stripped(body: str, where: tuple[int, int]) -> str:
    start, end = where
    return (body[:start] + body[end:]).strip()


def route_to_itsm(comment: Comment, rules: CommentRules, on_problem: Callable[[str], None] | None = None) -> Routed:
    """Where a Jira comment goes in the ITSM: the first ``rules.to_itsm`` match, else ``to_itsm_channel``."""
    found = _first_match(comment, rules.rules.to_itsm, "to_itsm", on_problem)
    if found is None:
        return Routed(comment.body, rules.to_itsm_channel, None)
    index, route, where = found
    body = _stripped(comment.body, where) if route.strip else comment.body
    return Routed(body, route.channel or rules.to_itsm_channel, None, index)


def route_to_jira(
    comment: Comment, rules: CommentRules, default: Visibility | None, on_problem: Callable[[str], None] | None = None
) -> Routed:
    """How an ITSM comment lands in Jira: the first ``rules.to_jira`` match's visibility, else ``default``."""
    found = _first_match(comment, rules.rules.to_jira, "to_jira", on_problem)
    if found is None:
        return Routed(comment.body, "comment", default)
    index, route, where = found
    body = _stripped(comment.body, where) if route.strip else comment.body
    if route.visibility == "public":
        visibility = None
    elif route.visibility is not None:
        visibility = Visibility(route.visibility.type, route.visibility.value)
    else:
        visibility = default
    return Routed(body, "comment", visibility, index)
