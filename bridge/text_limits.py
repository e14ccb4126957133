"""Cutting text to a vendor's limit with a visible notice, instead of letting the vendor refuse it.

Why here, at the bottom of the layers: the mapping transforms cut what a rule produces (pure, with the
record's key in the notice), and the Jira connector cuts once more when the text is still too long
*after* conversion to ADF or wiki markup, which only it can measure. Both must cut the same way, so a
long pasted log loses its tail at a line (or word) boundary and says how much went missing, rather than
putting the record on the error list.

A notice always states how many characters of the original are not shown; :func:`omitted_in` reads that
number back, so a second cut (after conversion) adds to it instead of stacking a second notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NOTICE_RE = re.compile(r"\n?[^\n]*truncated by bridge: ([\d,]+) (?:more )?characters[^\n]*$")
"""The last line of a text cut by bridge (any notice template that keeps the phrase and the number)."""

BOUNDARY_WINDOW = 0.2
"""How far back from the limit (as a share of what is kept) a line or word boundary may be looked for."""


def format_count(count: int) -> str:
    """``98211`` → ``98,211``: what people read in a notice."""
    return f"{count:,}"


def boundary(text: str, budget: int) -> int:
    """Where to cut ``text`` so at most ``budget`` characters stay: a line end, else a word end, else ``budget``.

    A boundary is only taken within the last :data:`BOUNDARY_WINDOW` of the budget, so a text with one
    early newline is not cut down to its first line.
    """
    if budget <= 0:
        return 0
    if len(text) <= budget:
        return len(text)
    floor = int(budget * (1 - BOUNDARY_WINDOW))
    line = text.rfind("\n", floor, budget + 1)
    if line > 0:
        return line
    space = max(text.rfind(" ", floor, budget + 1), text.rfind("\t", floor, budget + 1))
    if space > 0:
        return space
    return budget


def cut(text: str, limit: int, notice: Callable[[int], str], *, already_omitted: int = 0) -> str:
    """``text`` at most ``limit`` characters long, ending with ``notice(omitted)`` when anything was cut.

    ``omitted`` counts the characters of ``text`` left out plus ``already_omitted`` (what an earlier cut
    removed). The notice is rendered for the count it will state, so the result never exceeds ``limit``.
    """
    if len(text) <= limit and not already_omitted:
        return text
    keep = limit
    line = notice(len(text) + already_omitted)
    for _ in range(4):  # the notice's width depends on the number it prints: settle it
        keep = boundary(text, max(limit - len(line) - 1, 0))
        settled = notice(len(text) - keep + already_omitted)
        if settled == line:
            break
        line = settled
    keep = boundary(text, max(limit - len(line) - 1, 0))
    line = notice(len(text) - keep + already_omitted)
    return f"{text[:keep]}\n{line}"[:limit]


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` ending with ``…``: for one-line fields (a summary) too short for a notice."""
    if len(text) <= limit:
        return text
    return text[: boundary(text, max(limit - 1, 0))].rstrip() + "…"


def omitted_in(text: str) -> tuple[str, int]:
    """``text`` without a trailing bridge notice, and the count that notice stated (0 without one)."""
    found = NOTICE_RE.search(text)
    if found is None:
        return text, 0
    return text[: found.start()], int(found.group(1).replace(",", ""))


def fit(
    text: str,
    limit: int,
    measure: Callable[[str], int],
    notice: Callable[[int], str],
) -> str:
    """``text`` cut until ``measure`` of it is at most ``limit`` (e.g. its length after conversion to markup).

    A notice already at the end of ``text`` is replaced by one stating the total, so a text first cut by
    the mapping and then by the connector carries one notice with one number.
    """
    if measure(text) <= limit:
        return text
    body, before = omitted_in(text)
    budget = min(len(body), limit)
    result = cut(body, budget, notice, already_omitted=before) if budget < len(body) or before else body
    for _ in range(64):
        size = measure(result)
        if size <= limit:
            return result
        # Shrink the plain-text budget in proportion to how far the converted form overshoots.
        budget = max(min(budget - 1, int(budget * limit / size * 0.99)), 0)
        result = cut(body, budget, notice, already_omitted=before)
        if budget == 0:
            break
    return result if measure(result) <= limit else ""
