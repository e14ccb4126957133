"""A vendor-faithful Jira on loopback: Cloud REST v3 or Data Center REST v2, for tests and ``bridge demo``.

It reproduces what breaks naive clients (docs/connectors/jira.md, "What the Jira sandbox reproduces",
lists each behaviour with the public document it follows, and each behaviour's comment in the code names
that document): authentication and Jira's 401 shapes, anonymous fallback, the user's time zone in JQL
literals and timestamps, ``nextPageToken`` paging with the key absent on the last page, ADF-only rich text
on v3, a workflow whose transition ids differ per project and whose "Done" screen requires a resolution,
comment visibility and properties, remote-link upserts by ``globalId``, 429s with Atlassian's headers,
and ErrorCollection bodies everywhere.

Scripting (tests and the demo act "as a person would"): :meth:`JiraSandbox.create_issue`,
:meth:`~JiraSandbox.add_comment`, :meth:`~JiraSandbox.transition`, :meth:`~JiraSandbox.edit_issue`,
:meth:`~JiraSandbox.set_time_zone`, :meth:`~JiraSandbox.snapshot`, … and the same over HTTP under
``/_sandbox/jira/…``. Run it as a process: ``python -m bridge.sandbox.jira --port 8080 --mode cloud
--state-dir DIR``.

Layout, one responsibility a module:

* :mod:`.catalog` — the fixed data: accounts, projects, issue types, fields, statuses, the workflow;
* :mod:`.app` — :class:`~.app.JiraApp`: state, clock, the URL → handler table, auth, error bodies, 429s;
* :mod:`.render` — ADF/wiki text, dates in Jira's format and the viewer's zone, embedded objects;
* :mod:`.metadata` — serverInfo, myself, field, project, issuetype, priority, resolution, mypermissions;
* :mod:`.comments` — comments, their visibility and properties;
* :mod:`.workflow` — transitions;
* :mod:`.fields` — field values in (validation) and out (rendering, ``fields`` selection);
* :mod:`.issues` — get/create/bulk create/edit;
* :mod:`.search` — the JQL search endpoints and paging, over :mod:`.jql` (the JQL subset: grammar and
  evaluation) and :mod:`.jql_lexicon` (tokens, Jira's refusals, date literals);
* :mod:`.remotelinks` — remote links;
* :mod:`.scripting` — the person-like scripting API, in Python and under ``/_sandbox/jira/…``;
* :mod:`.sandbox` — the :class:`JiraSandbox` façade and ``main``.

Why mixins rather than collaborating objects: every responsibility reads and writes the same JSON state
under the same lock and answers through the same error machinery, and :class:`bridge.sandbox.jsm.JsmSandbox`
extends the sandbox by overriding individual methods (``_field_json``, ``_coerce``, ``_build_issue``,
``_project_json``, ``workflow_of``, ``routes``…) with ``super()`` calls. With mixins on one ``self`` those
overrides keep reaching every caller, whichever module the caller lives in; collaborating objects would
need the subclass to replace the collaborators instead and would have to thread the shared state through
each. Each mixin inherits exactly the mixins whose methods it calls (workflow → comments → render → app),
so the dependency graph is explicit and mypy checks every cross-module call.
"""

from bridge.sandbox.jira import jql
from bridge.sandbox.jira.app import (
    INVALID_PAYLOAD,
    NOT_ADF,
    NOT_FOUND_ISSUE,
    NOT_ON_SCREEN,
    ROUTES,
    SEARCH_REMOVED,
    JiraApp,
    _Fail,
    errors,
    fail,
)
from bridge.sandbox.jira.catalog import (
    BRIDGE_EMAIL,
    BRIDGE_PASSWORD,
    BRIDGE_PAT,
    BRIDGE_TOKEN,
    BRIDGE_USERNAME,
    CATEGORIES,
    CREATABLE,
    EDITABLE,
    FIELDS,
    GROUPS,
    ISSUE_TYPES,
    PERMISSIONS,
    PRIORITIES,
    PROJECTS,
    RESOLUTIONS,
    RICH_TEXT_FIELDS,
    ROLES,
    STATUSES,
    USERS,
    WORKFLOW,
    Step,
)
from bridge.sandbox.jira.catalog import user_by as _user_by
from bridge.sandbox.jira.render import adf_to_text, is_adf, text_to_adf
from bridge.sandbox.jira.sandbox import JiraSandbox, main

__all__ = [
    "BRIDGE_EMAIL",
    "BRIDGE_PASSWORD",
    "BRIDGE_PAT",
    "BRIDGE_TOKEN",
    "BRIDGE_USERNAME",
    "CATEGORIES",
    "CREATABLE",
    "EDITABLE",
    "FIELDS",
    "GROUPS",
    "INVALID_PAYLOAD",
    "ISSUE_TYPES",
    "NOT_ADF",
    "NOT_FOUND_ISSUE",
    "NOT_ON_SCREEN",
    "PERMISSIONS",
    "PRIORITIES",
    "PROJECTS",
    "RESOLUTIONS",
    "RICH_TEXT_FIELDS",
    "ROLES",
    "ROUTES",
    "SEARCH_REMOVED",
    "STATUSES",
    "USERS",
    "WORKFLOW",
    "JiraApp",
    "JiraSandbox",
    "Step",
    "_Fail",
    "_user_by",
    "adf_to_text",
    "errors",
    "fail",
    "is_adf",
    "jql",
    "main",
    "text_to_adf",
]
