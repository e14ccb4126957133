"""Request Tracker 5 adapter: a small REST2 client on the shared :class:`~bridge.connectors.http.HttpClient`.

Why not the PyPI ``rt`` package: it brings its own HTTP stack (so no shared budget, retry or call
counting) and has open REST2 bugs; REST2 is small enough to speak directly.

How the port maps onto RT (details and traps in ``docs/connectors/rt.md``, "What bridge does about RT's traps"):

* A mapping's ``route.record_type`` is the **queue** name. Its conditions compile into a TicketSQL
  pre-filter (:mod:`bridge.connectors.rt_query`) and are re-checked locally, so TicketSQL's looser
  semantics can only widen the search, never change the result.
* :meth:`RTConnector.search_changed` is ONE paginated ``GET /tickets?query=…`` ordered by
  ``LastUpdated``. ``LastUpdated`` has one-second precision, so two updates in one second would share it;
  the version is therefore ``LastUpdated`` plus a digest of a fixed set of ticket fields (status,
  subject, owner, priority, dates incl. ``Told``, requestors, every custom field) fetched in the same
  call — a second same-second change to any of them changes the version at no extra cost. (A comment
  alone changes none of them; see "Limits" in ``docs/connectors/rt.md``.)
* Comments are the ticket transactions of type ``Comment`` (internal) and ``Correspond`` (to the
  requestor). Transactions carry no text in REST2 (``Content`` is always ``""``); the text lives in their
  attachments. :meth:`RTConnector.comments_since` reads them for *all* changed tickets with one
  TransactionSQL search plus one attachments search (``TransactionId IN …``), not one call per ticket,
  and takes the message body, never an attached file (:mod:`bridge.connectors.rt.content`).
* Bridge writes comments with its :class:`~bridge.model.Marker` as the final line and parses it back.
* Every write's answer (a 200/201 with a message list) is read: RT says "…isn't a valid status…" with
  a 200. Refusals raise :class:`~bridge.errors.PermanentError` (:class:`~bridge.errors.WorkflowError` for
  status); "already so" is a no-op success.
"""

from __future__ import annotations

from bridge.connectors.rt.attachments import RTAttachments
from bridge.connectors.rt.checks import RTChecks
from bridge.connectors.rt.client import (
    BASE_FIELDS,
    CHANNELS,
    COMMENT_TYPES,
    IDS_PER_QUERY,
    LINK_FIELDS,
    MAX_PER_PAGE,
    MAX_REPAIR_PASSES,
    VERSION_FIELDS,
    RTClient,
)
from bridge.connectors.rt.reading import RTReading
from bridge.connectors.rt.writing import RTWriting
from bridge.model import Side


class RTConnector(RTChecks, RTWriting, RTReading, RTAttachments):
    """The ITSM side on Request Tracker 5 (REST2). See the module docstring.

    One class for callers; its halves live in :mod:`.client` (HTTP, paging), :mod:`.reading`,
    :mod:`.writing` and :mod:`.checks`, so each stays small enough to read in one sitting.
    """

    side = Side.ITSM
    name = "rt"
    display_name = "Request Tracker"


__all__ = [
    "BASE_FIELDS",
    "CHANNELS",
    "COMMENT_TYPES",
    "IDS_PER_QUERY",
    "LINK_FIELDS",
    "MAX_PER_PAGE",
    "MAX_REPAIR_PASSES",
    "VERSION_FIELDS",
    "RTChecks",
    "RTClient",
    "RTConnector",
    "RTReading",
    "RTWriting",
]
