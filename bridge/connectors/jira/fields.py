"""The field codec: the field catalogue, name → id resolution, and values to and from Jira's shapes.

System fields are known without asking (:data:`~bridge.connectors.jira.common.SYSTEM_FIELDS`), so a
mapping of system fields never costs a ``GET /field``; custom fields read the catalogue once per process.
Rich text is ADF on Cloud and wiki markup on DC, converted literally (:mod:`bridge.connectors.jira_text`)
so record text can never inject markup (docs/connectors/jira.md, "Fields and rich text").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.connectors.jira.common import (
    BASE_FIELDS,
    MARKER_LABEL_PREFIX,
    RICH_TEXT_SYSTEM_FIELDS,
    SYSTEM_FIELDS,
    name_of,
    parse_jira_datetime,
    zone_info,
)
from bridge.connectors.jira.transport import JiraTransport
from bridge.connectors.jira_text import adf_to_text, fit_for_jira, text_to_adf, text_to_wiki, wiki_to_text
from bridge.errors import AuthError, PermanentError
from bridge.model import FieldValue, Issue, Ref, Side, normalise


class JiraFields(JiraTransport):
    """The account, the field catalogue and the value codec the reading and writing parts share."""

    def myself(self) -> dict[str, Any]:
        """The account (``/myself``), read once: proves authentication and gives the profile time zone."""
        if self._myself is None:
            data = self._json("GET", "myself")
            if not isinstance(data, dict) or not (data.get("accountId") or data.get("name")):
                raise AuthError("jira /myself did not name an account: the credentials act as anonymous", side="jira")
            self._myself = data
        return self._myself

    def vendor_facts(self) -> dict[str, Any]:
        """What this process read of the account (``/myself``) and the field catalogue (``/field``), for a
        one-shot run to keep until the next one (:meth:`prime`)."""
        facts: dict[str, Any] = {}
        if self._myself is not None:
            facts["myself"] = self._myself
        if self._fields_by_id is not None:
            facts["fields"] = list(self._fields_by_id.values())
        return facts

    def prime(self, facts: Mapping[str, Any]) -> None:
        """Take the account and the field catalogue from an earlier run instead of reading them again.

        Authentication is still proven by the first request the run makes (a 401 there is an AuthError).
        """
        myself = facts.get("myself")
        if self._myself is None and isinstance(myself, dict) and (myself.get("accountId") or myself.get("name")):
            self._myself = myself
        fields = facts.get("fields")
        if self._fields_by_id is None and isinstance(fields, list):
            self._fields_by_id = {str(f["id"]): f for f in fields if isinstance(f, dict) and "id" in f}

    def user_zone(self) -> ZoneInfo:
        """The zone JQL date literals are read in: the override, else the account's profile zone."""
        return zone_info(self._zone_override or str(self.myself().get("timeZone") or "UTC"))

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
        return fid in RICH_TEXT_SYSTEM_FIELDS or str(self._schema(fid).get("custom", "")).endswith(":textarea")

    # =================================================================================== values

    def to_jira(self, fid: str, value: FieldValue) -> Any:
        """A normalised value in the shape Jira's create/edit wants for field ``fid``."""
        schema = self._schema(fid)
        kind = schema.get("type")
        if self._is_rich_text(fid):
            if value is None:
                return None
            text = str(value) if not isinstance(value, tuple) else "\n".join(value)
            text = fit_for_jira(text, cloud=self.cloud)  # the limit counts the converted form
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
            if isinstance(value, tuple):  # one_person gives a tuple only for several people
                raise PermanentError(
                    f"jira field {fid} holds one user, not {len(value)} ({', '.join(value)}): map it from a "
                    "single-person ITSM field, or map the ITSM field to a multi-user Jira field", side="jira")
            return self._user_ref(str(value))
        if kind == "option":
            return {"value": str(value)}
        if kind == "string":
            return str(value)
        return value

    def _user_ref(self, value: str) -> dict[str, str]:
        return {"accountId": value} if self.cloud else {"name": value}

    def issue_value(self, fid: str, value: Any) -> FieldValue:
        """An issue's field value: :meth:`normalise`, except that a Cloud user is its ``accountId``.

        ``user: true`` rules compare and write accounts (docs/connectors/jira.md, "Users"); a Cloud user
        object has no ``name`` and its display name is neither unique nor writable. (A Data Center user
        already normalises to its ``name``; JSM request fields keep the display name for templates.)
        """
        if self.cloud and isinstance(value, dict) and value.get("accountId"):
            return str(value["accountId"])
        if self.cloud and isinstance(value, list) and value and all(isinstance(v, dict) and v.get("accountId")
                                                                    for v in value):
            return tuple(sorted(str(v["accountId"]) for v in value))
        return self.normalise(fid, value)

    def normalise(self, fid: str, value: Any) -> FieldValue:
        """A Jira field value → :data:`FieldValue` (names for objects, plain text for rich text)."""
        if value is None:
            return None
        if self._is_rich_text(fid) or (isinstance(value, dict) and value.get("type") == "doc"):
            return adf_to_text(value) if isinstance(value, dict) else wiki_to_text(str(value))
        if self._schema(fid).get("type") == "datetime" and isinstance(value, str):
            return parse_jira_datetime(value).isoformat()
        if isinstance(value, dict):
            return name_of(value)
        if isinstance(value, list):
            return tuple(sorted(name_of(v) if isinstance(v, dict) else str(v) for v in value))
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
        self._remember_state(str(raw["id"]), fields)
        return Issue(
            ref=Ref(Side.JIRA, "issue", str(raw["id"]), key, f"{self.url}/browse/{key}"),
            fields={name: self.issue_value(fid, fields.get(fid)) for name, fid in wanted.items()},
            status=status.get("name"),
            status_category=(status.get("statusCategory") or {}).get("key"),
            updated=updated,
            # UTC with millis: the same change reads the same whatever the account's time zone is now.
            version=updated.isoformat(timespec="milliseconds") if updated_raw else "",
            back_reference=back,
        )

    #: how many issues' last known status :meth:`_remember_state` keeps (~100 bytes each)
    known_states_limit = 20_000

    def _remember_state(self, issue_id: str, fields: Mapping[str, Any]) -> None:
        """Keep the status (and its workflow) an answer showed, for :meth:`JiraWorkflow.set_status`."""
        status = str((fields.get("status") or {}).get("name") or "")
        project = str((fields.get("project") or {}).get("key") or "")
        issue_type = str((fields.get("issuetype") or {}).get("name") or "")
        if not (status and project and issue_type):
            return
        self._issue_states.pop(issue_id, None)
        self._issue_states[issue_id] = (status, (project, issue_type))
        excess = len(self._issue_states) - self.known_states_limit
        if excess > 0:  # list() copies the keys in one step: safe while the other lane thread writes too
            for oldest in list(self._issue_states)[:excess]:
                self._issue_states.pop(oldest, None)

    def _wanted(self, names: Sequence[str]) -> dict[str, str]:
        return {name: self.field_id(name) for name in names}

    def _fetch_list(self, wanted: Mapping[str, str], marker_fields: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*wanted.values(), *BASE_FIELDS, *marker_fields]))
