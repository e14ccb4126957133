"""The Jira side: Cloud (REST v3, ADF) and Data Center (REST v2, wiki markup) behind the connector port.

The package is split by responsibility; :class:`JiraConnector` combines the parts:

* :mod:`.common` — Jira facts and parsers shared by all parts (timestamps, JQL literals, error text);
* :mod:`.transport` — the site's :class:`~bridge.connectors.http.HttpClient` and Jira's error rules;
* :mod:`.fields` — the field catalogue, name → id resolution and value conversion;
* :mod:`.search` — Cloud enhanced search (``nextPageToken``) and DC ``startAt`` paging, the cursor;
* :mod:`.batch` — ``get_many``: the issues a hint or a resync names, one ``id in (…)`` search per chunk;
* :mod:`.comments` — comment reads, the hint cache and comment writes with markers;
* :mod:`.writes` — create, bulk create, updates, labels, the remote link back to the record;
* :mod:`.workflow` — transitions by path finding (:mod:`bridge.connectors.jira_workflow`);
* :mod:`.checks` — the online checks of ``bridge doctor``.

Transport decision: the connector speaks Jira's REST API directly through the shared HTTP layer
(:mod:`bridge.connectors.http`) and no longer uses the ``jira`` library (pycontribs). The library was
only used for its session and URL building, and using those meant reaching into its private attributes
(``_session``, ``_get_url``) and switching off its own retries; every call bridge makes is a plain JSON
request, so the library added a second request path without adding anything the shared client lacks.
The facts the connector relies on, with their public sources, are in docs/connectors/jira.md.
"""

from bridge.connectors.jira.common import (
    MARKER_LABEL_PREFIX,
    MARKER_PROPERTY,
    REQUIRED_PERMISSIONS,
    SYSTEM_FIELDS,
    Deployment,
    jira_message,
    jql_string,
    parse_jira_datetime,
)
from bridge.connectors.jira.connector import JiraConnector

__all__ = [
    "MARKER_LABEL_PREFIX",
    "MARKER_PROPERTY",
    "REQUIRED_PERMISSIONS",
    "SYSTEM_FIELDS",
    "Deployment",
    "JiraConnector",
    "jira_message",
    "jql_string",
    "parse_jira_datetime",
]
