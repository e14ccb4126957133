"""What a :class:`~bridge.core.actions.MarkLinked` must change on an issue, decided from what it shows now.

Pure, so the executor's write and its crash reconciliation take the same decision: when the issue
already carries the label, the ``<prefix><count>`` label (and no other ``<prefix>N``) and the count in
the count field, there is nothing to write — a replay after a crash, or a mark overtaken by a later one
with the same count, writes nothing. Labels are only ever added or removed one by one, never replaced,
because people label issues too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.core.actions import MarkLinked
from bridge.model import FieldValue


@dataclass(frozen=True, slots=True)
class LabelEdit:
    """Arguments of :meth:`~bridge.connectors.base.Connector.edit_labels`."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    values: Mapping[str, FieldValue] = field(default_factory=dict)


def fields_to_read(action: MarkLinked) -> list[str]:
    """The issue fields :func:`label_edit` needs."""
    return ["labels", *([action.count_field] if action.count_field else [])]


def _same_number(current: FieldValue, count: int) -> bool:
    if isinstance(current, bool) or not isinstance(current, int | float | str):
        return False
    try:
        return float(current) == count
    except ValueError:
        return False


def label_edit(action: MarkLinked, current: Mapping[str, FieldValue]) -> LabelEdit | None:
    """The edit that makes the issue (whose fields are ``current``) show ``action``; ``None`` if it does.

    ``action.count`` must be filled in (the executor does) whenever a count option is set.
    """
    raw = current.get("labels")
    labels = [str(x) for x in raw] if isinstance(raw, tuple | list) else ([str(raw)] if raw else [])
    wanted = [action.jira_label]
    remove: list[str] = []
    values: dict[str, FieldValue] = {}
    if action.count_label_prefix and action.count is not None:
        own = re.compile(re.escape(action.count_label_prefix) + r"[0-9]+")
        label = f"{action.count_label_prefix}{action.count}"
        wanted.append(label)
        remove = [x for x in labels if own.fullmatch(x) and x != label]
    count_field, count = action.count_field, action.count
    if count_field and count is not None and not _same_number(current.get(count_field), count):
        values[count_field] = count
    add = [x for x in dict.fromkeys(wanted) if x not in labels]
    if not add and not remove and not values:
        return None
    return LabelEdit(tuple(add), tuple(remove), values)


__all__ = ["LabelEdit", "fields_to_read", "label_edit"]
