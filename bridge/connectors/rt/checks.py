"""``bridge doctor`` on RT: REST2 reachable, credentials, the bridge user, queues, custom fields, rights,
and the time zone RT reads bridge's date literals in (see "`bridge doctor` checks" in ``docs/connectors/rt.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote as url_quote

from bridge.connectors.base import CheckResult
from bridge.connectors.own_account import rt_check
from bridge.connectors.rt.content import RTContent
from bridge.connectors.rt_parse import parse_datetime, ticket_id
from bridge.connectors.rt_query import custom_field_name, date_literal, quote
from bridge.errors import AuthError, ConnectorError, NotFoundError, PermanentError, TransientError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields


class RTChecks(RTContent):
    """Read-only diagnostics; nothing here writes to RT."""

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            response = self.http.request("GET", "rt", ok=(200,))
            version = response.json().get("Version") if response.headers.get(
                "Content-Type", ""
            ).startswith("application/json") else None
        except AuthError:
            results.append(CheckResult(True, f"Request Tracker reachable at {self.web_url}"))
            results.append(CheckResult(False, "Request Tracker accepts bridge's credentials",
                                       "the auth token is wrong, expired or revoked: make a new one as the bridge "
                                       "user under Settings → Auth Tokens"))
            return results
        except NotFoundError:
            results.append(CheckResult(False, f"Request Tracker REST2 at {self.rest_url}",
                                       "nothing answers there: give RT's web root as the URL (Debian serves it "
                                       "under /rt) and make sure REST2 is not disabled"))
            return results
        except (TransientError, PermanentError) as exc:
            results.append(CheckResult(False, f"Request Tracker reachable at {self.web_url}", str(exc)))
            return results
        except ValueError:
            version = None
        if not version:
            results.append(CheckResult(False, f"Request Tracker REST2 at {self.rest_url}",
                                       "RT answered a web page instead of REST2 JSON: it may be serving its "
                                       "install wizard (it cannot open its database) or the URL is not RT's web root"))
            return results
        results.append(CheckResult(True, f"Request Tracker {version} reachable at {self.web_url}"))
        results.append(CheckResult(True, "Request Tracker accepts bridge's credentials"))
        if self.bridge_user:
            try:
                user = self._json("GET", f"user/{url_quote(self.bridge_user, safe='')}") or {}
                self.bridge_user = str(user.get("Name") or self.bridge_user)
                zone = str(user.get("Timezone") or "")
                results.append(CheckResult(True, f"RT user {self.bridge_user!r} exists"))
                if zone and zone != self.timezone.key:
                    results.append(CheckResult(False, f"RT user {self.bridge_user!r} has bridge's time zone",
                                               f"the user's preference is {zone}; RT reads bridge's date literals "
                                               f"in it: set bridge's RT time zone to {zone}"))
            except NotFoundError:
                results.append(CheckResult(False, f"RT user {self.bridge_user!r} exists",
                                           "set rt.bridge_user to the login that owns the auth token"))
            except ConnectorError as exc:
                results.append(CheckResult(False, f"RT user {self.bridge_user!r} readable", str(exc)))
        for mapping in mappings:
            self._mappings[mapping.route.record_type] = mapping
            results.extend(self._check_mapping(mapping))
        results.append(rt_check(self))  # does a person use the bridge user? (itsm.dedicated_account)
        return results

    def _check_mapping(self, mapping: MappingSpec) -> list[CheckResult]:
        queue = mapping.route.record_type
        results: list[CheckResult] = []
        try:
            known = self._custom_fields_of(queue)
        except ConnectorError as exc:
            if exc.status in (403, 404):  # RT answers 403 "Forbidden" for a queue that does not exist, too
                return [CheckResult(False, f"[{mapping.name}] RT queue {queue!r} is visible",
                                    "the queue does not exist or the bridge user lacks SeeQueue on it")]
            return [CheckResult(False, f"[{mapping.name}] RT queue {queue!r} readable", str(exc))]
        results.append(CheckResult(True, f"[{mapping.name}] RT queue {queue!r} is visible"))
        for cf in sorted(_mapping_custom_fields(mapping)):
            if cf in known:
                results.append(CheckResult(True, f"[{mapping.name}] custom field {cf!r} on queue {queue!r}"))
            else:
                results.append(CheckResult(False, f"[{mapping.name}] custom field {cf!r} on queue {queue!r}",
                                           "create it (Admin → Custom Fields), apply it to the queue, and grant "
                                           "the bridge user SeeCustomField and ModifyCustomField"))
        results.extend(self._check_rights(mapping))
        return results

    def _check_rights(self, mapping: MappingSpec) -> list[CheckResult]:
        """Rights, read from the hypermedia links RT offers on one ticket of the queue (no test writes)."""
        queue = mapping.route.record_type
        try:
            data = self._json("GET", "tickets", params={"query": f"Queue = {quote(queue)}", "per_page": 1,
                                                         "fields": "Status,LastUpdated,_hyperlinks"})
        except ConnectorError as exc:
            return [CheckResult(False, f"[{mapping.name}] the bridge user can search queue {queue!r}", str(exc))]
        items = (data or {}).get("items") or []
        if not items:
            return [CheckResult(True, f"[{mapping.name}] rights on queue {queue!r} not verified",
                                "the queue has no ticket the bridge user can see yet (ShowTicket?)")]
        refs = {str(link.get("ref")) for link in items[0].get("_hyperlinks") or [] if isinstance(link, dict)}
        needed = {"comment": "CommentOnTicket"}
        if mapping.comments.to_itsm_channel == "correspond":
            needed["correspond"] = "ReplyToTicket"
        if mapping.status.to_itsm:
            needed["lifecycle"] = "ModifyTicket"
        results = []
        for ref, right in needed.items():
            ok = ref in refs
            results.append(CheckResult(ok, f"[{mapping.name}] the bridge user has {right} on queue {queue!r}",
                                       None if ok else f"grant {right} to the bridge user on queue {queue!r}"))
        if not self._time_zone_checked:
            results.append(self._check_time_zone(items[0]))
        return results

    def _check_time_zone(self, raw: Mapping[str, Any]) -> CheckResult:
        """Probe how RT reads our date literals, with a ticket whose ``LastUpdated`` is known (two calls).

        ``LastUpdated >= <T - 1 s>`` must select the ticket and ``LastUpdated >= <T + 1 s>`` must not; with a
        wrong ``timezone`` one of them fails by the zones' difference. No other REST2 answer reveals the
        zone RT parses in (its ``$Timezone``, or the bridge user's own preference).
        """
        self._time_zone_checked = True
        what = f"RT reads bridge's date literals in {self.timezone.key}"
        updated = parse_datetime(raw.get("LastUpdated"))
        if updated is None:
            return CheckResult(True, what + " (not verified: no ticket date)")
        rt_id = ticket_id(raw.get("id"))
        found = []
        for offset in (-1, 1):
            literal = date_literal(updated + timedelta(seconds=offset), self.timezone)
            data = self._json("GET", "tickets", params={"query": f"id = {rt_id} AND LastUpdated >= {literal}"})
            found.append(bool((data or {}).get("items")))
        ok = found == [True, False]
        return CheckResult(ok, what, None if ok else (
            "set the RT time zone in bridge's settings to RT's $Timezone, or to the bridge user's own time zone "
            "preference when it has one (RT > Settings > Preferences); otherwise changes are missed"
        ))


def _mapping_custom_fields(mapping: MappingSpec) -> set[str]:
    names: set[str] = set()
    candidates = [
        *condition_fields(mapping.route.where),
        mapping.links.itsm_key_field,
        mapping.links.itsm_url_field,
        mapping.links.link_existing,
    ]
    for rule in mapping.fields.values():
        candidates.append(rule.itsm)
    for target in mapping.status.to_itsm.values():
        if not isinstance(target, str):
            candidates.extend(target.fields)
    for field in candidates:
        cf = custom_field_name(field) if field else None
        if cf:
            names.add(cf)
    return names
