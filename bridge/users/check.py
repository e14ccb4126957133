"""What ``bridge check --online`` says about a mapping's people: who in ``users:`` cannot be resolved.

Every account the mapping names (``users.table``, ``users.fallback``) is looked up on its side; one that
does not exist, or whose side bridge cannot ask, is reported. With ``match_by: email`` on Jira Cloud,
a table account whose address Jira hides is reported as a hint: e-mail matching cannot find such people.
"""

from __future__ import annotations

from bridge.connectors.base import CheckResult
from bridge.errors import ConnectorError, NotFoundError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.users.resolve import Directory


def _lookup(directory: Directory | None, handle: str) -> tuple[bool | None, str | None]:
    """(exists, e-mail) of ``handle``; ``None`` for "cannot tell" (no directory)."""
    if directory is None:
        return None, None
    try:
        return True, directory.email_of(handle)
    except NotFoundError:
        return False, None


def user_findings(mapping: MappingSpec, itsm: Directory | None, jira: Directory | None) -> list[CheckResult]:
    """One line per account the mapping names, and a summary line; empty without ``user: true`` rules."""
    if not any(rule.user for rule in mapping.fields.values()):
        return []
    rules = mapping.users
    named = [(f"users.table[{i}]", pair) for i, pair in enumerate(rules.table)]
    if rules.fallback is not None:
        named.append(("users.fallback", rules.fallback))
    out: list[CheckResult] = []
    unresolved = 0
    for where, pair in named:
        for side, directory, handle in (("ITSM", itsm, pair.itsm), ("Jira", jira, pair.jira)):
            try:
                exists, _ = _lookup(directory, handle)
            except ConnectorError as exc:
                out.append(CheckResult(False, f"{mapping.name}: {where}: cannot look up {side} user {handle}: {exc}"))
                unresolved += 1
                continue
            if exists is False:
                unresolved += 1
                out.append(CheckResult(False, f"{mapping.name}: {where}: no {side} user {handle!r}",
                                       "use the ServiceNow sys_user sys_id, the RT login, the Jira accountId "
                                       "(Cloud) or user name (Data Center)"))
    if not unresolved:
        how = "by e-mail, then " if rules.match_by == "email" else ""
        out.append(CheckResult(True, f"{mapping.name}: users resolve {how}through {len(rules.table)} table "
                                     f"pair(s)" + (" and the fallback" if rules.fallback else "")))
    return out
