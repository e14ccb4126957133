"""What ``bridge check --online`` says about a mapping's people: who in ``users:`` cannot be resolved.

Every account the mapping names (``users.table``, ``users.fallback``) is looked up on its side; one that
does not exist, or whose side bridge cannot ask, is reported. With ``match_by: email`` on Jira Cloud,
a table account whose address Jira hides is reported as a hint: e-mail matching cannot find such people.

:func:`sampled_people` looks further: the people in the route's newest records (and, when a rule writes
people back, in the newest mirrored issues) whom the table and e-mail matching cannot find, so an admin
knows whom to add to ``users.table`` before they silently become the fallback (warnings, not errors).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.connectors.base import CheckResult, Connector
from bridge.errors import ConnectorError, NotFoundError
from bridge.mapping.schema import Mapping as MappingSpec
from bridge.model import Item
from bridge.users.resolve import Directory, UserResolver, people_in


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


#: how many of the route's newest records (and of the project's newest mirrored issues) are sampled
SAMPLE = 50
#: how far back the sample looks: a check must not page through years of history
SAMPLE_DAYS = 30


@dataclass(frozen=True)
class Unresolved:
    """A person seen in a recent record or issue whom neither ``users.table`` nor e-mail matching finds."""

    what: str
    hint: str


def _newest(items: Iterable[Item]) -> list[Item]:
    """The last :data:`SAMPLE` of an oldest-first search."""
    return list(deque(items, maxlen=SAMPLE))


def sampled_people(
    mapping: MappingSpec,
    itsm: Connector,
    jira: Connector,
    resolver: UserResolver,
    now: datetime,
) -> tuple[int, list[Unresolved]]:
    """(people sampled, who among them cannot be resolved) in the route's newest records and, when a rule
    writes people back, the project's newest mirrored issues.

    The fallback is left out on purpose: who would silently become the fallback account is exactly whom
    an admin should add to ``users.table``. ``resolver`` should have no cache, so the answer is today's.
    """
    rules = [(key, rule) for key, rule in mapping.fields.items() if rule.user and rule.itsm]
    if not rules:
        return 0, []
    since = now - timedelta(days=SAMPLE_DAYS)
    sources = sorted({rule.itsm for _, rule in rules if rule.itsm})
    records = _newest(itsm.search_changed(mapping, since, sources))
    handles = people_in(r.fields.get(f) for r in records for f in sources) - {getattr(resolver.itsm, "nobody", "")}
    back = [key for key, rule in rules if rule.direction != "to_jira"]
    issues = _newest(jira.search_changed(mapping, since, back)) if back else []
    accounts = people_in(i.fields.get(key) for i in issues for key in back)
    out: list[Unresolved] = []
    for handle in sorted(handles):
        if resolver.resolve("to_jira", handle) is None:
            why = resolver.unresolved.get(("to_jira", handle), "")
            out.append(Unresolved(f"{mapping.name}: ITSM user {handle} (in recent records) has no Jira account: {why}",
                                  "add the pair to users.table, or they get users.fallback"))
    for account in sorted(accounts):
        if resolver.resolve("to_itsm", account) is None:
            why = resolver.unresolved.get(("to_itsm", account), "")
            out.append(Unresolved(f"{mapping.name}: Jira user {account} (in recent issues) has no ITSM user: {why}",
                                  "add the pair to users.table; without one bridge keeps the record's person"))
    return len(handles) + len(accounts), out


def without_fallback(mapping: MappingSpec, itsm: Directory | None, jira: Directory | None,
                     now: datetime) -> UserResolver:
    """A resolver that asks the vendors (no cache) and never falls back: it tells who is really unknown."""
    rules = mapping.users.model_copy(update={"fallback": None})
    return UserResolver(mapping.name, rules, itsm, jira, None, lambda: now)
