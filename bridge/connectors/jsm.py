"""Jira Service Management as the ITSM side: requests of a service project escalated into a Jira project.

A JSM request *is* a Jira issue in a service project, so this adapter is built on a
:class:`~bridge.connectors.jira.JiraConnector` pointed at the JSM site (composition, not a fork): the same
session, retry layer, budget, call counting, JQL clock handling (the account's zone, minute precision,
overlap), ADF/wiki conversion, field-name resolution and workflow path finding. What JSM adds, and what
this module owns:

* **The route is a service project.** ``route.record_type`` is the project key (``SUP``). A change query
  is ONE paginated JQL search ``project = SUP AND <compiled conditions> AND updated >= … ORDER BY updated
  ASC`` (:mod:`bridge.connectors.jsm_query` writes what JQL can say exactly; the rest is filtered here
  with :func:`bridge.mapping.transform.matches`).
* **Two comment channels.** JSM comments are public replies (the customer sees them in the portal and gets
  an e-mail) or internal notes (agents only). Channels here are ``internal`` and ``public``; bridge writes
  ``internal`` unless a mapping's ``comments.to_itsm_channel`` says ``public``. Reading: Cloud says
  ``jsdPublic`` on each comment, Data Center only has the ``sd.public.comment`` comment property
  (``{"internal": true}``) under ``expand=properties`` (docs/connectors/jsm.md, "Vendor facts bridge relies on";
  the facts are in :mod:`bridge.vendors.jsm`).
* **Writing comments through the platform API**, not ``POST /rest/servicedeskapi/request/{key}/comment``:
  the platform call takes comment *properties*, so ONE request sets both ``sd.public.comment`` (internal or
  public) and bridge's marker property (``bridge.origin``) — the marker stays invisible and the comment
  can never exist unmarked (a crash between two writes would otherwise leave a note that is mirrored back).
  The JSM endpoint takes only ``body`` and ``public``. Because an internal note that turned out public
  would reach a customer, the visibility the site *reports back* is checked; a note the site made public
  is deleted at once and the action fails with a PermanentError.
* **The back reference** (the Jira key, and optionally its URL) goes into custom fields of the request
  named by ``links.itsm_key_field``/``itsm_url_field`` (e.g. "Development issue"), written only when they
  differ, so repeating it changes nothing; :meth:`JsmConnector.find_by_marker` searches that field by JQL.

Requests are never created by bridge (:meth:`JsmConnector.create` raises PermanentError): customers raise
them in the portal.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bridge.connectors.base import CheckResult, CreateSpec
from bridge.connectors.http import HttpOptions
from bridge.connectors.jira import (
    MARKER_PROPERTY,
    Deployment,
    JiraConnector,
    jql_string,
    parse_jira_datetime,
)
from bridge.connectors.jira_text import fit_for_jira, text_to_adf, text_to_wiki
from bridge.connectors.jsm_attachments import JsmAttachments
from bridge.connectors.jsm_query import FieldInfo, compile_route, field_info
from bridge.connectors.unreadable import Unreadable, readable
from bridge.errors import AuthError, ConfigError, ConnectorError, NotFoundError, PermanentError, WorkflowError
from bridge.mapping.schema import FieldCondition, ItsmStateTarget
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields, matches
from bridge.model import Comment, FieldValue, Item, Marker, Record, Ref, Side, Visibility
from bridge.vendors import jsm as jsm_facts

if TYPE_CHECKING:
    from bridge.settings import Settings

#: The comment property JSM keeps a comment's visibility in (Cloud and DC).
PUBLIC_PROPERTY = jsm_facts.PUBLIC_PROPERTY
INTERNAL = jsm_facts.DEFAULT_CHANNEL
PUBLIC = next(c.name for c in jsm_facts.CHANNELS if c.customer_visible)
CHANNELS = jsm_facts.CHANNEL_NAMES
#: Permissions the account needs in the service project (docs/connectors/jsm.md explains each).
REQUIRED_PERMISSIONS = ("BROWSE_PROJECTS", "EDIT_ISSUES", "TRANSITION_ISSUES", "ADD_COMMENTS")
_BASE_FIELDS = ("status", "updated")


def is_request_type_field(schema: Mapping[str, Any]) -> bool:
    """The JSM request-type field ("Request Type" on Cloud, "Customer Request Type" on DC)."""
    return schema.get("type") == "sd-customerrequesttype" or str(schema.get("custom", "")).endswith(":vp-origin")


def request_type_name(value: Any) -> FieldValue:
    """The request type's name from the platform value ``{"requestType": {"name": …}, "currentStatus": …}``."""
    if isinstance(value, dict):
        inner = value.get("requestType")
        if isinstance(inner, dict) and inner.get("name"):
            return str(inner["name"])
        if value.get("name"):
            return str(value["name"])
    return None if value is None else str(value)


def comment_channel(comment: Comment) -> Comment:
    """A comment read through the Jira connector, put on its JSM channel (``internal`` or ``public``)."""
    return dataclasses.replace(comment, channel=INTERNAL if comment.internal else PUBLIC)


class JsmConnector(JsmAttachments):
    """The service projects of one Jira Service Management site, for one (agent) account.

    ``deployment`` is ``cloud`` (``email`` + API ``token``) or ``datacenter`` (``token`` = personal access
    token). ``site`` injects a ready :class:`JiraConnector` (tests, or sharing one); otherwise one is built
    from the other arguments, which mean what they mean there.
    """

    side = Side.ITSM
    name = "jsm"
    display_name = "Jira Service Management"

    def __init__(
        self,
        url: str,
        *,
        deployment: Deployment = "cloud",
        token: SecretStr | None = None,
        email: str | None = None,
        http: HttpOptions | None = None,
        time_zone: str | None = None,
        overlap: timedelta = timedelta(minutes=2),
        page_size: int = 100,
        ca_bundle: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        site: JiraConnector | None = None,
    ) -> None:
        super().__init__()
        if site is None:
            if token is None:
                raise ConfigError("the Jira Service Management token is not set")
            site = JiraConnector(
                url,
                deployment=deployment,
                token=token,
                email=email,
                http=http,
                time_zone=time_zone,
                overlap=overlap,
                page_size=page_size,
                ca_bundle=ca_bundle,
                sleep=sleep,
            )
        self.site = site
        # Every request goes through the site's session, which counts into its counter: share it.
        self.calls = site.calls
        self.url = site.url
        self._key_fields: dict[str, list[str]] = {}
        self._desks: dict[str, str] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> JsmConnector:
        """Build from the ``itsm:`` section (``kind: jsm``).

        Cloud: ``username`` = the account's e-mail, ``password`` = an API token (Basic auth, as Atlassian
        documents it). Data Center: ``token`` = a personal access token (Bearer). The deployment follows
        from which one is given, so no extra setting is needed.
        """
        section = settings.itsm
        http = HttpOptions(
            base_url=section.url,
            connect_timeout=section.timeout_seconds.connect,
            read_timeout=section.timeout_seconds.read,
            verify_tls=section.verify_tls,
            requests_per_second=section.requests_per_second,
        )
        if section.username and section.password is not None:
            deployment: Deployment = "cloud"
            email, token = section.username, section.password
        elif section.token is not None:
            deployment, email, token = "datacenter", None, section.token
        else:
            raise ConfigError(
                "itsm (jsm) needs credentials",
                [
                    "Jira Cloud: itsm.username = the account's e-mail and itsm.password = an API token",
                    "Jira Data Center: itsm.token = a personal access token",
                ],
            )
        return cls(
            section.url,
            deployment=deployment,
            token=token,
            email=email,
            http=http,
            ca_bundle=section.ca_bundle,
            **kwargs,
        )

    # =================================================================================== helpers

    @contextmanager
    def _jsm(self) -> Iterator[None]:
        """Errors from the shared Jira layer name this side, so logs and the error list say "jsm"."""
        try:
            yield
        except ConnectorError as exc:
            exc.side = self.name
            raise

    def _schema(self, fid: str) -> dict[str, Any]:
        return self.site._schema(fid)

    def _value(self, fid: str, value: Any) -> FieldValue:
        if fid.startswith("customfield_") and is_request_type_field(self._schema(fid)):
            return request_type_name(value)
        return self.site.normalise(fid, value)

    def field_id(self, name: str) -> str:
        """A field id from a name or id, as on Jira; "Request Type" and "Customer Request Type" (the Cloud
        and the DC name of the same JSM field) both find the request-type field, so mappings port."""
        try:
            return self.site.field_id(name)
        except PermanentError:
            if name.strip().lower() not in ("request type", "customer request type"):
                raise
        found = [
            fid for fid, meta in self.site.fields_index().items() if is_request_type_field(meta.get("schema") or {})
        ]
        if len(found) != 1:
            raise PermanentError(f"the site has no single JSM request-type field for {name!r}", side=self.name)
        return found[0]

    def _field_info(self, name: str) -> FieldInfo | None:
        try:
            fid = self.field_id(name)
        except PermanentError:
            return None  # an unknown field: the route is filtered locally (and `bridge check` says so)
        if is_request_type_field(self._schema(fid)):
            return FieldInfo(f"cf[{fid.removeprefix('customfield_')}]", "other")
        return field_info(fid, self._schema(fid))

    def _link_fields(self, mapping: MappingSpec) -> list[str]:
        links = mapping.links
        ids = [self.field_id(f) for f in (links.itsm_key_field, links.link_existing) if f]
        self._key_fields[mapping.route.record_type.upper()] = ids
        return ids

    def _record(
        self, raw: Mapping[str, Any], kind: str, wanted: Mapping[str, str], key_fields: Sequence[str]
    ) -> Record:
        fields = raw.get("fields") or {}
        key = str(raw.get("key", ""))
        back = next(
            (str(fields[f]).strip() for f in key_fields if isinstance(fields.get(f), str) and fields[f].strip()), None
        )
        updated_raw = fields.get("updated")
        updated = parse_jira_datetime(str(updated_raw)) if updated_raw else datetime(1970, 1, 1, tzinfo=UTC)
        return Record(
            ref=Ref(Side.ITSM, kind, str(raw["id"]), key, f"{self.url}/browse/{key}"),
            fields={name: self._value(fid, fields.get(fid)) for name, fid in wanted.items()},
            status=(fields.get("status") or {}).get("name"),
            updated=updated,
            version=updated.isoformat(timespec="milliseconds") if updated_raw else "",
            back_reference=back,
        )

    def _fetch(self, wanted: Mapping[str, str], key_fields: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*wanted.values(), *_BASE_FIELDS, *key_fields]))

    def _wanted(self, names: Sequence[str]) -> dict[str, str]:
        return {name: self.field_id(name) for name in names}

    # =================================================================================== reading

    def search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        with self._jsm():
            yield from self._search_changed(mapping, since, fields)

    def _search_changed(self, mapping: MappingSpec, since: datetime | None, fields: Sequence[str]) -> Iterator[Item]:
        project = mapping.route.record_type
        where = mapping.route.where
        compiled = compile_route(where, self._field_info)
        local = [] if compiled.exact else sorted(condition_fields(where) - set(fields))
        wanted = self._wanted([*fields, *local])
        key_fields = self._link_fields(mapping)
        clauses = [f"project = {jql_string(project)}"]
        back = mapping.links.itsm_key_field
        linked = _cf_clause(key_fields[0]) if back and key_fields else None
        if compiled.jql and linked is not None:
            # a linked request keeps syncing whatever the route says: the route OR "carries the
            # back-reference", in the same query (docs/mappings.md, "Links")
            clauses.append(f"(({compiled.jql}) OR {linked} IS NOT EMPTY)")
        elif compiled.jql:
            clauses.append(f"({compiled.jql})" if " OR " in compiled.jql else compiled.jql)
        if since is not None:
            clauses.append(f"updated >= {jql_string(self.site.cursor_literal(since))}")
        jql = " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"
        seen: set[tuple[str, str]] = set()
        for raw in self.site.search(jql, self._fetch(wanted, key_fields)):
            record = readable(lambda: self._record(raw, project, wanted, key_fields),  # noqa: B023 - called at once
                              Side.ITSM, project, raw.get("id"), raw.get("key"))
            if isinstance(record, Unreadable):
                yield record
                continue
            identity = (record.ref.id, record.version)
            if identity in seen:
                continue
            seen.add(identity)
            if not compiled.exact and not matches(where, record.fields) and not record.back_reference:
                continue
            if local:
                record = dataclasses.replace(record, fields={f: record.fields[f] for f in fields})
            yield record

    def get(self, ref: Ref, fields: Sequence[str]) -> Item:
        with self._jsm():
            wanted = self._wanted(fields)
            key_fields = self._key_fields.get(ref.kind.upper(), [])
            raw = self.site._json(
                "GET", f"issue/{ref.id or ref.key}", params={"fields": ",".join(self._fetch(wanted, key_fields))}
            )
            return self._record(raw, ref.kind, wanted, key_fields)

    def comments_since(self, refs: Sequence[Ref], since: datetime | None) -> dict[str, list[Comment]]:
        """The requests' comments on their channels; a person's comment names the files it carries
        (``(attached: error.log)``, :meth:`with_comment_files`)."""
        by_id = {ref.id: ref for ref in refs}
        with self._jsm():
            found = self.site.comments_since(refs, since)
            found = {rid: self.with_comment_files(by_id[rid], cs) if rid in by_id and cs else cs
                     for rid, cs in found.items()}
        return {rid: [comment_channel(c) for c in comments] for rid, comments in found.items()}

    def find_comment_by_marker(self, ref: Ref, marker: Marker) -> Comment | None:
        with self._jsm():
            found = self.site.find_comment_by_marker(ref, marker)
        return None if found is None else comment_channel(found)

    def find_by_marker(self, mapping: MappingSpec, marker: str) -> Item | None:
        """The request whose ``links.itsm_key_field`` holds ``marker`` (a Jira key), by JQL on that field."""
        if not mapping.links.itsm_key_field:
            return None
        with self._jsm():
            key_fields = self._link_fields(mapping)
            fid = key_fields[0]
            if fid.startswith("customfield_"):
                # Text fields are searched with ~ (a phrase); the exact value is checked below.
                clause = f"cf[{fid.removeprefix('customfield_')}] ~ {jql_string(chr(34) + marker + chr(34))}"
            elif fid == "labels":
                clause = f"labels = {jql_string(marker)}"
            else:
                raise PermanentError(
                    f"links.itsm_key_field {mapping.links.itsm_key_field!r} is a system field; use a text custom "
                    "field (e.g. 'Development issue') so the key can be searched",
                    side=self.name,
                )
            project = mapping.route.record_type
            jql = f"project = {jql_string(project)} AND {clause} ORDER BY created ASC"
            for raw in self.site.search(jql, self._fetch({}, key_fields)):
                value = (raw.get("fields") or {}).get(fid)
                if value == marker or (isinstance(value, list) and marker in value):
                    return self._record(raw, project, {}, key_fields)
            return None

    # =================================================================================== writing

    def create(self, spec: CreateSpec) -> Item:
        raise PermanentError(
            "Jira Service Management requests are raised by customers; bridge never creates them", side=self.name
        )

    def update_fields(self, ref: Ref, values: Mapping[str, FieldValue]) -> None:
        with self._jsm():
            self.site.update_fields(ref, values)

    def set_status(self, ref: Ref, status: str, fields: Mapping[str, FieldValue]) -> None:
        """Walk the request's workflow to ``status`` (the Jira connector's path finding), fields on the
        transition whose screen has them (e.g. ``resolution`` on "Resolve this issue")."""
        with self._jsm():
            try:
                self.site.set_status(ref, status, fields)
            except WorkflowError as exc:
                # Same walk, other end of the mapping: the fields come from status.to_itsm here.
                raise WorkflowError(str(exc).replace("status.to_jira", "status.to_itsm"), side=self.name) from None

    def add_comment(
        self,
        ref: Ref,
        body: str,
        *,
        channel: str,
        marker: Marker,
        visibility: Visibility | None = None,
    ) -> Comment:
        """An internal note (``channel="internal"``) or a public reply (``"public"``), with bridge's marker.

        ONE platform request carries the text, ``sd.public.comment`` and the marker property (see the
        module docstring). ``visibility`` is not used: a role restriction would hide a note from agents
        outside the role as well, and ``internal`` already keeps it from customers.
        """
        if channel not in CHANNELS:
            raise PermanentError(
                f"a Jira Service Management comment goes to 'internal' (an internal note) or 'public' (a reply the "
                f"customer sees), not {channel!r}: set comments.to_itsm_channel accordingly",
                side=self.name,
            )
        internal = channel == INTERNAL
        issue = ref.id or ref.key
        body = fit_for_jira(body, cloud=self.site.cloud)  # requests are Jira issues: the same limit
        payload = {
            "body": text_to_adf(body) if self.site.cloud else text_to_wiki(body),
            "properties": [
                {"key": PUBLIC_PROPERTY, "value": {"internal": internal}},
                {
                    "key": MARKER_PROPERTY,
                    "value": {"side": marker.side.value, "origin_id": marker.origin_id, "marker": marker.render()},
                },
            ],
        }
        with self._jsm():
            raw = self.site._json(
                "POST", f"issue/{issue}/comment", params={"expand": "properties"}, body=payload, idempotent=False
            )
            if not self.site.cloud and not raw.get("properties"):
                # Some DC versions do not expand properties on the POST answer: read the comment back.
                raw = self.site._json("GET", f"issue/{issue}/comment/{raw['id']}", params={"expand": "properties"})
            written = self.site._to_comment(ref, raw)
            if internal and not written.internal:
                # The site ignored the property and the note is visible to the customer: take it down now.
                self.site._request("DELETE", f"issue/{issue}/comment/{raw['id']}")
                raise PermanentError(
                    f"{ref.key}: the site did not keep the comment internal (the sd.public.comment property was "
                    "ignored), so it was deleted before anyone saw it; check that the account is an agent of the "
                    "service project",
                    side=self.name,
                )
            if written.marker != marker and internal:
                # The site dropped the marker property: keep the marker in the text, so it is never mirrored
                # back (never in a public reply: the customer reads it; bridge knows that one by its id).
                text = f"{body}\n\n{marker.render()}"
                self.site._request(
                    "PUT",
                    f"issue/{issue}/comment/{raw['id']}",
                    body={"body": text_to_adf(text) if self.site.cloud else text_to_wiki(text)},
                )
        return Comment(
            id=written.id,
            parent=ref,
            author=written.author,
            body=body,
            created=written.created,
            channel=channel,
            internal=internal,
            marker=marker,
        )

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        """The Jira key/URL into the request's link fields, written only where they differ (idempotent: a
        repeat changes nothing, not even ``updated``)."""
        with self._jsm():
            current = self.get(ref, list(values))
            changed = {name: value for name, value in values.items() if current.fields.get(name) != value}
            if changed:
                self.site.update_fields(ref, changed)

    # =================================================================================== diagnostics

    def service_desks(self) -> dict[str, str]:
        """Project key → service desk id, from ``GET /rest/servicedeskapi/servicedesk`` (all pages, read once)."""
        if self._desks is None:
            desks: dict[str, str] = {}
            start = 0
            while True:
                page = (
                    self.site._json("GET", "/rest/servicedeskapi/servicedesk", params={"start": start, "limit": 50})
                    or {}
                )
                values = page.get("values") or []
                desks.update({str(d.get("projectKey", "")).upper(): str(d.get("id")) for d in values})
                start += len(values)
                if page.get("isLastPage", True) or not values:
                    break
            self._desks = desks
        return self._desks

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            me = self.site.myself()
            results.append(CheckResult(True, f"JSM at {self.url}: authenticated as {me.get('displayName')}"))
        except AuthError as exc:
            hint = (
                "itsm.username = the account's e-mail, itsm.password = an API token from "
                "https://id.atlassian.com/manage-profile/security/api-tokens"
                if self.site.cloud
                else "itsm.token = a personal access token of the agent account"
            )
            return [CheckResult(False, f"JSM authentication failed: {exc}", hint)]
        except ConnectorError as exc:
            return [CheckResult(False, f"JSM is not reachable: {exc}", "check itsm.url and the network")]
        try:
            desks = self.service_desks()
        except NotFoundError:
            return [
                *results,
                CheckResult(False, f"{self.url} has no Jira Service Management", "/rest/servicedeskapi/ answers 404"),
            ]
        except ConnectorError as exc:
            return [
                *results,
                CheckResult(
                    False,
                    f"the service desks of {self.url} cannot be listed: {exc}",
                    "the account must be a JSM agent (a licensed agent on Cloud)",
                ),
            ]
        for project in sorted({m.route.record_type.upper() for m in mappings}):
            chosen = [m for m in mappings if m.route.record_type.upper() == project]
            results.extend(self._check_project(project, desks.get(project), chosen))
        return results

    def _check_project(self, project: str, desk: str | None, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        try:
            data = self.site._json("GET", f"project/{project}") or {}
        except NotFoundError:
            return [
                CheckResult(
                    False,
                    f"project {project} does not exist or is not visible to the account",
                    "route.record_type is the service project's key; the account must be an agent there",
                )
            ]
        kind = str(data.get("projectTypeKey", ""))
        ok = desk is not None and kind == "service_desk"
        results = [
            CheckResult(
                ok,
                f"project {project} ({data.get('name')}) is a service project"
                if ok
                else f"project {project} is not a service project (type {kind or 'unknown'})",
                None if ok else "route.record_type must name a Jira Service Management project",
            )
        ]
        if desk is not None:
            results.extend(self._check_request_types(project, desk, mappings))
        statuses = {
            str(s.get("name", "")).lower()
            for t in self.site._json("GET", f"project/{project}/statuses") or []
            for s in t.get("statuses") or []
        }
        for m in mappings:
            wanted_states = [*m.status.to_jira]
            for target in m.status.to_itsm.values():
                wanted_states.append(target.state if isinstance(target, ItsmStateTarget) else str(target))
            for state in dict.fromkeys(wanted_states):
                ok = state.lower() in statuses
                results.append(
                    CheckResult(
                        ok,
                        f"{m.name}: status {state!r} exists in {project}",
                        None if ok else f"statuses: {', '.join(sorted(statuses))}",
                    )
                )
            for name in self._itsm_field_names(m):
                try:
                    fid = self.field_id(name)
                    results.append(CheckResult(True, f"{m.name}: field {name!r} is {fid}"))
                except PermanentError as exc:
                    results.append(CheckResult(False, f"{m.name}: {exc}", "GET /rest/api/*/field lists the fields"))
        results.extend(
            self.site.permission_checks(
                project,
                REQUIRED_PERMISSIONS,
                "make the account an agent of the service project (or grant it in its scheme)",
            )
        )
        return results

    def _check_request_types(self, project: str, desk: str, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        """Request type names the routes compare against exist in the service desk."""
        named: dict[str, set[str]] = {}
        for m in mappings:
            for condition in _field_conditions(m.route.where):
                if condition.operator in ("equals", "not_equals", "in", "not_in"):
                    try:
                        fid = self.field_id(condition.field)
                    except PermanentError:
                        continue
                    if is_request_type_field(self._schema(fid)):
                        operand = condition.operand
                        values = operand if isinstance(operand, list) else [operand]
                        named.setdefault(m.name, set()).update(str(v) for v in values)
        if not named:
            return []
        page = self.site._json("GET", f"/rest/servicedeskapi/servicedesk/{desk}/requesttype", params={"limit": 100})
        existing = {str(t.get("name", "")) for t in (page or {}).get("values") or []}
        out = []
        for mapping_name, names in sorted(named.items()):
            for name in sorted(names):
                ok = name in existing
                out.append(
                    CheckResult(
                        ok,
                        f"{mapping_name}: request type {name!r} exists in {project}",
                        None if ok else f"request types: {', '.join(sorted(existing))}",
                    )
                )
        return out

    @staticmethod
    def _itsm_field_names(mapping: MappingSpec) -> list[str]:
        names = [rule.itsm for rule in mapping.fields.values() if rule.itsm]
        names += sorted(condition_fields(mapping.route.where))
        names += [
            f for f in (mapping.links.itsm_key_field, mapping.links.itsm_url_field, mapping.links.link_existing) if f
        ]
        for target in mapping.status.to_itsm.values():
            if isinstance(target, ItsmStateTarget):
                names.extend(target.fields)
        return list(dict.fromkeys(n for n in names if n != "status"))

    def close(self) -> None:
        self.site.close()


def _field_conditions(condition: Any) -> Iterator[FieldCondition]:
    if condition is None:
        return
    if isinstance(condition, FieldCondition):
        yield condition
        return
    for child in getattr(condition, "all", None) or getattr(condition, "any", None) or []:
        yield from _field_conditions(child)
    inner = getattr(condition, "not_", None)
    if inner is not None:
        yield from _field_conditions(inner)


def _cf_clause(field_id: str) -> str | None:
    """``customfield_10050`` as JQL's ``cf[10050]`` (other ids are not searchable by emptiness here)."""
    if field_id.startswith("customfield_") and field_id[len("customfield_"):].isdigit():
        return f"cf[{field_id[len('customfield_'):]}]"
    return None
