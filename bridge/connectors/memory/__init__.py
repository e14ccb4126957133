"""In-memory connectors that behave like the vendors where it matters, with a scripting API for tests.

:class:`MemoryItsm` (ServiceNow-like, side ITSM) and :class:`MemoryJira` (Jira Cloud-like, side JIRA)
implement the full :class:`~bridge.connectors.base.Connector` port without any I/O. They are what the
engine's tests, the property/state-machine tests and the contract suite run against, so they reproduce
the vendor behaviours that break naive sync code:

* **Precision of "updated".** ITSM timestamps have second precision (``sys_updated_on``); Jira's
  change query compares at MINUTE precision (JQL ``updated >= "yyyy/MM/dd HH:mm"``), so
  ``search_changed(since=X)`` on Jira returns every issue with ``updated >= floor_to_minute(X)`` — items
  older than the cursor come back, and a connector or cycle must de-duplicate by ``(id, version)``.
* **Pagination.** Each page of ``search_changed`` is one counted call (``page_size``, default 50), so tests
  can prove a search is ONE paginated query. Order is oldest first, then by id.
* **Workflows and data policies.** Jira statuses follow a workflow graph (below); ``set_status`` walks
  the shortest path, one ``GET …/transitions`` + ``POST …/transitions`` per step; the transition into
  a ``done`` status needs ``resolution`` (else :class:`~bridge.errors.WorkflowError`, Jira's 400 "Field
  Resolution is required."); fields are sent on the final step only, and a ``resolution`` on a step
  whose target is not done is refused like Jira's "not on the appropriate screen". Leaving a done status
  clears the resolution. ITSM: resolving/closing an incident (state 6/7) or closing a change (3) without
  ``close_code`` and ``close_notes`` is refused with :class:`~bridge.errors.PermanentError` (ServiceNow's
  403 "Data Policy Exception"); incident On Hold (3) needs ``hold_reason``. Setting the status an item
  already has is a no-op (no write).
* **Values.** ITSM values are strings, like ServiceNow's JSON (``None`` → ``""``, ``True`` → ``"true"``,
  a list → comma-joined). Jira values are kept normalised as given.
* **Markers.** ITSM keeps the marker as the last line of the journal entry text (``[bridge:jira:123]``),
  as the ServiceNow adapter must; Jira keeps it in a comment property (``bridge.marker``), invisible in
  the body. Both give it back parsed in :attr:`Comment.marker` with a body free of it.
* **Journal writes bump the parent.** Adding an ITSM comment advances the record's ``updated`` and
  ``sys_mod_count``; a Jira comment advances the issue's ``updated``.

Every operation is counted in :attr:`calls` under the vendor's endpoint template (e.g.
``"POST /rest/api/3/issue"``, ``"PATCH /api/now/table/{table}/{sys_id}"``).

Time is injectable: pass ``clock=`` (any ``Callable[[], datetime]``); :class:`ManualClock` is a clock
tests move by hand (``clock.advance(seconds=90)``).

Scripting API (acting as a person; not part of the port)
=======================================================
ITSM: ``create_record(record_type, fields, state=…, key=…, author=…) -> Ref``, ``edit(ref, **fields)``,
``set_state(ref, state, **fields)``, ``comment(ref, body, channel="work_notes", author="Jane Doe")``,
``records()``, ``record(ref)``, ``comments(ref)``. Jira: ``create_issue(project, issue_type, summary,
fields=…, labels=…, status=…) -> Ref``, ``edit(key, **fields)``, ``transition_to(key, status,
resolution=…)`` (a person may jump to any status, like an admin editing the workflow), ``comment(key,
body, author=…, visibility=…)``, ``issues()``, ``issue(key)``, ``comments(key)``, ``remote_links(key)``.
Both: ``attach(ref, filename, content, mime_type=…)`` and ``files(ref)`` (files with their bytes;
see :mod:`bridge.connectors.memory.attachments`). ``ref`` arguments accept a :class:`Ref`, an id or a key.
``snapshot()`` returns a deep copy of the whole state so tests can compare before/after.

Fault injection (for the engine's crash and retry tests)
========================================================
* ``fail_next(operation, error, times=1)``: the next ``times`` calls of the port method named
  ``operation`` (``"create"``, ``"update_fields"``, ``"set_status"``, ``"add_comment"``,
  ``"write_back_reference"``, ``"search_changed"``, ``"get"``, ``"comments_since"``, ``"find_by_marker"``,
  ``"find_comment_by_marker"``, ``"list_attachments"``, ``"download_attachment"``, ``"upload_attachment"``)
  raise ``error`` BEFORE anything changes (a refused or lost request).
* ``after_write``: an optional ``Callable[[str, Ref], None]`` called after every successful remote write
  with the operation name and the item written, before the method returns. If it raises, the write has
  happened but the caller never learns it — a process dying between the remote write and the journal
  commit. ``crash_after_next_write(operation=None)`` arms a one-shot :class:`SimulatedCrash` for the next
  write (of that operation, or of any).
"""

from __future__ import annotations

from bridge.connectors.memory.core import (
    INTEGRATION_USER,
    MARKER_PROPERTY,
    Clock,
    ManualClock,
    MemoryConnector,
    SimulatedCrash,
    floor_to_milli,
    floor_to_minute,
    floor_to_second,
)
from bridge.connectors.memory.itsm import CHANGE_CLOSED_STATES, INCIDENT_CLOSED_STATES, KEY_PREFIXES, MemoryItsm
from bridge.connectors.memory.jira import DEFAULT_CATEGORIES, DEFAULT_WORKFLOW, MAX_COMMENT_LENGTH, MemoryJira

__all__ = [
    "CHANGE_CLOSED_STATES",
    "DEFAULT_CATEGORIES",
    "DEFAULT_WORKFLOW",
    "INCIDENT_CLOSED_STATES",
    "INTEGRATION_USER",
    "KEY_PREFIXES",
    "MARKER_PROPERTY",
    "MAX_COMMENT_LENGTH",
    "Clock",
    "ManualClock",
    "MemoryConnector",
    "MemoryItsm",
    "MemoryJira",
    "SimulatedCrash",
    "floor_to_milli",
    "floor_to_minute",
    "floor_to_second",
]
