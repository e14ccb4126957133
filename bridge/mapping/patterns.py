"""The one place a regular expression from a mapping runs: compiled once, searched with a time limit.

A skip rule such as ``^(\\w+\\s?)*$`` is harmless on short text and catastrophic on a crafted comment
with Python's ``re``: backtracking is exponential, ``re`` holds the GIL in C, so SIGTERM is never handled
and a systemd watchdog restarts the daemon into the same comment. Mapping regexes therefore run on the
``regex`` package, whose ``timeout=`` stops a search from inside its matching loop. (``re2`` bounds time
by construction but has no backreferences or lookarounds, which admins' skip rules use.)

A search that runs out of time raises :class:`PatternTimeout`; the callers decide what that means for the
record in hand (a skip rule is not applied and the comment is mirrored; a route condition does not select
the record) and put a located problem on the error list: never a hang.

:func:`nested_quantifiers` finds the shape behind most catastrophic patterns (a quantified group that
itself contains a quantifier, like ``(a+)+``) so ``bridge check`` can warn before the daemon meets it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import regex

from bridge.errors import BridgeError

DEFAULT_TIMEOUT_MS = 50
"""How long one search of one mapping regex on one value may take (``mappings.regex_timeout_ms``)."""

_timeout_ms: float = DEFAULT_TIMEOUT_MS


class PatternTimeout(BridgeError):
    """A mapping regex took longer than the limit on one value; the caller says which rule and record."""

    def __init__(self, pattern: str, limit_ms: float) -> None:
        super().__init__(f"regular expression {pattern!r} took longer than {limit_ms:g} ms")
        self.pattern = pattern
        self.limit_ms = limit_ms


def set_timeout_ms(milliseconds: float) -> None:
    """Set the per-search limit for this process (from settings, once at start-up)."""
    global _timeout_ms
    if milliseconds <= 0:
        raise ValueError("the regex time limit must be a positive number of milliseconds")
    _timeout_ms = float(milliseconds)


def timeout_ms() -> float:
    """The per-search limit in force, in milliseconds."""
    return _timeout_ms


def check_syntax(pattern: str) -> str | None:
    """Why ``pattern`` does not compile with the engine that will run it, or ``None`` when it does."""
    try:
        compile_pattern(pattern)
    except regex.error as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """The compiled pattern; ``regex.error`` when it is not valid.

    ``regex.V0`` keeps the semantics of Python's ``re`` that mappings were written against.
    """
    return regex.compile(pattern, regex.V0)


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` occurs anywhere in ``text``; :class:`PatternTimeout` past the time limit."""
    limit = _timeout_ms
    try:
        return compile_pattern(pattern).search(text, timeout=limit / 1000) is not None
    except TimeoutError:
        raise PatternTimeout(pattern, limit) from None


def span(pattern: str, text: str) -> tuple[int, int] | None:
    """Where ``pattern`` first occurs in ``text`` (start, end), or ``None``; times out as :func:`search`."""
    limit = _timeout_ms
    try:
        found = compile_pattern(pattern).search(text, timeout=limit / 1000)
    except TimeoutError:
        raise PatternTimeout(pattern, limit) from None
    return None if found is None else found.span()


# ------------------------------------------------------------------------------ static warning


@dataclass(frozen=True)
class NestedQuantifier:
    """A quantified group containing a quantifier: ``offset`` is where the group starts in the pattern."""

    offset: int
    group: str


def _quantifier_at(pattern: str, i: int) -> tuple[int, int | None, int]:
    """(least, most or None for unbounded, length) of a quantifier at ``pattern[i]``; length 0 if none."""
    if i >= len(pattern):
        return 1, 1, 0
    ch = pattern[i]
    if ch in "*+?":
        return (0 if ch != "+" else 1), (None if ch != "?" else 1), 1
    if ch == "{":
        end = pattern.find("}", i)
        if end == -1:
            return 1, 1, 0
        low, comma, high = (part.strip() for part in pattern[i + 1 : end].partition(","))
        if not (low.isdigit() or (comma and not low)) or (high and not high.isdigit()):
            return 1, 1, 0  # a literal brace
        least = int(low or 0)
        most = (int(high) if high else None) if comma else least
        return least, most, end - i + 1
    return 1, 1, 0


def _repeats(most: int | None) -> bool:
    return most is None or most > 1


def _varies(least: int, most: int | None) -> bool:
    return most is None or (most > least and most > 1)


def nested_quantifiers(pattern: str) -> list[NestedQuantifier]:
    """Groups that repeat (``*``, ``+``, ``{n,}``, ``{n,m>1}``) and contain a variable repeat (``+``, ``{2,5}``).

    A lexical scan (escapes and character classes skipped), sound for the usual shapes; atomic groups
    ``(?>…)`` and possessive quantifiers are exempt because they cannot backtrack.
    """
    found: list[NestedQuantifier] = []
    stack: list[tuple[int, bool, bool]] = []  # (start, atomic, contains a repeating quantifier)
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            least, most, length = _quantifier_at(pattern, i)
            if _varies(least, most) and stack:
                stack[-1] = (stack[-1][0], stack[-1][1], True)
            i += length
            continue
        if ch == "(":
            stack.append((i, pattern.startswith("(?>", i), False))
            i += 1
            continue
        if ch == ")" and stack:
            start, atomic, inner = stack.pop()
            least, most, length = _quantifier_at(pattern, i + 1)
            possessive = length and pattern[i + 1 + length : i + 2 + length] == "+"
            if _repeats(most) and inner and not atomic and not possessive:
                found.append(NestedQuantifier(start, pattern[start : i + 1 + length]))
            if stack and (inner or _varies(least, most)):
                stack[-1] = (stack[-1][0], stack[-1][1], True)
            i += 1 + length
            continue
        least, most, length = _quantifier_at(pattern, i)
        if length:
            if _varies(least, most) and stack:
                stack[-1] = (stack[-1][0], stack[-1][1], True)
            i += length
            continue
        i += 1
    return found


__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "NestedQuantifier",
    "PatternTimeout",
    "check_syntax",
    "compile_pattern",
    "nested_quantifiers",
    "search",
    "set_timeout_ms",
    "timeout_ms",
]
