"""The Jira side: Cloud (REST v3, ADF) and Data Center (REST v2, wiki markup) behind the connector port.

Built on the ``jira`` library (pycontribs) for its session, URL building and error parsing, with every
request going through bridge's own layers instead of the library's (LIBRARY_NOTES "jira"):

* the library's retries are off (``max_retries=0``) and a timeout is always set; calls run under
  :func:`~bridge.connectors.http.call_with_retry`, which honours ``Retry-After`` in seconds or as an
  HTTP-date; writes Jira would apply twice (create, comment) are only repeated when Jira certainly did
  not process them (429, connection refused) — otherwise the executor reconciles by marker first;
* :class:`~bridge.connectors.http.BudgetAdapter` on the library's session spends the rate budget and
  counts every request per endpoint in :attr:`calls`;
* ``JIRAError``/requests exceptions become :mod:`bridge.errors` exceptions carrying Jira's own
  ``errorMessages``/``errors`` text — never a header, a body or the token.

The traps this adapter exists to avoid (VENDOR_API_NOTES §1–§9):

* JQL date literals have minute precision and are read in the *account's* time zone: the cursor is
  converted to the zone read once from ``/myself``, floored to the minute and moved back by an overlap;
  results are de-duplicated by ``(id, updated)``.
* Cloud search pages with ``nextPageToken`` (absent on the last page) and may return short pages; DC
  pages with ``startAt``/``total``.
* Transition ids differ per workflow: statuses are reached by path finding over the transitions Jira
  offers (:mod:`bridge.connectors.jira_workflow`), screen fields such as ``resolution`` are sent only on
  the transition whose screen has them.
* Rich text is ADF on Cloud and wiki markup on DC; record text is converted literally
  (:mod:`bridge.connectors.jira_text`), so it can never inject markup.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr

from bridge.connectors.base import CheckResult, Connector, CreateSpec
from bridge.connectors.http import (
    USER_AGENT,
    BudgetAdapter,
    HttpOptions,
    TokenBucket,
    call_with_retry,
    error_for,
    never_sent,
    plain_message,
)
from bridge.connectors.jira_text import adf_to_text, text_to_adf, text_to_wiki, wiki_to_text
from bridge.connectors.jira_workflow import Edge, WorkflowGraph
from bridge.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    NotSentError,
    PermanentError,
    RateLimitedError,
    TransientError,
    WorkflowError,
)
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Comment, FieldValue, Issue, Item, Marker, Ref, Side, Visibility, normalise

if TYPE_CHECKING:
    from bridge.settings import JiraSettings

Deployment = Literal["cloud", "datacenter"]

#: The comment property bridge stores its marker in (invisible in the Jira UI, readable with
#: ``expand=properties``; Cloud and DC both accept ``properties`` on POST comment — pycontribs#313/#1011).
MARKER_PROPERTY = "bridge.origin"
#: Label prefix of the record marker token (``Ref.token`` of an ITSM record).
MARKER_LABEL_PREFIX = "itsm-"
#: Permissions the account needs in each mapped project (docs/connectors/jira.md explains each).
REQUIRED_PERMISSIONS = (
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
    "LINK_ISSUES",
)
_BASE_FIELDS = ("status", "updated", "labels")
#: Jira's system fields and their schemas (the same on every site, Cloud and DC: OpenAPI v3 getFields).
SYSTEM_FIELDS: dict[str, dict[str, str]] = {
    "summary": {"type": "string"},
    "description": {"type": "string"},
    "environment": {"type": "string"},
    "labels": {"type": "array", "items": "string"},
    "components": {"type": "array", "items": "component"},
    "fixVersions": {"type": "array", "items": "version"},
    "versions": {"type": "array", "items": "version"},
    "priority": {"type": "priority"},
    "resolution": {"type": "resolution"},
    "status": {"type": "status"},
    "issuetype": {"type": "issuetype"},
    "project": {"type": "project"},
    "assignee": {"type": "user"},
    "reporter": {"type": "user"},
    "creator": {"type": "user"},
    "duedate": {"type": "date"},
    "created": {"type": "datetime"},
    "updated": {"type": "datetime"},
    "resolutiondate": {"type": "datetime"},
}
_RICH_TEXT_SYSTEM = {"description", "environment"}
_SERVICENOW_TABLES = {
    "incident",
    "change_request",
    "problem",
    "sc_req_item",
    "sc_task",
    "sc_request",
    "task",
    "incident_task",
    "change_task",
    "problem_task",
    "sn_customerservice_case",
}


def parse_jira_datetime(value: str) -> datetime:
    """Jira's ``2024-01-02T03:04:05.000+0100`` (millis optional, offset with or without colon) → aware UTC."""
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a Jira timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"Jira timestamp without offset: {value!r}")
    return parsed.astimezone(UTC)


def jira_message(response: requests.Response) -> str | None:
    """Jira's ErrorCollection (``errorMessages`` + ``errors`` by field) as one line; plain text otherwise."""
    try:
        data = response.json()
    except ValueError:
        return plain_message(response)
    if not isinstance(data, dict):
        return plain_message(response)
    messages = [str(m) for m in data.get("errorMessages") or [] if m]
    errors = data.get("errors")
    if isinstance(errors, dict):
        messages += [f"{field}: {text}" for field, text in errors.items()]
    for key in ("message", "errorMessage"):
        if isinstance(data.get(key), str) and data[key]:
            messages.append(data[key])
    return "; ".join(messages) or None


def jql_string(value: str) -> str:
    """A JQL string literal: double quotes, with ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'



class _Ambiguous(Exception):
    """Carries a transient failure of a non-repeatable write out of the retry loop unretried."""

    def __init__(self, error: TransientError) -> None:
        super().__init__(str(error))
        self.error = error


class JiraConnector(Connector):
    """Jira Cloud or Data Center, for one site and one account.

    ``deployment`` is given by configuration (the adapter never calls ``serverInfo`` to guess it);
    Cloud authenticates with ``email`` + API ``token`` (basic), Data Center with a personal access
    ``token`` (bearer). ``time_zone`` overrides the account's profile zone read from ``/myself``.
    ``overlap`` is how far before the cursor a change query reaches. ``itsm_base_url`` and
    ``itsm_application`` name the ITSM in remote links when the record URL does not say.
    ``sleep`` is injected by tests so retries and the budget never really sleep.
    """

    side = Side.JIRA
    name = "jira"
    display_name = "Jira"

    def __init__(
        self,
        url: str,
        *,
        deployment: Deployment,
        token: SecretStr,
        email: str | None = None,
        http: HttpOptions | None = None,
        time_zone: str | None = None,
        overlap: timedelta = timedelta(minutes=2),
        page_size: int = 100,
        itsm_base_url: str | None = None,
        itsm_application: tuple[str, str] | None = None,
        max_transition_steps: int = 12,
        ca_bundle: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if deployment not in ("cloud", "datacenter"):
            raise ConfigError(f"jira deployment must be 'cloud' or 'datacenter', not {deployment!r}")
        if deployment == "cloud" and not email:
            raise ConfigError("Jira Cloud needs the account's email address with the API token")
        if not token.get_secret_value():
            raise ConfigError("the Jira token is empty")
        if time_zone is not None:
            _zone(time_zone)
        self.url = url.rstrip("/")
        self.deployment: Deployment = deployment
        self.http = http or HttpOptions(base_url=self.url)
        self.overlap = overlap
        self.page_size = max(1, min(page_size, 100))
        self.itsm_base_url = itsm_base_url.rstrip("/") if itsm_base_url else None
        self.itsm_application = itsm_application
        self.max_transition_steps = max_transition_steps
        self._sleep = sleep
        self._zone_override = time_zone
        self._myself: dict[str, Any] | None = None
        self._fields_by_id: dict[str, dict[str, Any]] | None = None
        self._graphs: dict[tuple[str, str], WorkflowGraph] = {}
        self._marker_fields: set[str] = set()
        self._text_markers = False  # set when a DC server drops comment properties
        #: per issue of the last change search: its comments (id, created), or None when Jira's inline
        #: list was incomplete (see :meth:`comments_since`)
        self._comment_hints: dict[str, list[tuple[str, datetime]] | None] = {}
        #: ids of the comments this process wrote (insertion-ordered, bounded)
        self._own_comments: dict[str, None] = {}
        secret = token.get_secret_value()
        self._jira = JIRA(
            server=self.url,
            options={
                "rest_api_version": "3" if deployment == "cloud" else "2",
                "verify": str(ca_bundle) if ca_bundle and self.http.verify_tls else self.http.verify_tls,
                "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
            },
            basic_auth=(email, secret) if deployment == "cloud" and email else None,
            token_auth=secret if deployment == "datacenter" else None,
            get_server_info=False,
            max_retries=0,
            timeout=(self.http.connect_timeout, self.http.read_timeout),
            logging=False,
        )
        # Tell the library what it is talking to, so its Cloud-only code paths behave (LIBRARY_NOTES).
        self._jira.deploymentType = "Cloud" if deployment == "cloud" else "Server"
        bucket = TokenBucket(self.http.requests_per_second, self.http.burst, sleep=sleep)
        adapter = BudgetAdapter(self.calls, bucket)
        self._jira._session.mount("http://", adapter)
        self._jira._session.mount("https://", adapter)
        logging.getLogger("jira").setLevel(logging.CRITICAL)  # it logs response headers at debug

    @classmethod
    def from_settings(cls, settings: JiraSettings, **kwargs: Any) -> JiraConnector:
        """Build from the ``jira:`` section of the configuration (``kwargs`` as in the constructor)."""
        if settings.token is None:
            raise ConfigError("jira.token is not set (Cloud: an API token; Data Center: a personal access token)")
        http = HttpOptions(
            base_url=settings.url,
            connect_timeout=settings.timeout_seconds.connect,
            read_timeout=settings.timeout_seconds.read,
            verify_tls=settings.verify_tls,
            requests_per_second=settings.requests_per_second,
        )
        return cls(
            settings.url,
            deployment=settings.deployment,
            token=settings.token,
            email=settings.email,
            http=http,
            ca_bundle=settings.ca_bundle,
            **kwargs,
        )

    # =================================================================================== transport

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """One API call under the retry policy; ``path`` is relative to ``/rest/api/{3|2}/``, or site-relative
        when it starts with ``/rest/`` (other REST APIs of the same site, e.g. JSM's ``/rest/servicedeskapi/``)."""
        url = self.url + path if path.startswith("/rest/") else self._jira._get_url(path.lstrip("/"))
        endpoint = urlsplit(url).path

        def send() -> requests.Response:
            try:
                response = self._jira._session.request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    data=json.dumps(body) if body is not None else None,
                )
            except JIRAError as exc:
                if exc.response is None:
                    raise TransientError(
                        "jira gave no response", side="jira", method=method, endpoint=endpoint
                    ) from None
                raise self._error(exc.response) from None
            except requests.ConnectTimeout:
                raise NotSentError(
                    "jira unreachable (connect timeout)", side="jira", method=method, endpoint=endpoint
                ) from None
            except requests.ConnectionError as exc:
                cls = NotSentError if never_sent(exc) else TransientError
                raise cls(
                    f"jira unreachable ({type(exc).__name__})", side="jira", method=method, endpoint=endpoint
                ) from None
            except requests.Timeout as exc:
                raise TransientError(
                    f"jira did not answer in time ({type(exc).__name__})", side="jira", method=method, endpoint=endpoint
                ) from None
            if "AUTHENTICATED_FAILED" in response.headers.get("X-Seraph-LoginReason", ""):
                # Jira served the request as anonymous after refusing the credentials (JRA-41559).
                raise AuthError(
                    "jira refused the credentials (served as anonymous)",
                    side="jira",
                    method=method,
                    endpoint=endpoint,
                    status=response.status_code,
                )
            return response

        def once() -> requests.Response:
            try:
                return send()
            except TransientError as exc:
                if not idempotent and not isinstance(exc, RateLimitedError | NotSentError):
                    raise _Ambiguous(exc) from None
                raise

        try:
            return call_with_retry(
                once,
                max_attempts=self.http.max_attempts,
                backoff_base=self.http.backoff_base,
                max_backoff=self.http.max_backoff,
                sleep=self._sleep,
                counter=self.calls,
            )
        except _Ambiguous as ambiguous:
            raise ambiguous.error from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PermanentError(
                "jira answered with something that is not JSON",
                side="jira",
                method=method,
                endpoint=urlsplit(response.url).path,
                status=response.status_code,
            ) from None

    @staticmethod
    def _error(response: requests.Response) -> ConnectorError:
        reason = response.headers.get("X-Seraph-LoginReason", "") + response.headers.get(
            "X-Authentication-Denied-Reason", ""
        )
        if response.status_code == 403 and ("DENIED" in reason.upper() or "CAPTCHA" in reason.upper()):
            return AuthError(
                "jira refused the login (CAPTCHA or denied)",
                side="jira",
                method=response.request.method,
                endpoint=urlsplit(response.url).path,
                status=403,
                vendor_message=jira_message(response),
            )
        return error_for(response, side="jira", vendor_message=jira_message)

    # =================================================================================== account & fields

    def myself(self) -> dict[str, Any]:
        """The account (``/myself``), read once: proves authentication and gives the profile time zone."""
        if self._myself is None:
            data = self._json("GET", "myself")
            if not isinstance(data, dict) or not (data.get("accountId") or data.get("name")):
                raise AuthError("jira /myself did not name an account: the credentials act as anonymous", side="jira")
            self._myself = data
        return self._myself

    def user_zone(self) -> ZoneInfo:
        """The zone JQL date literals are read in: the override, else the account's profile zone."""
        return _zone(self._zone_override or str(self.myself().get("timeZone") or "UTC"))

    def fields_index(self) -> dict[str, dict[str, Any]]:
        """``GET /field`` once: id -> field description (name, schema, clause names)."""
        if self._fields_by_id is None:
            data = self._json("GET", "field")
            self._fields_by_id = {str(f["id"]): f for f in data or [] if isinstance(f, dict) and "id" in f}
        return self._fields_by_id

    def field_id(self, name: str) -> str:
        """A field id from an id, a ``cf[N]`` clause or a (case-insensitive) field name.

        System field ids are known without asking, so a mapping of system fields never costs a
        ``GET /field``; anything else reads the field list once.
        """
        if name in SYSTEM_FIELDS:
            return name
        index = self.fields_index()
        if name in index:
            return name
        match = re.fullmatch(r"cf\[(\d+)\]", name.strip(), re.IGNORECASE)
        if match and f"customfield_{match.group(1)}" in index:
            return f"customfield_{match.group(1)}"
        wanted = name.strip().lower()
        found = [fid for fid, meta in index.items() if str(meta.get("name", "")).lower() == wanted]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise PermanentError(
                f"jira field name {name!r} is ambiguous ({', '.join(sorted(found))}); use the id", side="jira"
            )
        raise PermanentError(f"jira has no field {name!r} (neither an id nor a field name)", side="jira")

    def _schema(self, fid: str) -> dict[str, Any]:
        if fid in SYSTEM_FIELDS:
            return dict(SYSTEM_FIELDS[fid])
        return dict((self.fields_index().get(fid) or {}).get("schema") or {})

    def _is_rich_text(self, fid: str) -> bool:
        return fid in _RICH_TEXT_SYSTEM or str(self._schema(fid).get("custom", "")).endswith(":textarea")

    # =================================================================================== values

    def to_jira(self, fid: str, value: FieldValue) -> Any:
        """A normalised value in the shape Jira's create/edit wants for field ``fid``."""
        schema = self._schema(fid)
        kind = schema.get("type")
        if self._is_rich_text(fid):
            if value is None:
                return None
            text = str(value) if not isinstance(value, tuple) else "\n".join(value)
            return text_to_adf(text) if self.cloud else text_to_wiki(text)
        if kind == "array":
            items = schema.get("items")
            values = list(value) if isinstance(value, tuple) else ([] if value is None else [value])
            if items in ("component", "version"):
                return [{"name": str(v)} for v in values]
            if items == "option":
                return [{"value": str(v)} for v in values]
            if items == "user":
                return [self._user_ref(str(v)) for v in values]
            return [str(v) for v in values]
        if value is None:
            return None
        if kind == "number":
            if isinstance(value, (bool, tuple)):
                raise PermanentError(f"jira field {fid} takes a number, not {value!r}", side="jira")
            return value if isinstance(value, int | float) else float(value)
        if kind in ("priority", "resolution", "issuetype", "securitylevel", "version", "component"):
            return {"name": str(value)}
        if kind == "user":
            return self._user_ref(str(value))
        if kind == "option":
            return {"value": str(value)}
        if kind == "string":
            return str(value)
        return value

    def _user_ref(self, value: str) -> dict[str, str]:
        return {"accountId": value} if self.cloud else {"name": value}

    def normalise(self, fid: str, value: Any) -> FieldValue:
        """A Jira field value → :data:`FieldValue` (names for objects, plain text for rich text)."""
        if value is None:
            return None
        if self._is_rich_text(fid) or (isinstance(value, dict) and value.get("type") == "doc"):
            return adf_to_text(value) if isinstance(value, dict) else wiki_to_text(str(value))
        if self._schema(fid).get("type") == "datetime" and isinstance(value, str):
            return parse_jira_datetime(value).isoformat()
        if isinstance(value, dict):
            return _name_of(value)
        if isinstance(value, list):
            return tuple(sorted(_name_of(v) if isinstance(v, dict) else str(v) for v in value))
        return normalise(value)

    def _to_issue(self, raw: dict[str, Any], wanted: Mapping[str, str], marker_fields: Sequence[str] = ()) -> Issue:
        fields = raw.get("fields") or {}
        status = fields.get("status") or {}
        labels = [str(label) for label in fields.get("labels") or []]
        # The mapping's marker field wins; otherwise the record's marker label.
        back = next(
            (fields[fid].strip() for fid in marker_fields if isinstance(fields.get(fid), str) and fields[fid].strip()),
            None,
        ) or next((label for label in labels if label.startswith(MARKER_LABEL_PREFIX)), None)
        updated_raw = fields.get("updated")
        updated = parse_jira_datetime(str(updated_raw)) if updated_raw else datetime.now(UTC)
        key = str(raw.get("key", ""))
        return Issue(
            ref=Ref(Side.JIRA, "issue", str(raw["id"]), key, f"{self.url}/browse/{key}"),
            fields={name: self.normalise(fid, fields.get(fid)) for name, fid in wanted.items()},
            status=status.get("name"),
            status_category=(status.get("statusCategory") or {}).get("key"),
            updated=updated,
            # UTC with millis: the same change reads the same whatever the account's time zone is now.
            version=updated.isoformat(timespec="milliseconds") if updated_raw else "",
            back_reference=back,
        )

    def _wanted(self, names: Sequence[str]) -> dict[str, str]:
        return {name: self.field_id(name) for name in names}

    def _fetch_list(self, wanted: Mapping[str, str], marker_fields: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*wanted.values(), *_BASE_FIELDS, *marker_fields]))

    # =================================================================================== reading

    def cursor_literal(self, since: datetime) -> str:
        """The JQL literal for ``since``: the account's zone, floored to the minute, minus the overlap."""
        local = (since - self.overlap).astimezone(self.user_zone()).replace(second=0, microsecond=0)
        return local.strftime("%Y/%m/%d %H:%M")

    def search(self, jql: str, field_ids: Sequence[str], reconcile: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every issue of ``jql`` (raw JSON), following Cloud tokens or DC offsets to the last page.

        ``reconcile`` (Cloud, at most 50 ids) asks the eventually consistent index to include issues just
        written (OpenAPI v3 search/jql ``reconcileIssues``); DC's search is consistent already.
        """
        if self.cloud:
            token: str | None = None
            seen_tokens: set[str] = set()
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": list(field_ids), "maxResults": self.page_size}
                if reconcile:
                    body["reconcileIssues"] = [int(i) if i.isdigit() else i for i in reconcile[:50]]
                if token:
                    body["nextPageToken"] = token
                page = self._json("POST", "search/jql", body=body) or {}
                yield from page.get("issues") or []
                token = page.get("nextPageToken")
                if not token or page.get("isLast") is True:
                    return
                if token in seen_tokens:
                    raise TransientError("jira search repeated a page token", side="jira", endpoint="search/jql")
                seen_tokens.add(token)
        start = 0
        while True:
            body = {"jql": jql, "startAt": start, "maxResults": self.page_size, "fields": list(field_ids)}
            page = self._json("POST", "search", body=body) or {}
            issues = page.get("issues") or []
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total") or 0):
                return

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        marker_fields = self._mapping_marker_fields(mapping)
        wanted = self._wanted(fields)
        clauses = [
            f"project = {jql_string(mapping.target.project)}",
            f"labels = {jql_string(mapping.links.jira_label)}",
            # Two mappings may share a project and the bridge label (incidents → Bugs, changes → Stories):
            # without the type each would read the other's issues, unlinked to it, as changed on every cycle.
            f"issuetype = {jql_string(mapping.target.issue_type)}",
        ]
        if since is not None:
            clauses.append(f"updated >= {jql_string(self.cursor_literal(since))}")
        jql = " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"
        seen: set[tuple[str, str]] = set()
        self._comment_hints = {}
        for raw in self.search(jql, [*self._fetch_list(wanted, marker_fields), "comment"]):
            issue = self._to_issue(raw, wanted, marker_fields)
            identity = (issue.ref.id, issue.version)
            if identity in seen:
                continue  # a page boundary moved under an update: same issue, same version
            seen.add(identity)
            self._comment_hints[issue.ref.id] = _comment_hint((raw.get("fields") or {}).get("comment"))
            yield issue

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        wanted = self._wanted(fields)
        markers = sorted(self._marker_fields)
        raw = self._json(
            "GET", f"issue/{ref.id or ref.key}", params={"fields": ",".join(self._fetch_list(wanted, markers))}
        )
        return self._to_issue(raw, wanted, markers)

    def _mapping_marker_fields(self, mapping: MappingSpec) -> list[str]:
        if mapping.links.jira_marker_field:
            fid = self.field_id(mapping.links.jira_marker_field)
            self._marker_fields.add(fid)
            return [fid]
        return []

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        markers = self._mapping_marker_fields(mapping)
        if markers:
            number = markers[0].removeprefix("customfield_")
            # Text fields are searched with ~ (a phrase); the exact value is checked below.
            clause = f"cf[{number}] ~ {jql_string(chr(34) + marker + chr(34))}"
        else:
            clause = f"labels = {jql_string(marker)}"
        jql = f"project = {jql_string(mapping.target.project)} AND {clause} ORDER BY created ASC"
        for raw in self.search(jql, self._fetch_list({}, markers)):
            issue = self._to_issue(raw, {}, markers)
            values = raw.get("fields") or {}
            if marker in (values.get("labels") or []) or any(values.get(fid) == marker for fid in markers):
                return issue
        return None

    # -- comments

    def _to_comment(self, parent: Ref, raw: dict[str, Any]) -> Comment:
        body = raw.get("body")
        text = adf_to_text(body) if isinstance(body, dict) else wiki_to_text(body or "")
        marker: Marker | None = None
        internal_property = False
        for prop in raw.get("properties") or []:
            value = prop.get("value") if isinstance(prop, dict) else None
            if prop.get("key") == MARKER_PROPERTY and isinstance(value, dict):
                try:
                    marker = Marker(Side(value["side"]), str(value["origin_id"]))
                except (KeyError, ValueError):
                    marker = Marker.find(str(value.get("marker", "")))
            if prop.get("key") == "sd.public.comment" and isinstance(value, dict):
                internal_property = bool(value.get("internal"))
        in_text = Marker.find(text)
        if in_text is not None:
            marker = marker or in_text
            text = Marker.strip(text)
        vis_raw = raw.get("visibility")
        visibility = (
            Visibility(str(vis_raw["type"]), str(vis_raw["value"]))
            if isinstance(vis_raw, dict) and (vis_raw.get("type") and vis_raw.get("value"))
            else None
        )
        author = raw.get("author") or {}
        return Comment(
            id=str(raw["id"]),
            parent=parent,
            author=str(author.get("displayName") or author.get("name") or author.get("accountId") or "unknown"),
            body=text,
            created=parse_jira_datetime(str(raw["created"])),
            channel="comment",
            internal=visibility is not None or raw.get("jsdPublic") is False or internal_property,
            visibility=visibility,
            marker=marker,
        )

    def _comments(self, ref: Ref, since: datetime | None) -> Iterator[Comment]:
        """Comments newest first when ``since`` is given (so reading stops at ``since``), else oldest first."""
        for comment in self._comment_pages(ref, "-created" if since is not None else "created"):
            if since is not None and comment.created < since:
                return
            yield comment

    def _comment_pages(self, ref: Ref, order: str) -> Iterator[Comment]:
        """Every comment of ``ref`` in ``order`` (``created``/``-created``), page by page, read lazily."""
        start = 0
        while True:
            page = (
                self._json(
                    "GET",
                    f"issue/{ref.id or ref.key}/comment",
                    params={"startAt": start, "maxResults": 100, "orderBy": order, "expand": "properties"},
                )
                or {}
            )
            comments = page.get("comments") or []
            for raw in comments:
                yield self._to_comment(ref, raw)
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        """One comment read per issue, except where the last :meth:`search_changed` already proved there
        is nothing to read.

        The change search asks for the ``comment`` field, so it knows each changed issue's comments (ids
        and times; not their properties, where bridge keeps its marker — hence the read when there is
        something to mirror). An issue whose inline list is complete and has no comment at or after
        ``since`` other than those this process wrote itself costs no call: an edit, a transition or
        bridge's own echo no longer costs a comment read.

        What the search saw is used once, and not for an issue this connector wrote to since. A comment
        a person adds between the search and this call is not lost: it moves the issue's ``updated``, so
        the next change search returns the issue again with a version the cycle has not processed.
        """
        out: dict[str, list[Comment]] = {}
        for ref in refs:
            hint = self._comment_hints.pop(ref.id, None)
            if hint is not None and not any(
                cid not in self._own_comments for cid, created in hint if since is None or created >= since
            ):
                out[ref.id] = []
                continue
            found = list(self._comments(ref, since))
            out[ref.id] = sorted(found, key=lambda c: (c.created, int(c.id) if c.id.isdigit() else 0))
        return out

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        return next((c for c in self._comment_pages(ref, "-created") if c.marker == marker), None)

    # =================================================================================== writing

    def create(self, spec: CreateSpec) -> Item:
        payload, markers = self._create_payload(spec)
        created = self._json("POST", "issue", body={"fields": payload}, idempotent=False)
        ref = Ref(Side.JIRA, "issue", str(created["id"]), str(created["key"]), f"{self.url}/browse/{created['key']}")
        wanted = self._wanted(list(spec.fields))
        raw = self._json("GET", f"issue/{ref.id}", params={"fields": ",".join(self._fetch_list(wanted, markers))})
        return self._to_issue(raw, wanted, markers)

    #: Jira's bulk create takes at most 50 issues per request (OpenAPI v3 createIssues).
    create_batch_size = 50

    def create_many(self, specs: Sequence[CreateSpec]) -> list[Item | ConnectorError]:
        """``POST /issue/bulk`` (Cloud v3 and DC v2) per 50 specs, then ONE search reads the new issues back.

        The bulk answer names each failed element by ``failedElementNumber``; that element gets a
        :class:`PermanentError` with Jira's own message and the others are created. When Jira refuses the
        whole request (400, nothing created) each spec is created on its own, so every element gets its own
        reason. A transient failure is not retried (Jira may have created some): it is given to every spec
        of the request, and the executor reconciles them by marker.
        """
        results: list[Item | ConnectorError] = []
        for start in range(0, len(specs), self.create_batch_size):
            chunk = list(specs[start : start + self.create_batch_size])
            try:
                results.extend(self._create_chunk(chunk))
            except PermanentError as exc:
                if exc.status != 400:
                    results.extend([exc] * len(chunk))
                else:
                    results.extend(super().create_many(chunk))
            except ConnectorError as exc:
                results.extend([exc] * (len(specs) - start))
                break
        return results

    def _create_chunk(self, specs: list[CreateSpec]) -> list[Item | ConnectorError]:
        results: list[Item | ConnectorError | None] = [None] * len(specs)
        sent: list[tuple[int, dict[str, Any], list[str]]] = []  # (index in specs, fields, marker fields)
        for index, spec in enumerate(specs):
            try:
                payload, markers = self._create_payload(spec)
            except PermanentError as exc:  # a value Jira cannot take: this spec alone fails
                results[index] = exc
                continue
            sent.append((index, payload, markers))
        if sent:
            body = {"issueUpdates": [{"fields": payload} for _, payload, _ in sent]}
            answer = self._json("POST", "issue/bulk", body=body, idempotent=False) or {}
            failed: dict[int, str] = {}
            for error in answer.get("errors") or []:
                collection = error.get("elementErrors") or {}
                messages = [str(m) for m in collection.get("errorMessages") or []]
                messages += [f"{k}: {v}" for k, v in (collection.get("errors") or {}).items()]
                failed[int(error.get("failedElementNumber", -1))] = "; ".join(messages) or "refused"
            created = iter(answer.get("issues") or [])
            made: list[tuple[int, Ref, list[str]]] = []
            for number, (index, _, markers) in enumerate(sent):
                raw = None if number in failed else next(created, None)
                if raw is None:
                    reason = failed.get(number, "the answer lists fewer issues than were sent")
                    results[index] = PermanentError(
                        f"jira refused the issue: {reason}", side="jira", method="POST", endpoint="issue/bulk",
                        status=400, vendor_message=reason,
                    )
                    continue
                key = str(raw["key"])
                made.append((index, Ref(Side.JIRA, "issue", str(raw["id"]), key, f"{self.url}/browse/{key}"), markers))
            for index, item in self._read_created(specs, made).items():
                results[index] = item
        return [r if r is not None else PermanentError("jira create gave no result", side="jira") for r in results]

    def _read_created(self, specs: list[CreateSpec], made: list[tuple[int, Ref, list[str]]]) -> dict[int, Item]:
        """The created issues read back with ONE search (``reconcileIssues`` makes Cloud's index include them)."""
        if not made:
            return {}
        wanted = self._wanted(list(dict.fromkeys(name for index, _, _ in made for name in specs[index].fields)))
        all_markers = sorted({m for _, _, group in made for m in group})
        ids = [ref.id for _, ref, _ in made]
        jql = f"id in ({', '.join(ids)}) ORDER BY key ASC"
        found = {str(raw["id"]): raw for raw in self.search(jql, self._fetch_list(wanted, all_markers), ids)}
        out: dict[int, Item] = {}
        for index, ref, group in made:
            own = {name: fid for name, fid in wanted.items() if name in specs[index].fields}
            raw = found.get(ref.id)
            if raw is None:  # not searchable yet: read it directly
                raw = self._json("GET", f"issue/{ref.id}", params={"fields": ",".join(self._fetch_list(own, group))})
            out[index] = self._to_issue(raw, own, group)
        return out

    def _create_payload(self, spec: CreateSpec) -> tuple[dict[str, Any], list[str]]:
        """The create ``fields`` of ``spec`` and the marker fields it uses."""
        payload: dict[str, Any] = {"project": {"key": spec.project}, "issuetype": {"name": spec.issue_type}}
        labels = set(spec.labels)
        components = set(spec.components)
        for name, value in spec.fields.items():
            fid = self.field_id(name)
            if fid == "labels":
                labels |= set(value) if isinstance(value, tuple) else ({str(value)} if value else set())
            elif fid == "components":
                components |= set(value) if isinstance(value, tuple) else ({str(value)} if value else set())
            elif fid not in ("project", "issuetype"):
                payload[fid] = self.to_jira(fid, value)
        markers: list[str] = []
        if spec.marker_field:
            fid = self.field_id(spec.marker_field)
            payload[fid] = spec.marker
            self._marker_fields.add(fid)
            markers.append(fid)
        else:
            labels.add(spec.marker)
        payload["labels"] = sorted(labels)
        if components:
            payload["components"] = [{"name": c} for c in sorted(components)]
        return payload, markers

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        fields: dict[str, Any] = {}
        update: dict[str, Any] = {}
        for name, value in values.items():
            fid = self.field_id(name)
            if fid == "labels":
                # Labels are only ever added: they carry bridge's markers and people's own labels.
                added = value if isinstance(value, tuple) else ((str(value),) if value else ())
                update["labels"] = [{"add": label} for label in added]
            else:
                fields[fid] = self.to_jira(fid, value)
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = fields
        if update:
            body["update"] = update
        if body:
            self._request("PUT", f"issue/{ref.id or ref.key}", body=body)

    def edit_labels(
        self,
        ref: Ref,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        values: Mapping[str, FieldValue] | None = None,
    ) -> None:
        operations = [{"add": label} for label in dict.fromkeys(add)]
        operations += [{"remove": label} for label in dict.fromkeys(remove) if label not in add]
        fields = {self.field_id(name): value for name, value in (values or {}).items()}
        if "labels" in fields:
            raise PermanentError("edit_labels sets labels through add/remove only, not as a field value", side="jira")
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = {fid: self.to_jira(fid, value) for fid, value in fields.items()}
        if operations:
            body["update"] = {"labels": operations}
        if body:
            self._request("PUT", f"issue/{ref.id or ref.key}", body=body)

    def add_comment(
        self, ref: Ref, body: str, *, channel: str, marker: Marker, visibility: Visibility | None = None
    ) -> Comment:
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        text = body if not self._text_markers else f"{body}\n\n{marker.render()}"
        payload: dict[str, Any] = {
            "body": text_to_adf(text) if self.cloud else text_to_wiki(text),
            "properties": [
                {
                    "key": MARKER_PROPERTY,
                    "value": {
                        "side": marker.side.value,
                        "origin_id": marker.origin_id,
                        "marker": marker.render(),
                    },
                }
            ],
        }
        if visibility is not None:
            payload["visibility"] = {"type": visibility.type, "value": visibility.value}
        raw = self._json(
            "POST",
            f"issue/{ref.id or ref.key}/comment",
            params={"expand": "properties"},
            body=payload,
            idempotent=False,
        )
        if (
            not self.cloud
            and not self._text_markers
            and not any(isinstance(p, dict) and p.get("key") == MARKER_PROPERTY for p in raw.get("properties") or [])
        ):
            # This server dropped the comment property: keep the marker in the text from now on, and
            # put it into this comment too (one PUT), so the comment is never mirrored back.
            self._text_markers = True
            self._request(
                "PUT",
                f"issue/{ref.id or ref.key}/comment/{raw['id']}",
                body={"body": text_to_wiki(f"{body}\n\n{marker.render()}")},
            )
        self._own_comments[str(raw["id"])] = None
        while len(self._own_comments) > _OWN_COMMENTS_KEPT:
            del self._own_comments[next(iter(self._own_comments))]
        author = raw.get("author") or {}
        return Comment(
            id=str(raw["id"]),
            parent=ref,
            author=str(author.get("displayName") or author.get("name") or "bridge"),
            body=body,
            created=parse_jira_datetime(str(raw["created"])),
            channel="comment",
            internal=visibility is not None,
            visibility=visibility,
            marker=marker,
        )

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        """Upsert a remote link to the record: its ``globalId`` is derived from the record, so it never doubles."""
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        base = self._itsm_base(other)
        global_id = f"system={base}&type={other.kind}&id={other.id}"
        if len(global_id) > 255:
            raise PermanentError("remote link globalId would exceed 255 characters", side="jira")
        app_type, app_name = self._application(other)
        url = other.url or str(values.get("url") or "") or base
        if not url:
            raise PermanentError(f"record {other.key} has no URL to link to; set itsm_base_url", side="jira")
        obj: dict[str, Any] = {"url": url, "title": str(values.get("title") or other.key)}
        if values.get("summary"):
            obj["summary"] = str(values["summary"])
        obj["status"] = {"resolved": bool(values.get("resolved"))}
        body = {
            "globalId": global_id,
            "application": {"type": app_type, "name": app_name},
            "relationship": str(values.get("relationship") or f"{app_name} {other.kind}"),
            "object": obj,
        }
        self._request("POST", f"issue/{ref.id or ref.key}/remotelink", body=body)

    def _itsm_base(self, other: Ref) -> str:
        if other.url:
            parts = urlsplit(other.url)
            if parts.scheme and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}"
        return self.itsm_base_url or "urn:bridge"

    def _application(self, other: Ref) -> tuple[str, str]:
        if self.itsm_application:
            return self.itsm_application
        if other.kind in _SERVICENOW_TABLES or "service-now" in other.url or "servicenow" in other.url:
            return "com.servicenow", "ServiceNow"
        return "com.bestpractical.rt", "Request Tracker"

    # -- workflow

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        current_raw = self._json("GET", f"issue/{ref.id or ref.key}", params={"fields": "status,issuetype,project"})
        raw_fields = current_raw.get("fields") or {}
        current = str((raw_fields.get("status") or {}).get("name", ""))
        if current.lower() == status.lower():
            return
        graph_key = (
            str((raw_fields.get("project") or {}).get("key", "")),
            str((raw_fields.get("issuetype") or {}).get("id", "")),
        )
        graph = self._graphs.setdefault(graph_key, WorkflowGraph())
        reached = [current]
        try:
            self._walk(ref, graph, current, status, fields, reached)
        except WorkflowError:
            # Exploring an unknown workflow may have moved the issue before the dead end showed: put it
            # back where people left it (over known, field-free transitions) rather than half-way.
            if reached[-1].lower() != current.lower():
                back = graph.path(reached[-1], current, set())
                for edge in back or []:
                    self._transition(ref, graph, reached[-1], edge, {}, set())
                    reached.append(edge.to_display)
            raise

    def _walk(
        self,
        ref: Ref,
        graph: WorkflowGraph,
        current: str,
        status: str,
        fields: Mapping[str, FieldValue],
        reached: list[str],
    ) -> None:
        explored: set[str] = set()
        wanted_fields = {self.field_id(name) for name in fields}
        steps = 0
        sent_fields: set[str] = set()
        while current.lower() != status.lower():
            if steps >= self.max_transition_steps:
                raise WorkflowError(
                    f"no path to status {status!r} within {steps} transitions from {current!r}",
                    side="jira",
                    endpoint=f"issue/{ref.key}/transitions",
                )
            if not graph.known(current):
                self._learn(ref, graph, current)
                explored.add(current.lower())
            usable = set(wanted_fields)
            path = graph.path(current, status, usable) or graph.exploration(current, status, explored, usable)
            if not path:
                blocked = graph.path(current, status, None)
                if blocked:
                    needs = sorted({f for e in blocked for f, required in e.screen.items() if required} - usable)
                    raise WorkflowError(
                        f"the path from {current!r} to {status!r} requires {', '.join(needs)}, which the mapping "
                        "does not give (add them under status.to_jira.<state>.fields)",
                        side="jira",
                        endpoint=f"issue/{ref.key}/transitions",
                    )
                offered = ", ".join(e.to_display for e in graph.edges.get(current.lower(), [])) or "none"
                raise WorkflowError(
                    f"no transition path from {current!r} to {status!r} (the workflow offers from here: {offered})",
                    side="jira",
                    endpoint=f"issue/{ref.key}/transitions",
                )
            edge = path[0]
            moved = self._transition(ref, graph, current, edge, fields, sent_fields)
            steps += 1
            if moved:
                current = edge.to_display
                reached.append(current)

    def _learn(self, ref: Ref, graph: WorkflowGraph, current: str) -> list[Edge]:
        data = (
            self._json("GET", f"issue/{ref.id or ref.key}/transitions", params={"expand": "transitions.fields"}) or {}
        )
        return graph.learn(current, data.get("transitions") or [])

    def _transition(
        self,
        ref: Ref,
        graph: WorkflowGraph,
        current: str,
        edge: Edge,
        fields: Mapping[str, FieldValue],
        sent_fields: set[str],
    ) -> bool:
        """POST one transition; False when the known graph was stale (it is re-read, nothing moved)."""
        wanted = {self.field_id(name): value for name, value in fields.items()}
        on_screen = {fid: value for fid, value in wanted.items() if fid in edge.screen}
        missing = [fid for fid, required in edge.screen.items() if required and fid not in wanted]
        if missing:
            raise WorkflowError(
                f"transition {edge.name!r} to {edge.to_display!r} requires {', '.join(missing)}, which the mapping "
                "does not give (add them under status.to_jira.<state>.fields)",
                side="jira",
                endpoint=f"issue/{ref.key}/transitions",
            )
        body: dict[str, Any] = {"transition": {"id": edge.id}}
        if on_screen:
            body["fields"] = {fid: self.to_jira(fid, value) for fid, value in on_screen.items()}
        try:
            self._request("POST", f"issue/{ref.id or ref.key}/transitions", body=body)
        except PermanentError as exc:
            message = exc.vendor_message or ""
            if "is not valid for this issue" in message:
                graph.forget(current)  # the workflow or the issue moved: learn it again
                self._learn(ref, graph, current)
                return False
            refused = [fid for fid in on_screen if f"{fid}: " in message and "cannot be set" in message]
            if refused:
                # transitions.fields can over-report a field (netresearch/jira-skill#211): drop it, once.
                edge.screen.clear()
                return self._transition(ref, graph, current, edge, {}, sent_fields)
            raise
        sent_fields.update(on_screen)
        return True

    # =================================================================================== diagnostics

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            info = self._json("GET", "serverInfo") or {}
            deployed = str(info.get("deploymentType", ""))
            expected = "Cloud" if self.cloud else "Server"
            ok = deployed == expected or (not self.cloud and deployed in ("Server", "DataCenter"))
            results.append(
                CheckResult(
                    ok,
                    f"Jira at {self.url} answers ({deployed or 'unknown'} {info.get('version', '')})",
                    None if ok else f"configured deployment is {self.deployment}; set it to match",
                )
            )
            me = self.myself()
            results.append(
                CheckResult(True, f"authenticated as {me.get('displayName')} (time zone {self.user_zone()})")
            )
        except AuthError as exc:
            hint = (
                "create an API token at https://id.atlassian.com/manage-profile/security/api-tokens and use it "
                "with the account's email"
                if self.cloud
                else "create a personal access token in your Jira profile"
            )
            return [*results, CheckResult(False, f"Jira authentication failed: {exc}", hint)]
        except ConnectorError as exc:
            if exc.status is not None:
                raise  # it answered: the doctor says busy (429/503) or which endpoint refused
            return [*results, CheckResult(False, f"Jira is not reachable: {exc}", "check jira.url and the network")]
        for project in sorted({m.target.project for m in mappings}):
            results.extend(self._check_project(project, [m for m in mappings if m.target.project == project]))
        return results

    def _check_project(self, project: str, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            data = self._json("GET", f"project/{project}")
        except NotFoundError:
            return [
                CheckResult(
                    False,
                    f"project {project} does not exist or is not visible to the account",
                    "check target.project and the account's Browse projects permission",
                )
            ]
        results.append(CheckResult(True, f"project {project} ({data.get('name')})"))
        types = {str(t.get("name", "")).lower() for t in data.get("issueTypes") or []}
        for m in mappings:
            ok = m.target.issue_type.lower() in types
            results.append(
                CheckResult(
                    ok,
                    f"{m.name}: issue type {m.target.issue_type!r} in {project}",
                    None if ok else f"available: {', '.join(sorted(types))}",
                )
            )
        statuses = {
            str(s.get("name", "")).lower()
            for t in self._json("GET", f"project/{project}/statuses") or []
            for s in t.get("statuses") or []
        }
        for m in mappings:
            named = [target if isinstance(target, str) else target.status for target in m.status.to_jira.values()]
            named += [key for key in m.status.to_itsm if not key.startswith("category:")]  # a typo never matches
            for name in dict.fromkeys(named):
                ok = name.lower() in statuses
                results.append(
                    CheckResult(
                        ok,
                        f"{m.name}: status {name!r} exists in {project}",
                        None if ok else f"statuses: {', '.join(sorted(statuses))}",
                    )
                )
            names = [*m.fields, *(f for f in (m.links.jira_marker_field, m.links.linked_count_field) if f)]
            for target in m.status.to_jira.values():
                if not isinstance(target, str):
                    names.extend(target.fields)
            for name in dict.fromkeys(names):
                try:
                    fid = self.field_id(name)
                    results.append(CheckResult(True, f"{m.name}: field {name!r} is {fid}"))
                except PermanentError as exc:
                    results.append(CheckResult(False, f"{m.name}: {exc}", "GET /rest/api/*/field lists the fields"))
        hint = "grant it to the account in the project's permission scheme"
        results.extend(self.permission_checks(project, REQUIRED_PERMISSIONS, hint))
        return results

    def permission_checks(self, project: str, required: Sequence[str], hint: str) -> list[CheckResult]:
        """One ✔/✖ line per permission the account needs in ``project`` (one ``mypermissions`` call)."""
        perms = self._json("GET", "mypermissions", params={"projectKey": project, "permissions": ",".join(required)})
        have = (perms or {}).get("permissions") or {}
        results = []
        for key in required:
            ok = bool((have.get(key) or {}).get("havePermission"))
            results.append(CheckResult(ok, f"permission {key} in {project}", None if ok else hint))
        return results

    def close(self) -> None:
        self._jira._session.close()


#: how many of its own comment ids the connector remembers (enough for any cycle's echoes)
_OWN_COMMENTS_KEPT = 10_000


def _comment_hint(page: Any) -> list[tuple[str, datetime]] | None:
    """(id, created) of each comment in a search result's ``comment`` field; None when it is missing or
    holds fewer comments than the issue has (Jira may cut the inline list short)."""
    if not isinstance(page, dict) or not isinstance(page.get("comments"), list):
        return None
    comments = page["comments"]
    if int(page.get("total") or 0) > len(comments):
        return None
    try:
        return [(str(c["id"]), parse_jira_datetime(str(c["created"]))) for c in comments]
    except (KeyError, TypeError, ValueError):
        return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


def _name_of(value: dict[str, Any]) -> str:
    for key in ("name", "value", "displayName", "key", "id"):
        if key in value and value[key] is not None:
            return str(value[key])
    return json.dumps(value, sort_keys=True)
