"""The existing issues that may belong to records about to be created (adoption's evidence), cheaply.

Before a create the cycle asks Jira which issues carry the records' markers (issue 13: a lost or restored
state store must never make a second issue). That question costs a search per cycle with a create; this
module answers it from the cycle's own change search when that search is known to contain every issue a
restored store could have forgotten:

* the store holds a Jira cursor (not a lost store, not a first run) and the cycle searched from it (no
  ``sync --since``, not a hinted mini-cycle): every issue bridge created after that cursor was updated
  after it (a create is an update), so it is in the search's results, and every issue created before it
  was linked in the same store (a create and its link commit together; a create still pending in the
  journal is reconciled by marker, :meth:`bridge.sync.executor.Executor.reconcile`);
* the search was read to its end, nothing in it left out or unreadable (:mod:`bridge.sync.reading`).

With a carried backlog (:mod:`bridge.sync.carryover`) the Jira search starts from where the last one
reached, not from the stored cursor: the cycle asks :func:`search_covers` with the window that search
really used, so the shortcut applies only when it started at or before the stored Jira cursor — the usual
case, since the Jira cursor moves on with the searches when only ITSM records are left out. The cursor
itself must never move past an issue the shortcut would then miss: one carrying the marker of a record
left out for later, with no link (a restored store). While such a record is carried the Jira cursor
stays (:func:`bridge.sync.carrying.finish`), so the later searches start after it and the marker search
runs for them.

Then a record whose marker none of the search's issues carries has no issue: no marker search. One whose
marker is carried (a restored backup) is looked up as before, so the evidence the planner weighs is the
same. Otherwise (no cursor, a cut search, a connector that keeps no markers) the marker search runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import cast

from bridge.core.state import Partners
from bridge.errors import NotFoundError
from bridge.logging import get_logger
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import matches
from bridge.model import Issue, Item, Record, Ref, Side
from bridge.sync.adoption import back_reference_key, named_key
from bridge.sync.engine import Engine

log = get_logger(__name__)


def search_covers(
    cursor: datetime | None, window: datetime | None, since: datetime | None, *, hinted: bool, complete: bool
) -> bool:
    """True when the Jira change search of this cycle covered everything since the stored cursor.

    ``window``: where the search started; ``complete``: read to its end with nothing left out or unreadable.
    """
    return cursor is not None and window is not None and window <= cursor and since is None and not hinted and complete


def marker_partners(
    engine: Engine, spec: MappingSpec, markers: Sequence[str], fields: Sequence[str], *, covered: bool,
    shown: Collection[str] = (),
) -> dict[str, list[Item]]:
    """The issues carrying each marker: from the change search when it ``covered`` the cursor (see the
    module docstring), else (and for the markers it found, or an earlier search of a carried backlog's chain
    showed: ``shown``) by the marker search."""
    index = engine.jira.markers_in_search() if covered else None
    if index is None:
        return engine.jira.find_by_markers(spec, markers, fields)
    found: dict[str, list[Item]] = {marker: [] for marker in markers}
    carried = [marker for marker in found if index.get(marker) or marker in shown]
    if carried:
        log.info("the change search shows issues carrying markers of records without a link",
                 markers=len(carried))
        found.update(engine.jira.find_by_markers(spec, carried, fields))
    return found


def partner_issues(partners: Partners) -> list[Issue]:
    found = list(partners.by_marker)
    if partners.by_back_reference is not None:
        found.append(partners.by_back_reference)
    return found


def partners_for(
    engine: Engine, spec: MappingSpec, unlinked: Sequence[Record], fields: Sequence[str], *, covered: bool = False,
    chain: Callable[[Sequence[str]], tuple[set[str], set[str]]] | None = None,
) -> dict[str, Partners]:
    """The existing issues that may belong to the records about to be created (adoption).

    ONE batched marker search for all of them (``find_by_markers``; none when the change search
    ``covered`` the cursor and shows none of their markers, or ``chain`` — a carried backlog's searches —
    says its searches did), plus a read of each issue a back-reference
    (or ``link_existing`` field) names that the search did not return. Only records the route selects are
    asked about; without such records this costs nothing. The issue a ``link_existing`` record names is
    read too: its comments prove which of the record's are mirrored already.
    """
    link_existing = spec.links.link_existing
    wanted = [r for r in unlinked if matches(spec.route.where, r.fields) or back_reference_key(r) is not None]
    if not wanted:
        return {}
    tokens = [r.ref.token for r in wanted]
    if covered or chain is None:
        by_marker = marker_partners(engine, spec, tokens, fields, covered=covered)
    else:  # a carried backlog's light search: its chain of searches may answer for the records it watched
        answered, shown = chain(tokens)
        by_marker = marker_partners(engine, spec, [t for t in tokens if t in answered], fields, covered=True,
                                    shown=shown) if answered else {}
        rest = [t for t in tokens if t not in answered]
        if rest:
            by_marker.update(marker_partners(engine, spec, rest, fields, covered=False))
    known: dict[str, Issue] = {}
    for items in by_marker.values():
        for item in items:
            known[item.ref.key] = cast(Issue, item)
    result: dict[str, Partners] = {}
    for record in wanted:
        named: Issue | None = None
        key = named_key(record, link_existing)
        if key is not None:
            named = known.get(key) or _named_issue(engine, key, fields)
            if named is not None:
                known[key] = named
        marked = tuple(cast(Issue, i) for i in by_marker.get(record.ref.token, ()))
        if marked or named is not None:
            result[record.ref.id] = Partners(marked, named)
            log.info("existing issue found for a record without a link", record=record.ref.key,
                     by_marker=[i.ref.key for i in marked], by_back_reference=named.ref.key if named else None)
    return result


def _named_issue(engine: Engine, key: str, fields: Sequence[str]) -> Issue | None:
    """The issue a record names, or ``None`` when it is gone or moved to another project (then it is
    not this record's evidence)."""
    try:
        named = cast(Issue, engine.jira.get(Ref(Side.JIRA, "issue", key, key), fields))
    except NotFoundError:
        return None
    return named if named.ref.key == key else None


__all__ = ["marker_partners", "partner_issues", "partners_for", "search_covers"]
