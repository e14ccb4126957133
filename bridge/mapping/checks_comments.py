"""Checks of a mapping's ``comments:`` block against its system's comment channels (vendor facts).

Apart from :mod:`bridge.mapping.checks` because comment routing (``comments.rules``) adds its own checks:
every channel a rule routes to must exist, like ``to_itsm_channel``.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from bridge.mapping import catalog
from bridge.mapping.checks_across import SYSTEM_NAMES as _SYSTEM_NAMES
from bridge.mapping.schema import Mapping
from bridge.vendors import jsm as jsm_facts
from bridge.vendors import rt as rt_facts
from bridge.vendors import servicenow as sn_facts
from bridge.vendors.facts import Channel, System

if TYPE_CHECKING:
    from bridge.mapping.checks import _Reporter

__all__ = ["CHANNELS", "DEFAULT_CHANNEL", "check_comments"]


CHANNELS: dict[System, tuple[Channel, ...]] = {
    "servicenow": sn_facts.JOURNALS, "rt": rt_facts.CHANNELS, "jsm": jsm_facts.CHANNELS,
}
"""The comment channels of each system, from the vendor facts (the mapping's defaults are ServiceNow's)."""
DEFAULT_CHANNEL: dict[System, str] = {
    "servicenow": sn_facts.DEFAULT_CHANNEL, "rt": rt_facts.DEFAULT_CHANNEL, "jsm": jsm_facts.DEFAULT_CHANNEL,
}
_CHANNEL_KIND = {"servicenow": "journal", "rt": "comment channel", "jsm": "comment channel"}


def _describe_channels(system: System) -> str:
    default = DEFAULT_CHANNEL[system]
    return " or ".join(
        f"`{c.name}` ({'visible to the caller' if c.customer_visible else 'internal'}"
        + (", the default)" if c.name == default else ")")
        for c in CHANNELS[system]
    )


def check_comments(reporter: _Reporter, mapping: Mapping) -> None:
    """Every channel a comment is written to or read from exists on the mapping's system.

    ``comments:`` defaults to ServiceNow's journals; an RT or JSM mapping that leaves them out would fail
    every mirrored comment, so the hint names the block to write.
    """
    system = catalog.system_of(mapping.route.record_type, mapping.route.system)
    rules = mapping.comments
    if rules.direction == "none":
        return
    channels = CHANNELS[system]
    names = [c.name for c in channels]
    kind = _CHANNEL_KIND[system]
    label = _SYSTEM_NAMES[system]
    if "comments" not in mapping.model_fields_set:
        defaults = "without a `comments:` block a mapping takes ServiceNow's journals; "
    else:
        defaults = ""
    example = (
        f"`comments: {{to_itsm_channel: {DEFAULT_CHANNEL[system]}, from_itsm_channels: [{', '.join(names)}]}}`"
    )
    if rules.direction in ("both", "to_itsm") and rules.to_itsm_channel not in names:
        reporter.add(
            ("comments", "to_itsm_channel"),
            f"`{rules.to_itsm_channel}` is not a {label} {kind}: every Jira comment would fail to post",
            defaults + f"use {_describe_channels(system)}"
            + (f", e.g. {example}" if system != "servicenow" else ""),
        )
    if rules.direction in ("both", "to_jira"):
        for index, channel in enumerate(rules.from_itsm_channels):
            if channel not in names:
                close = difflib.get_close_matches(channel, names, n=1, cutoff=0.6)
                reporter.add(
                    ("comments", "from_itsm_channels", index),
                    f"`{channel}` is not a {label} {kind}",
                    (f"did you mean `{close[0]}`? " if close else "") + defaults
                    + f"{label} {kind}s: {', '.join(names)}"
                    + (f", e.g. {example}" if system != "servicenow" else ""),
                )
    if rules.direction in ("both", "to_itsm"):
        for index, route in enumerate(rules.rules.to_itsm):
            if route.channel is not None and route.channel not in names:
                close = difflib.get_close_matches(route.channel, names, n=1, cutoff=0.6)
                reporter.add(
                    ("comments", "rules", "to_itsm", index, "channel"),
                    f"`{route.channel}` is not a {label} {kind}: every Jira comment this rule matches would fail",
                    (f"did you mean `{close[0]}`? " if close else "") + f"use {_describe_channels(system)}",
                )
    for index, route in enumerate(rules.rules.to_jira):
        if route.channel is not None and route.channel != "comment":
            reporter.add(
                ("comments", "rules", "to_jira", index, "channel"),
                f"`{route.channel}` is not a Jira comment channel: Jira has one, `comment`",
                "say who may read it with `visibility:` ({type: role, value: Developers} or public)",
            )
