"""``bridge doctor`` / ``check --online`` for ServiceNow: credentials, tables, field names, choices, Batch API.

Split from :mod:`bridge.connectors.servicenow` (the adapter), whose reading methods these checks use.
Every failed check says what to grant or fix on the instance.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from bridge.connectors.base import CheckResult
from bridge.connectors.own_account import servicenow_check
from bridge.connectors.servicenow_batch import BatchRequest, BatchUnavailable, send_batch
from bridge.connectors.servicenow_journal import ServiceNowJournal
from bridge.connectors.servicenow_query import literal
from bridge.connectors.servicenow_values import _raw
from bridge.errors import AuthError, ConnectorError
from bridge.mapping.schema import ItsmStateTarget
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.mapping.transform import condition_fields


class ServiceNowChecks(ServiceNowJournal):
    """The diagnostics of :class:`~bridge.connectors.servicenow.ServiceNowConnector`."""

    base_url: str

    def _result(self, response: Any) -> Any:
        raise NotImplementedError

    def check(self, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            query = f"user_name={self.api_user}" if self.api_user and literal(self.api_user) else ""
            response = self.http.request("GET", self._path("sys_user"), params={
                "sysparm_query": query, "sysparm_fields": "user_name,name", "sysparm_limit": 1,
            })
            self._result(response)
        except AuthError as exc:
            return [CheckResult(False, f"ServiceNow {self.base_url}: authentication", _hint(
                "the instance refused the credentials: check the user and password (or OAuth token); the "
                "account must be active and allowed web service access", exc))]
        except ConnectorError as exc:
            if exc.status is None:
                return [CheckResult(False, f"ServiceNow {self.base_url}: reachable", _hint(
                    "check the URL, network, proxy and TLS certificate", exc))]
            results.append(CheckResult(True, f"ServiceNow {self.base_url}: reachable and authenticated"))
        else:
            results.append(CheckResult(True, f"ServiceNow {self.base_url}: reachable and authenticated"))

        tables = dict.fromkeys(m.route.record_type for m in mappings)
        for table in tables:
            results.append(self._check_read(table, f"table {table} readable", (
                f"grant the integration user read and write on {table} (role itil, or "
                f"{'sn_incident_write' if table == 'incident' else 'sn_change_write'} / a custom role with "
                f"table ACLs); check route.record_type for a typo")))
        results.append(self._check_batch())
        results.append(self._check_read("sys_journal_field", "sys_journal_field readable (work notes, comments)", (
            "grant the integration user read on sys_journal_field (a read ACL on sys_journal_field for its "
            "role, e.g. itil or a custom bridge role); without it bridge cannot mirror work notes or comments")))
        for table in tables:
            results.extend(self._check_fields(table, [m for m in mappings if m.route.record_type == table]))
        results.append(servicenow_check(self))  # does a person use bridge's account? (itsm.dedicated_account)
        return results

    def _check_batch(self) -> CheckResult:
        """Informational: whether a cycle's change search and journal read can share one call."""
        if not self.batch_api:
            return CheckResult(True, "ServiceNow Batch API not used (itsm.batch_api: false or refused before): "
                                     "a cycle's change search and journal read are two calls")
        try:
            send_batch(self.http, [BatchRequest("probe", self._path("sys_user"), {
                "sysparm_fields": "sys_id", "sysparm_limit": 1})])
        except BatchUnavailable:
            self.batch_api = False
            return CheckResult(True, "ServiceNow Batch API not available (/api/now/v1/batch): a cycle's change "
                                     "search and journal read are two calls")
        except ConnectorError as exc:
            return CheckResult(True, f"ServiceNow Batch API could not be checked ({exc}); bridge falls back "
                                     "to single calls if it is refused")
        return CheckResult(True, "ServiceNow Batch API available: a cycle's change search and journal read "
                                 "share one call")

    def _check_read(self, table: str, what: str, hint: str) -> CheckResult:
        try:
            self._result(self.http.request("GET", self._path(table), params={
                "sysparm_fields": "sys_id", "sysparm_limit": 1}))
        except ConnectorError as exc:
            return CheckResult(False, what, _hint(hint, exc))
        return CheckResult(True, what)

    def _check_fields(self, table: str, mappings: Sequence[MappingSpec]) -> list[CheckResult]:
        named: dict[str, set[str]] = {}
        states: dict[str, set[str]] = {}
        close_codes: dict[str, set[str]] = {}

        def name(field: str | None, mapping: MappingSpec) -> None:
            if field:
                named.setdefault(field, set()).add(mapping.name)

        for mapping in mappings:
            for field in condition_fields(mapping.route.where):
                name(field, mapping)
            for rule in mapping.fields.values():
                name(rule.itsm, mapping)
            for target in mapping.status.to_itsm.values():
                state = target if isinstance(target, str) else target.state
                states.setdefault(str(state), set()).add(mapping.name)
                if isinstance(target, ItsmStateTarget):
                    for field, value in target.fields.items():
                        name(field, mapping)
                        if field == "close_code" and isinstance(value, str | int | float):
                            close_codes.setdefault(str(value), set()).add(mapping.name)
            for link in (mapping.links.itsm_key_field, mapping.links.itsm_url_field, mapping.links.link_existing):
                name(link, mapping)
            for channel in [mapping.comments.to_itsm_channel, *mapping.comments.from_itsm_channels]:
                name(channel, mapping)
        results: list[CheckResult] = []
        try:
            # fields inherited from task live in task's dictionary entries
            rows = list(self._pages("sys_dictionary", f"nameIN{table},task^elementISNOTEMPTY", "element,reference"))
            existing = {_raw(r.get("element")): _raw(r.get("reference")) for r in rows}
        except ConnectorError as exc:
            return [CheckResult(False, f"{table}: fields named by the mappings", _hint(
                "grant the integration user read on sys_dictionary (role personalize_dictionary, or a read "
                "ACL) so bridge doctor can check field names", exc))]
        for field in sorted(named):
            where = ", ".join(sorted(named[field]))
            if "." in field and field.split(".", 1)[0] in existing:
                results.append(self._check_dot_walk(table, field, existing, where))
            elif field in existing:
                results.append(CheckResult(True, f"{table}.{field} exists (mapping {where})"))
            else:
                close = difflib.get_close_matches(field, sorted(existing), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"no field {field!r} on {table} or task"
                results.append(CheckResult(False, f"{table}.{field} exists (mapping {where})",
                                           f"{hint} — ServiceNow silently ignores unknown fields in queries"))
        if not states and not close_codes:
            return results
        try:
            rows = list(self._pages(
                "sys_choice", f"name={table}^elementINstate,close_code^inactive=false", "element,value,label"))
        except ConnectorError as exc:
            results.append(CheckResult(False, f"{table}: state and close_code choices", _hint(
                "grant the integration user read on sys_choice so bridge doctor can check choice values", exc)))
            return results
        choices: dict[str, dict[str, str]] = {}
        for row in rows:
            choices.setdefault(_raw(row.get("element")), {})[_raw(row.get("value"))] = _raw(row.get("label"))
        for element, wanted in (("state", states), ("close_code", close_codes)):
            valid = choices.get(element, {})
            for value in sorted(wanted):
                users = ", ".join(sorted(wanted[value]))
                what = f"{table}.{element} = {value!r} is a choice of the instance (mapping {users})"
                if value in valid:
                    results.append(CheckResult(True, what))
                else:
                    listed = ", ".join(f"{v!r} ({label})" for v, label in valid.items())
                    results.append(CheckResult(False, what, f"use one of: {listed}" if listed else
                                               f"the instance defines no active {element} choices on {table}"))
        return results

    def _check_dot_walk(self, table: str, field: str, existing: dict[str, str], where: str) -> CheckResult:
        """``assignment_group.name``: each step but the last must be a reference (``sys_dictionary.reference``
        names its table), and the last a field of the table the walk ends on."""
        what = f"{table}.{field} exists (mapping {where})"
        columns, at = existing, table
        *steps, last = field.split(".")
        for step in steps:
            target = columns.get(step)
            if not target:
                return CheckResult(False, what, f"{at}.{step} is not a reference field: only references dot-walk")
            try:
                rows = self._pages("sys_dictionary", f"name={target}^elementISNOTEMPTY", "element,reference")
                columns, at = {_raw(r.get("element")): _raw(r.get("reference")) for r in rows}, target
            except ConnectorError as exc:
                return CheckResult(False, what, _hint(f"cannot read the dictionary of {target}", exc))
        if last in columns:
            return CheckResult(True, what)
        close = difflib.get_close_matches(last, sorted(columns), n=1)
        return CheckResult(False, what, (f"did you mean {close[0]!r}? " if close else "")
                           + f"{at} has no field {last!r} — ServiceNow silently ignores unknown fields in queries")


def _hint(hint: str, exc: ConnectorError) -> str:
    return f"{hint} (ServiceNow said: {exc})"
