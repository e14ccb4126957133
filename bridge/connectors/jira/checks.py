"""Online checks (``bridge doctor``): the site answers as the configured deployment, the credentials
name an account, and each mapped project has the issue types, statuses, fields and permissions the
mappings need (docs/connectors/jira.md, "The account and its permissions").
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.connectors.base import CheckResult
from bridge.connectors.jira.common import REQUIRED_PERMISSIONS
from bridge.connectors.jira.fields import JiraFields
from bridge.errors import AuthError, ConnectorError, NotFoundError, PermanentError
from bridge.mapping.schema import Mapping as MappingSpec


class JiraChecks(JiraFields):
    """The connector's ``check`` and the permission lines the JSM connector reuses."""

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
