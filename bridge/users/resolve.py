"""Who a person is on the other side: the explicit table, then the cache, then e-mail, then the fallback.

Why a resolver of its own: mapping people costs vendor calls (a user lookup on one side, a search by
e-mail on the other), and the same assignee appears on every cycle. Results, found or not, are kept in the
store for ``users.cache_hours``, so a steady state costs nothing per cycle; the explicit table needs no
call at all. Directories and the cache are passed in (protocols), so the decision is testable without I/O.

Jira Cloud hides most accounts' e-mail addresses (the user's profile visibility decides); a search by
e-mail still finds an account whose address is visible to bridge's account, and nothing else. Accounts
that cannot be found that way belong in ``users.table`` (docs/mappings.md, "users").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from bridge.errors import NotFoundError
from bridge.mapping.schema import UserRules
from bridge.model import FieldValue

Direction = Literal["to_jira", "to_itsm"]


class Directory(Protocol):
    """One system's users, as bridge may ask for them."""

    def email_of(self, handle: str) -> str | None:
        """The e-mail address of user ``handle`` (``None``: address hidden); :class:`NotFoundError`: no such user."""

    def find_by_email(self, email: str) -> str | None:
        """The handle of the user with address ``email`` (``None``: nobody, or not visible to bridge)."""


class UserCache(Protocol):
    """Remembered answers: ``(mapping, direction, handle)`` → the other side's handle or ``None``."""

    def cached_user(self, mapping: str, direction: str, handle: str, not_before: datetime) -> tuple[str | None] | None:
        """``(answer,)`` when one was stored at or after ``not_before``; ``None`` when nothing fresh is known."""

    def cache_user(self, mapping: str, direction: str, handle: str, answer: str | None, at: datetime) -> None:
        """Remember ``answer`` (``None``: looked up, nobody found) for ``handle``."""


@dataclass
class UserResolver:
    """Resolves people of one mapping; ``unresolved`` collects who fell back (for ``bridge check --online``)."""

    mapping: str
    rules: UserRules
    itsm: Directory | None
    jira: Directory | None
    cache: UserCache | None
    clock: Callable[[], datetime]
    unresolved: dict[tuple[Direction, str], str] = field(default_factory=dict)

    def resolve(self, direction: Direction, handle: str) -> str | None:
        """The other side's handle for ``handle``: table, fresh cache, e-mail lookup, then the fallback."""
        if not handle:
            return None
        pairs = {(p.itsm, p.jira) for p in self.rules.table}
        for itsm, jira in pairs:
            if direction == "to_jira" and itsm == handle:
                return jira
            if direction == "to_itsm" and jira == handle:
                return itsm
        found = self._looked_up(direction, handle)
        if found is not None:
            return found
        fallback = self.rules.fallback
        if fallback is None:
            return None
        return fallback.jira if direction == "to_jira" else fallback.itsm

    def _looked_up(self, direction: Direction, handle: str) -> str | None:
        now = self.clock()
        if self.cache is not None:
            oldest = now - timedelta(hours=self.rules.cache_hours)
            fresh = self.cache.cached_user(self.mapping, direction, handle, oldest)
            if fresh is not None:
                if fresh[0] is None:
                    self.unresolved[(direction, handle)] = "not found (cached)"
                return fresh[0]
        answer, why = self._ask(direction, handle)
        if answer is None:
            self.unresolved[(direction, handle)] = why
        if self.cache is not None:
            self.cache.cache_user(self.mapping, direction, handle, answer, now)
        return answer

    def _ask(self, direction: Direction, handle: str) -> tuple[str | None, str]:
        if self.rules.match_by != "email":
            return None, "not in users.table"
        source, target = (self.itsm, self.jira) if direction == "to_jira" else (self.jira, self.itsm)
        if source is None or target is None:
            return None, "this system cannot be asked for users"
        try:
            email = source.email_of(handle)
        except NotFoundError:
            return None, "no such user"
        if not email:
            return None, "no e-mail address visible to bridge"
        found = target.find_by_email(email)
        return (found, "") if found else (None, f"nobody with the address {email} on the other side")

    def translate(self, direction: Direction, value: FieldValue) -> FieldValue:
        """A user field's value translated (multi-user values item by item; who cannot be found is dropped)."""
        if value is None or value == "":
            return None
        if isinstance(value, tuple):
            return tuple(sorted(h for h in (self.resolve(direction, str(v)) for v in value) if h))
        return self.resolve(direction, str(value))


def people_in(values: Iterable[FieldValue]) -> set[str]:
    """Every handle in a list of user field values."""
    out: set[str] = set()
    for value in values:
        if isinstance(value, tuple):
            out |= {str(v) for v in value if v}
        elif value not in (None, ""):
            out.add(str(value))
    return out
