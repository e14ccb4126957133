"""Writing issues: create, bulk create (``POST /issue/bulk``, 50 per request), field updates, label
edits and the remote link back to the record (docs/connectors/jira.md, "Writes").

Every write drops the issue's comment hint: what the last change search saw no longer describes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira.created import JiraCreated
from bridge.errors import ConnectorError, PermanentError
from bridge.model import FieldValue, Item, Ref, Side
from bridge.vendors import jira as jira_facts
from bridge.vendors import rt as rt_facts
from bridge.vendors import servicenow as servicenow_facts

# ---------------------------------------------------------------------------- other vendors' facts
# Used only to name the application of a remote link when the settings do not (``itsm_application``).
# ServiceNow's tables and the display names come from bridge/vendors/; the URL hints and application
# type keys below are not there yet: the integrator may move them next to the other vendor facts.

#: Host name fragments of ServiceNow instance URLs.
SERVICENOW_URL_HINTS = ("service-now", "servicenow")
#: Remote-link ``application`` (type, name) of each ITSM tool.
SERVICENOW_APPLICATION = ("com.servicenow", servicenow_facts.DISPLAY_NAME)
RT_APPLICATION = ("com.bestpractical.rt", rt_facts.DISPLAY_NAME)


class JiraWrites(JiraCreated):
    """Issue creation and edits, and the back-reference to the record."""

    def create(self, spec: CreateSpec) -> Item:
        """``POST /issue``; the new issue is read back only when it cannot be predicted (:mod:`.created`)."""
        payload, markers = self._create_payload(spec)
        created = self._json("POST", "issue", body={"fields": payload}, idempotent=False)
        ref = Ref(Side.JIRA, "issue", str(created["id"]), str(created["key"]), f"{self.url}/browse/{created['key']}")
        wanted = self._wanted(list(spec.fields))
        predicted = self._predicted(spec, payload, created, wanted, markers)
        return predicted if predicted is not None else self._read_back(ref, spec, wanted, markers)

    #: Jira's bulk create takes at most 50 issues per request (OpenAPI v3 createIssues).
    create_batch_size = 50

    def create_many(self, specs: Sequence[CreateSpec]) -> list[Item | ConnectorError]:
        """``POST /issue/bulk`` (Cloud v3 and DC v2) per 50 specs, then ONE search reads back the new issues
        that cannot be predicted (:mod:`.created`; none once each project and issue type was read once).

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
        predicted: dict[int, Item] = {}
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
            payload_of = {index: payload for index, payload, _ in sent}
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
                own = self._wanted(list(specs[index].fields))
                issue = self._predicted(specs[index], payload_of[index], raw, own, markers)
                if issue is not None:
                    predicted[index] = issue
                    continue
                made.append((index, Ref(Side.JIRA, "issue", str(raw["id"]), key, f"{self.url}/browse/{key}"), markers))
            for index, item in [*predicted.items(), *self._read_created(specs, made).items()]:
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
        fetch = [*self._fetch_list(wanted, all_markers), "created"]
        found = {str(raw["id"]): raw for raw in self.search(jql, list(dict.fromkeys(fetch)), ids)}
        out: dict[int, Item] = {}
        for index, ref, group in made:
            own = {name: fid for name, fid in wanted.items() if name in specs[index].fields}
            raw = found.get(ref.id)
            if raw is None:  # not searchable yet: read it directly
                out[index] = self._read_back(ref, specs[index], own, group)
                continue
            self._learn_initial(specs[index], raw)
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

    def write_back_reference(self, ref: Ref, other: Ref, values: Mapping[str, FieldValue]) -> None:
        """Upsert a remote link to the record: its ``globalId`` is derived from the record, so it never doubles."""
        self._comment_hints.pop(ref.id, None)  # written now: the last search no longer describes it
        base = self._itsm_base(other)
        global_id = f"system={base}&type={other.kind}&id={other.id}"
        if len(global_id) > jira_facts.MAX_GLOBAL_ID_LENGTH:
            raise PermanentError(
                f"remote link globalId would exceed {jira_facts.MAX_GLOBAL_ID_LENGTH} characters", side="jira"
            )
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

    def link_issues(self, ref: Ref, other: Ref, link_type: str) -> None:
        """``POST issueLink``: ``ref`` is the outward issue ("OPS-4 duplicates OPS-2"), ``other`` the inward one
        (docs/connectors/jira.md, "Vendor facts bridge relies on"). Jira keeps one link however often it is sent."""
        self._comment_hints.pop(ref.id, None)
        body = {
            "type": {"name": link_type},
            "outwardIssue": {"key": ref.key} if ref.key else {"id": ref.id},
            "inwardIssue": {"key": other.key} if other.key else {"id": other.id},
        }
        self._request("POST", "issueLink", body=body)

    def _itsm_base(self, other: Ref) -> str:
        if other.url:
            parts = urlsplit(other.url)
            if parts.scheme and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}"
        return self.itsm_base_url or "urn:bridge"

    def _application(self, other: Ref) -> tuple[str, str]:
        if self.itsm_application:
            return self.itsm_application
        if servicenow_facts.is_table(other.kind) or any(hint in other.url for hint in SERVICENOW_URL_HINTS):
            return SERVICENOW_APPLICATION
        return RT_APPLICATION
