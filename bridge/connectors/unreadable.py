"""Read isolation: one record or issue that cannot be parsed must not stop the whole mapping's cycle.

A connector's ``search_changed`` is a generator: an exception raised while it parses one row ends the
generator, and with it the cycle of every other item of the mapping (issue 15: one unreadable row in
a vendor answer stopped the cycle). So a connector parses each row through :func:`readable`, which turns
a parse failure into an :class:`Unreadable` marker carrying the item's id, key and the reason. The
cycle (:mod:`bridge.sync.cycle`) takes the markers out before planning — the planner never sees one —
and puts each on the error list under the item's key; the other items are synced as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.model import Item, Ref, Side

#: What parsing a vendor's row can raise when the row is not what the connector expects (a missing
#: key, a wrong type, a date in an unknown format). Transport errors are not caught: they concern the
#: whole answer, not one item.
PARSE_ERRORS = (LookupError, ValueError, TypeError, AttributeError)


@dataclass(frozen=True, slots=True)
class Unreadable(Item):
    """A marker in place of an item that could not be parsed; ``reason`` says why (no values)."""

    reason: str = ""


def readable(parse: Callable[[], Item], side: Side, kind: str, raw_id: Any, raw_key: Any = None) -> Item:
    """``parse()``, or an :class:`Unreadable` naming the row when parsing it fails."""
    try:
        return parse()
    except PARSE_ERRORS as exc:
        return unreadable(exc, side, kind, raw_id, raw_key)


def unreadable(exc: BaseException, side: Side, kind: str, raw_id: Any, raw_key: Any = None) -> Unreadable:
    """The marker for a row whose parsing raised ``exc`` (for parsers that return more than an item)."""
    item_id = _text(raw_id) or "?"
    key = _text(raw_key) or item_id
    detail = str(exc)[:200]
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return Unreadable(Ref(side, kind, item_id, key), reason=reason)


def _text(value: Any) -> str:
    """A row's id or key as text, also when the vendor wraps it (ServiceNow's ``{"value": …}``)."""
    if isinstance(value, dict):
        value = value.get("value", value.get("display_value"))
    return "" if value is None else str(value)[:100]
