"""The connector port: the one small interface every vendor adapter implements.

Connectors are the only code that speaks HTTP. Each one turns vendor JSON into :mod:`bridge.model`
values (plain text, normalised field values, aware UTC timestamps) and back, compiles a mapping's
route into its native query language, and raises only :mod:`bridge.errors` exceptions.

The cost rules the engine relies on (and the contract suite in ``tests/contract/`` checks):

* :meth:`Connector.search_changed` is ONE paginated query per mapping — never one call per linked item.
  An idle cycle therefore costs one search per side per mapping, whatever the number of links.
* :meth:`Connector.comments_since` takes every changed item of a cycle at once; adapters batch where the
  vendor allows (ServiceNow reads ``sys_journal_field`` with ``element_idIN…``), and fall back to one
  read per item otherwise. It is only ever called for items that changed.
* Every HTTP request is counted in :attr:`Connector.calls`, per endpoint, so cycles report their cost.

The same port serves both sides. An ITSM adapter cannot create records (bridge escalates records into
Jira, never the other way), so its :meth:`create` raises :class:`~bridge.errors.PermanentError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from bridge.callcount import CallCounter  # also imported from here by the adapters
from bridge.core.attachments import Attachment
from bridge.errors import ConnectorError, NotFoundError, PermanentError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, FieldValue, Item, Marker, Ref, Side, Visibility


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """Everything needed to create a Jira issue for a record in ONE request.

    ``fields`` are normalised values keyed by Jira field id or name (``summary``, ``priority``,
    ``customfield_10050``, ``Customer Impact``); the adapter resolves names and converts plain text to
    ADF or wiki markup. ``marker`` is the record's :attr:`Ref.token`; the adapter stores it in a
    JQL-searchable place (label, or ``marker_field``) so :meth:`Connector.find_by_marker` finds the
    issue again after a crash between the create and the journal commit.
    """

    project: str
    issue_type: str
    fields: Mapping[str, FieldValue]
    marker: str
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    marker_field: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of ``bridge check --online`` / ``bridge doctor``: ✔ or ✖, what, and how to fix it."""

    ok: bool
    what: str
    hint: str | None = None


class Connector(ABC):
    """One side of the bridge. See the module docstring for the cost rules."""

    side: Side
    #: short vendor name used in logs, metrics and attributions: "jira", "servicenow", "rt", "memory"
    name: str
    #: what people call this system in attributions: "Jira", "ServiceNow", "Request Tracker"
    display_name: str

    def __init__(self) -> None:
        self.calls = CallCounter()

    # ----------------------------------------------------------------------------------- reading

    @abstractmethod
    def search_changed(
        self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]
    ) -> Iterator[Item]:
        """Items of ``mapping`` updated at or after ``since`` (all of them when ``None``), oldest first.

        ITSM side: the records the mapping's route selects, its conditions compiled into the native
        query where possible and the rest filtered locally. Jira side: the issues of the mapping's
        project that carry its ``links.jira_label``. ONE paginated query. ``since`` is a UTC instant; the
        adapter converts it to the vendor's precision and zone and errs on the early side (it may
        return items slightly older than ``since``; it must never miss one). ``fields`` names the
        fields to fetch into :attr:`Item.fields`.
        """

    @abstractmethod
    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        """Read one item now. Raises :class:`~bridge.errors.NotFoundError`."""

    def get_many(self, refs: Sequence[Ref], fields: Sequence[str]) -> list[Item]:
        """Read several items now, by id (a hinted mini-cycle's one read per side); items not found are left
        out. Adapters whose vendor reads several ids in one query override this; the default reads each."""
        found: list[Item] = []
        for ref in refs:
            try:
                found.append(self.get(ref, fields))
            except NotFoundError:
                continue
        return found

    @abstractmethod
    def comments_since(
        self, refs: Sequence[Ref], since: datetime | None
    ) -> dict[str, list[Comment]]:
        """Comments/journal entries on each of ``refs`` created at or after ``since``, oldest first.

        Keyed by :attr:`Ref.id`; every ref is present (with an empty list when it has none). The
        adapter must parse bridge's :class:`~bridge.model.Marker` out of comments bridge wrote.
        """

    @abstractmethod
    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        """The item carrying ``marker`` (a :attr:`Ref.token`), or ``None``.

        Jira side: the issue with that label (or ``links.jira_marker_field`` value), found by JQL.
        ITSM side: the record whose back-reference field holds ``marker`` (a Jira key).
        Used only to reconcile a create or back-reference that crashed before its journal commit.
        """

    #: how many markers :meth:`find_by_markers` puts in one query (JQL and URL length stay bounded)
    marker_batch_size: int = 50

    def find_by_markers(
        self, mapping: MappingSpec, markers: Sequence[str], fields: Sequence[str]
    ) -> dict[str, list[Item]]:
        """Every item carrying one of ``markers``, by marker (each marker present, maybe with ``[]``).

        The batched form of :meth:`find_by_marker`, for adoption: before creating issues for the records
        of a cycle that have no stored link, the cycle asks once for all of them (Jira: ``labels in
        (…)``, chunked by :attr:`marker_batch_size`), so a lost state store never duplicates an issue.
        ``fields`` are read into each item as in :meth:`search_changed`. Two items for one marker are
        both returned: the caller reports that, never guesses. This default asks one marker at a time.
        """
        found: dict[str, list[Item]] = {marker: [] for marker in markers}
        for marker in found:
            item = self.find_by_marker(mapping, marker)
            if item is not None:
                found[marker].append(self.get(item.ref, fields))
        return found

    def markers_in_search(self) -> Mapping[str, Sequence[str]] | None:
        """The markers carried by the items of this connector's last change search, read to its end
        (marker → item ids), or ``None`` when it keeps none. The cycle answers the marker check before a
        create from it when that search covered everything since a stored cursor (:mod:`bridge.sync.partners`)."""
        return None

    @abstractmethod
    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        """The comment on ``ref`` that carries ``marker``, or ``None`` (crash reconciliation)."""

    # ----------------------------------------------------------------------------------- writing

    @abstractmethod
    def create(self, spec: CreateSpec) -> Item:
        """Create a Jira issue in one request and return it (ITSM adapters raise PermanentError)."""

    #: how many creates :meth:`create_many` sends in one request (1: the vendor has no bulk create)
    create_batch_size: int = 1

    def create_many(self, specs: Sequence[CreateSpec]) -> list[Item | ConnectorError]:
        """Create several issues; one result per spec, in order: the issue, or the error of that spec alone.

        Adapters whose vendor has a bulk create (Jira ``POST /issue/bulk``, 50 per request) override this
        and set :attr:`create_batch_size`. This default loops :meth:`create`. An element refused for
        its own reason (:class:`PermanentError`, :class:`NotFoundError`) does not stop the others; any
        other failure (transient, authentication) is given to that element and to every element not yet
        tried, because the same answer would come back for them.
        """
        results: list[Item | ConnectorError] = []
        for index, spec in enumerate(specs):
            try:
                results.append(self.create(spec))
            except (PermanentError, NotFoundError) as exc:
                results.append(exc)
            except ConnectorError as exc:
                results.extend([exc] * (len(specs) - index))
                break
        return results

    @abstractmethod
    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        """Write normalised ``values`` to the item in one request."""

    @abstractmethod
    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        """Move the item to ``status`` with ``fields`` in the same write.

        Jira: find a path through the transitions the workflow offers from the current status (breadth
        first, fewest steps), send ``fields`` (e.g. ``resolution``) on the transition whose screen
        needs them; raise :class:`~bridge.errors.WorkflowError` when no path exists. ITSM: one write of
        the state together with the fields the state demands (close code and notes), then confirm the
        state took (ServiceNow change models and RT may refuse quietly) or raise PermanentError.
        """

    def written_version(self, ref: Ref, before: str) -> tuple[str, datetime] | None:
        """The version (and its time) ``ref`` has after this connector's last write to it, when that write is
        provably the only change since version ``before``; the executor records it, so the next cycle does
        not read bridge's own echo. ``None`` (the default) when the vendor's answer cannot prove it."""
        return None

    def note_status(self, ref: Ref, status: str, item_type: str) -> None:
        """Where bridge last synced ``ref``'s status (``item_type``: its issue type) before a set_status;
        a connector that can start a move from there saves a read (Jira), the others ignore it."""

    @abstractmethod
    def add_comment(
        self,
        ref: Ref,
        body: str,
        *,
        channel: str,
        marker: Marker,
        visibility: Visibility | None = None,
    ) -> Comment:
        """Add a comment (plain text; the adapter converts and escapes) carrying ``marker``.

        ``channel`` is the ITSM journal to write to (``work_notes``/``comments``, RT
        ``comment``/``correspond``) or ``comment`` on Jira. ``visibility`` restricts a Jira comment.
        Returns the created comment with its vendor id.
        """

    def edit_labels(
        self,
        ref: Ref,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        values: Mapping[str, FieldValue] | None = None,
    ) -> None:
        """Add and remove single labels of an issue, and write ``values``, in one request.

        Unlike ``update_fields(ref, {"labels": …})`` this can take a label away, and it never sends the
        whole label set, so labels people put on the issue meanwhile survive (Jira's edit verbs
        ``update: {"labels": [{"add": …}, {"remove": …}]}``). Adding a label the issue has, or removing
        one it lacks, changes nothing. Used to mark an issue that ``link_existing`` records fan into.
        Only Jira has labels: the default refuses, and ITSM adapters never receive this call.
        """
        raise PermanentError(f"{self.display_name} items have no labels to edit", side=self.side.value)

    def link_issues(self, ref: Ref, other: Ref, link_type: str) -> None:
        """Link issue ``ref`` to issue ``other`` with the Jira issue link type ``link_type`` (``Duplicate``:
        ``ref`` duplicates ``other``). Only Jira has issue links: the default refuses."""
        raise PermanentError(f"{self.display_name} items have no issue links", side=self.side.value)

    @abstractmethod
    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        """Make ``ref`` point at ``other``.

        ITSM side: write ``values`` (the Jira key and URL into the mapping's link fields) in one request.
        Jira side: upsert a remote link to the record ``other`` with a ``globalId`` derived from it, so
        repeating it never duplicates (``values`` may carry ``title``/``summary``/``resolved``).
        """

    # ------------------------------------------------------------------------------- attachments

    #: the biggest file the vendor accepts in one upload (bytes), ``None`` when it sets no limit of its own
    max_upload_size: int | None = None

    def list_attachments(self, ref: Ref, since: datetime | None = None) -> list[Attachment]:
        """The files on ``ref`` added at or after ``since`` (all when ``None``), oldest first.

        Those that came with a comment or transaction name it in :attr:`Attachment.comment_id`. One
        request per item where the vendor allows (ServiceNow ``sys_attachment`` by ``table_sys_id``,
        Jira's ``attachment`` field, RT's ``/ticket/{id}/attachments``). The default: no attachments API.
        """
        raise PermanentError(f"bridge cannot read files on {self.display_name}", side=self.side.value)

    def attachment_parents_since(self, mapping: MappingSpec, since: datetime) -> list[str]:
        """Ids of the items of ``mapping``'s record type that got a file at or after ``since``, for a vendor
        whose items do not change when a file is added (ServiceNow: one ``sys_attachment`` query per
        cycle). The default is none: on Jira and Request Tracker a new file changes its item, so the
        change search already finds it."""
        return []

    def download_attachment(self, attachment: Attachment, into: BinaryIO) -> int:
        """Write the bytes of ``attachment`` into ``into`` as they arrive (never the whole file in memory);
        returns the number of bytes written."""
        raise PermanentError(f"bridge cannot read files on {self.display_name}", side=self.side.value)

    def upload_attachment(
        self, ref: Ref, path: Path, *, filename: str, mime_type: str, marker: Marker
    ) -> Attachment:
        """Put the file at ``path`` on ``ref`` as ``filename`` (streamed from disk) and return it as listed.

        ``marker`` names the origin file: a vendor whose upload is a journal entry (RT's comment with
        ``Attachments``) carries it there, so the file is recognised as bridge's and never mirrored back.
        A file the vendor refuses for its size raises :class:`~bridge.errors.PermanentError` (no retry).
        """
        raise PermanentError(f"bridge cannot write files on {self.display_name}", side=self.side.value)

    # ------------------------------------------------------------------------------- diagnostics

    @abstractmethod
    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        """Online checks for ``bridge doctor``: reachable, authenticated, and that what the mappings
        name exists (projects, issue types, fields, statuses; tables, fields, states)."""

    def close(self) -> None:
        """Release sessions and sockets. Safe to call twice."""
