"""What a new issue looks like without reading it back (docs/connectors/jira.md, "Creating issues").

``POST /issue`` (and each element of ``POST /issue/bulk``) answers only ``id``, ``key`` and ``self``. What
bridge needs of a new issue is its values, its status and its version. The values are those of the
create payload as a read would show them: the payload is turned into the raw issue a read would answer
and goes through the same conversion as every read (:meth:`JiraFields._to_issue`), so rich text, labels,
components, options and users are normalised exactly as a read normalises them. The status is the
initial status of the (project, issue type): learnt from the first create of the pair that is read back
while the issue is still unchanged (``created`` = ``updated``), and reused for the next ones. The
version is left empty: the next cycle's change search returns the new issue anyway (bridge's own
remote link touches it) and records the version it read.

A create is still read back when bridge cannot predict it: the pair's initial status is not known yet,
or the payload holds a value Jira may store differently from what was sent (text with leading or
trailing white space, a date-time, a field type the codec does not know, an empty value Jira may fill
with its default: the project's default assignee, the scheme's default priority).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.connectors.base import CreateSpec
from bridge.connectors.jira.search import JiraSearch
from bridge.model import Issue, Ref

#: field types whose create value a read shows in the same shape (OpenAPI v3 createIssue / getIssue)
_PREDICTABLE_TYPES = {"string", "number", "priority", "resolution", "user", "option", "version", "component",
                      "date", "array", "issuetype", "project", "securitylevel"}
#: how long a learnt initial status is trusted: a workflow an admin changed shows within this, in a running
#: daemon too (one create per project and issue type is read back again)
INITIAL_STATUS_TTL = 3600.0
#: the array items among them (a list of other objects may come back in another shape)
_PREDICTABLE_ITEMS = {"string", "option", "user", "version", "component"}


class JiraCreated(JiraSearch):
    """Predicting a created issue, and learning the initial status from the reads that remain."""

    def initial_statuses(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """The initial status (name, category key) learnt per (project key, issue type name)."""
        return dict(self._initial_status)

    def vendor_facts(self) -> dict[str, Any]:
        """Also the initial statuses learnt, so the next run's first create of a pair is not read back."""
        facts = super().vendor_facts()
        if self._initial_status:
            facts["initial_statuses"] = [
                {"project": project, "issue_type": issue_type, "status": name, "category": category}
                for (project, issue_type), (name, category) in sorted(self._initial_status.items())
            ]
        return facts

    def prime(self, facts: Mapping[str, Any]) -> None:
        super().prime(facts)
        for entry in facts.get("initial_statuses") or []:
            if isinstance(entry, Mapping) and entry.get("project") and entry.get("issue_type") and entry.get("status"):
                category = entry.get("category")
                pair = (str(entry["project"]), str(entry["issue_type"]))
                if pair not in self._initial_status:  # the store keeps facts for an hour: trusted from now
                    self._initial_status[pair] = (str(entry["status"]), str(category) if category else None)
                    self._initial_learnt[pair] = time.monotonic()

    def _predicted(self, spec: CreateSpec, payload: Mapping[str, Any], created: Mapping[str, Any],
                   wanted: Mapping[str, str], markers: Sequence[str]) -> Issue | None:
        """The new issue as a read would show it, or ``None`` when only a read can tell."""
        pair = (spec.project, spec.issue_type)
        initial = self._initial_status.get(pair)
        if initial is not None and time.monotonic() - self._initial_learnt.get(pair, 0.0) > INITIAL_STATUS_TTL:
            initial = None  # learnt over an hour ago: this create is read back and teaches it afresh
        if initial is None or not self._predictable(payload, wanted):
            return None
        name, category = initial
        fields = dict(payload)
        fields["status"] = {"name": name, "statusCategory": {"key": category}} if category else {"name": name}
        raw = {"id": str(created["id"]), "key": str(created["key"]), "fields": fields}
        return self._to_issue(raw, wanted, markers)

    def _predictable(self, payload: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
        """Whether a read would show exactly ``payload``: every field the mapping reads is sent, and no
        value is one Jira may store differently."""
        if any(fid not in payload for fid in wanted.values()):
            return False  # a field the payload leaves to Jira (a default) is only known by reading it
        for fid, value in payload.items():
            if fid in ("project", "issuetype", "labels", "components"):
                continue
            if value is None:
                return False  # sent empty: Jira may fill in its default (the project's assignee, a priority)
            if self._is_rich_text(fid):
                continue  # ADF / wiki markup: the read's conversion is applied to the very document sent
            schema = self._schema(fid)
            kind = schema.get("type")
            if kind not in _PREDICTABLE_TYPES and fid not in self._marker_fields:
                return False
            if kind == "array" and schema.get("items") not in _PREDICTABLE_ITEMS:
                return False
            if _untrimmed(value):
                return False
        return True

    def _learn_initial(self, spec: CreateSpec, raw: Mapping[str, Any]) -> None:
        """Keep the status a new issue read back shows, when nothing changed it since its creation."""
        fields = raw.get("fields") or {}
        status = fields.get("status") or {}
        name = status.get("name")
        created, updated = fields.get("created"), fields.get("updated")
        if not name or not created or created != updated:
            return  # moved already (an automation rule, a person): not the workflow's initial status
        category = (status.get("statusCategory") or {}).get("key")
        self._initial_status[(spec.project, spec.issue_type)] = (str(name), str(category) if category else None)
        self._initial_learnt[(spec.project, spec.issue_type)] = time.monotonic()

    def _read_back(self, ref: Ref, spec: CreateSpec, wanted: Mapping[str, str], markers: Sequence[str]) -> Issue:
        """``GET /issue/{id}`` of a new issue (learning its pair's initial status)."""
        fetch = [*self._fetch_list(wanted, markers), "created"]
        raw = self._json("GET", f"issue/{ref.id}", params={"fields": ",".join(dict.fromkeys(fetch))})
        self._learn_initial(spec, raw)
        return self._to_issue(raw, wanted, markers)


def _untrimmed(value: Any) -> bool:
    """Text with leading or trailing white space (in a value or any string inside it)."""
    if isinstance(value, str):
        return value != value.strip()
    if isinstance(value, Mapping):
        return any(_untrimmed(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_untrimmed(v) for v in value)
    return False
