"""The lexical layer of the sandbox's JQL subset: Jira's refusal (:class:`JqlError`), tokens, and date
literals — the part where Jira's exact wording and accepted forms matter most, kept apart from the
grammar and evaluation in :mod:`.jql`.

Date literals follow Jira's documented forms only (Atlassian "Advanced searching - fields reference",
https://confluence.atlassian.com/spaces/JIRA052/pages/314448708): ``"yyyy/MM/dd HH:mm"``,
``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``, ``"yyyy-MM-dd"``, a relative period or epoch milliseconds, read
in the searching user's zone with minute precision (docs/connectors/jira.md, "What the Jira sandbox
reproduces").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


class JqlError(ValueError):
    """A query Jira would refuse: ``messages`` go into ``errorMessages`` of a 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages = [message]


DATE_FORMATS_MESSAGE = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|!~|>=|<=|=|~|>|<)
      | (?P<punct>[(),])
      | (?P<cf>cf\[\d+\])
      | (?P<word>[^\s"'(),=!~<>]+)
    )""",
    re.VERBOSE | re.IGNORECASE,
)

_PERIOD_RE = re.compile(r"^-?\s*(\d+\s*[wdhm]\s*)+$", re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    kind: str
    value: str
    pos: int


def tokenize(jql: str) -> list[Token]:
    """Split ``jql`` into tokens; a character JQL reserves is refused with Jira's message and position."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(jql, pos)
        if not match or match.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{jql[pos:].lstrip()[:1]}' is a reserved JQL character. "
                f"You must enclose it in a string or use the escape '\\u{ord(jql[pos:].lstrip()[:1] or ' '):04x}' "
                f"instead. (line 1, character {pos + 1})"
            )
        kind = match.lastgroup or "word"
        raw = match.group(kind)
        value = raw
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        tokens.append(Token(kind, value, match.start(kind)))
        pos = match.end()
    return tokens


_DATE_RES = [
    (re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2}) (\d{1,2}):(\d{2})$"), True),
    (re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$"), False),
]


def check_date(field: str, value: str) -> None:
    """Refuse, at parse time, a literal that is not one of Jira's accepted date forms."""
    value = value.strip()
    if re.fullmatch(r"\d{9,}", value) or _PERIOD_RE.match(value):
        return
    for regex, _ in _DATE_RES:
        match = regex.match(value)
        if match and _valid_fields(match):
            return
    # Jira's message for a literal it cannot read (Jira's JQL func-test sources; docs/connectors/jira.md,
    # "What the Jira sandbox reproduces").
    raise JqlError(f"Date value '{value}' for field '{field}' is invalid. {DATE_FORMATS_MESSAGE}")


def _valid_fields(match: re.Match[str]) -> bool:
    parts = [int(p) for p in match.groups()]
    try:
        hour, minute = (parts[3], parts[4]) if len(parts) > 3 else (0, 0)
        datetime(parts[0], parts[1], parts[2], hour, minute)
    except ValueError:
        return False
    return True


def is_relative_date(value: str) -> bool:
    """Whether ``value`` is a period from now (``-5m``, ``2w 1d``) rather than a fixed instant."""
    return bool(_PERIOD_RE.match(value.strip()))


def date_millis(value: str, zone: ZoneInfo, now: datetime) -> int:
    """A JQL date literal as epoch millis, read in the searching user's zone (minute precision)."""
    value = value.strip()
    if re.fullmatch(r"\d{9,}", value):
        return int(value)
    if _PERIOD_RE.match(value):
        sign = -1 if value.startswith("-") else 1
        units = {"w": 604800, "d": 86400, "h": 3600, "m": 60}
        seconds = sum(int(n) * units[u.lower()] for n, u in re.findall(r"(\d+)\s*([wdhmWDHM])", value))
        return int((now + timedelta(seconds=sign * seconds)).timestamp() * 1000)
    for regex, has_time in _DATE_RES:
        match = regex.match(value)
        if match:
            parts = [int(p) for p in match.groups()]
            hour, minute = (parts[3], parts[4]) if has_time else (0, 0)
            local = datetime(parts[0], parts[1], parts[2], hour, minute, tzinfo=zone)
            return int(local.timestamp() * 1000)
    raise JqlError(f"Date value '{value}' for field 'updated' is invalid. {DATE_FORMATS_MESSAGE}")
