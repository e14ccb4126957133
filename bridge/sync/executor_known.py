"""What the executor knows of the links it writes to without asking the store again.

An action needs a little of its link besides the remote write: the keys of its items (log fields), the
synced version of the record it writes to (to record the echo of its own write) or the synced status of
the issue it moves, and, for a follow-up of a create, the link the create made. Each used to be a read
of the whole link state (four statements) per action. The cycle hands the executor the link states the
planner loaded, and :meth:`~bridge.store.Store.apply` returns a link it made without a read: this keeps
both, plus what the executor itself changed since, so most actions read nothing before their write.

What may be taken from here, and why it is still true at execution time:

- a link's issue and records: they change only through effects of this executor (a link made, closed,
  moved or forgotten); a link any of those touched is dropped and never taken from the planner again;
- an item's synced *version*: only ``mark_seen`` (the cycle, after the executor ran; the executor's own
  echo, recorded here too) and a new link write it; the planner's acknowledgements never do;
- an issue's synced *status*: only for a link this executor made (its create's answer), updated by every
  synced status this executor writes. The planner's copy is not used: its acknowledgements may have
  changed it since.

Anything not known is read from the store, one narrow statement (:meth:`~bridge.store.Store.synced_marks`).

:class:`OpenErrors` does the same for the error list: a succeeded action resolves the entries of its
journal row and of its slot (:class:`~bridge.core.effects.ResolveErrors`), an update per action that
almost never finds anything. The open entries about actions are read once per run of the executor
(:meth:`~bridge.store.Store.open_action_errors`), and the ones it puts on the list meanwhile are added:
only this executor writes them while it holds the mapping's lock (``bridge retry`` only resolves). The
update is then made only when an open entry can match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bridge.core.effects import Effect, ForgetLink, MarkClosed, MergeSynced, MoveRecord, NewLink, ResolveErrors
from bridge.core.state import LinkState
from bridge.model import Link


class KnownLinks:
    """Links, synced versions and statuses the executor may use without a read (module docstring)."""

    def __init__(self) -> None:
        self._links: dict[int, Link] = {}
        #: links made by a create (or adoption) of this executor, by record id: a follow-up's real issue
        self._made: dict[str, Link] = {}
        self._versions: dict[tuple[int, str], str] = {}
        self._statuses: dict[tuple[int, str], str | None] = {}
        #: links whose shape this executor changed: the planner's copy of them is out of date
        self._changed: set[int] = set()

    def seed(self, states: Iterable[LinkState]) -> None:
        """The link states the planner loaded (after this executor's earlier work, or before it: what this
        executor wrote since wins)."""
        for state in states:
            link_id = state.link.id
            if link_id in self._changed:
                continue
            self._links.setdefault(link_id, state.link)
            for item in (state.issue, *state.records.values()):
                self._versions.setdefault((link_id, item.ref.id), item.version)

    def link(self, link_id: int) -> Link | None:
        return self._links.get(link_id)

    def made_for(self, record_id: str) -> Link | None:
        """The link a create of this executor made for ``record_id``, if one did."""
        return self._made.get(record_id)

    def version(self, link_id: int, item_id: str) -> str | None:
        return self._versions.get((link_id, item_id))

    def status(self, link_id: int, item_id: str) -> tuple[bool, str | None]:
        """``(known, status)`` of an item's synced status."""
        key = (link_id, item_id)
        return (key in self._statuses, self._statuses.get(key))

    def seen(self, link_id: int, item_id: str, version: str) -> None:
        """The executor recorded ``version`` as seen (the echo of its own write)."""
        self._versions[(link_id, item_id)] = version

    def applied(self, effects: Sequence[Effect], link_id: int | None, made: Link | None) -> None:
        """What :meth:`~bridge.store.Store.apply_effects` wrote: to ``link_id``, which it made when ``made``
        is the link (a record that joined an existing link changed that link: it is dropped)."""
        new = next((e for e in effects if isinstance(e, NewLink)), None)
        if made is not None and new is not None:
            self._links[made.id] = made
            self._made[new.record.id] = made
            self._versions[(made.id, new.issue.id)] = new.issue_version
            self._versions[(made.id, new.record.id)] = ""
            self._statuses[(made.id, new.issue.id)] = new.issue_status
            return
        if link_id is None:
            return
        if new is not None or any(isinstance(e, MarkClosed | MoveRecord | ForgetLink) for e in effects):
            self._forget(link_id)
            return
        for effect in effects:
            if isinstance(effect, MergeSynced):
                for synced in effect.updates:
                    key = (link_id, synced.item_id)
                    if synced.status is not None and key in self._statuses:
                        self._statuses[key] = synced.status

    def _forget(self, link_id: int | None) -> None:
        if link_id is None:
            return
        self._changed.add(link_id)
        self._links.pop(link_id, None)
        for key in [k for k in self._versions if k[0] == link_id]:
            del self._versions[key]
        for key in [k for k in self._statuses if k[0] == link_id]:
            del self._statuses[key]
        for record_id in [r for r, link in self._made.items() if link.id == link_id]:
            del self._made[record_id]


class OpenErrors:
    """The open error-list entries about actions, read once per executor run (module docstring)."""

    def __init__(self, load: Callable[[], tuple[set[int], set[str]]]) -> None:
        self._load = load
        self._journal_ids: set[int] | None = None
        self._fingerprints: set[str] = set()

    def reset(self) -> None:
        """Read the list again at the next need (each :meth:`~bridge.sync.executor.Executor.execute` and
        :meth:`~bridge.sync.executor.Executor.reconcile` starts afresh)."""
        self._journal_ids = None

    def added(self, journal_id: int | None, fingerprint: str) -> None:
        """The executor put (or counted again) an entry on the list."""
        if self._journal_ids is None:
            return  # not read yet: the read will include it
        if journal_id is not None:
            self._journal_ids.add(journal_id)
        self._fingerprints.add(fingerprint)

    def needed(self, journal_id: int, effects: Sequence[Effect]) -> tuple[Effect, ...]:
        """``effects`` without a :class:`ResolveErrors` that no open entry can match."""
        if self._journal_ids is None:
            self._journal_ids, self._fingerprints = self._load()
        return tuple(
            e for e in effects
            if not isinstance(e, ResolveErrors)
            or journal_id in self._journal_ids
            or (e.slot is not None and f"journal:{e.slot}" in self._fingerprints)
        )


__all__ = ["KnownLinks", "OpenErrors"]
