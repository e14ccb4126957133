"""The shapes every vendor module fills in: states with their write rules, comment channels, text limits.

Kept apart from the vendor modules so the mapping checks, the connectors, the in-memory fakes and the
sandboxes can all take the same objects without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

System = Literal["servicenow", "rt", "jsm"]
Markup = Literal["plain", "adf", "wiki"]


@dataclass(frozen=True)
class StateTable:
    """The states of one record type, by value, with the fields a write to each of them needs."""

    names: dict[str, str]
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Fields the ITSM refuses a write to that state without (an error when missing)."""
    recommends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Fields a write to that state should carry (a warning when missing)."""

    def label(self, state: str) -> str:
        name = self.names.get(state)
        return f"{state} ({name})" if name else state

    def describe(self) -> str:
        return ", ".join(self.label(s) for s in self.names)

    def missing(self, state: str, values: Mapping[str, Any] | None) -> list[str]:
        """The required fields of ``state`` that ``values`` leaves empty (what the vendor refuses)."""
        given = values or {}
        return [f for f in self.requires.get(state, ()) if not str(given.get(f) or "").strip()]


@dataclass(frozen=True)
class Channel:
    """One way to add a comment to a record, and whether the record's customer can read it."""

    name: str
    customer_visible: bool
    label: str


@dataclass(frozen=True)
class TextLimits:
    """Longest text a vendor stores, in characters; ``None`` where it documents no limit."""

    summary: int | None
    rich_text: int | None
    comment: int | None


def channel_names(channels: tuple[Channel, ...]) -> tuple[str, ...]:
    return tuple(c.name for c in channels)


def is_internal(channels: tuple[Channel, ...], name: str) -> bool:
    """Whether a comment on channel ``name`` stays with agents (unknown channels count as internal)."""
    return not any(c.name == name and c.customer_visible for c in channels)
