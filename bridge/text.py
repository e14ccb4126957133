"""Text bridge writes to a vendor: no invisible control characters, no disguised summaries.

Record fields and comments come from people and mail gateways. A NUL or another C0 control character
(U+0000–U+001F other than tab and newline) is invisible in every UI, is refused by some vendor APIs and
databases, and breaks the tools people copy the text into; bridge removes them from every value and
body it writes (:func:`for_vendor`). Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069)
make a summary read differently from what it says (the "Trojan Source" trick, CVE-2021-42574); in a
summary, the one line people triage by, they are shown as visible escapes such as ``<U+202E>`` instead.

The planner and the mapping transforms call :func:`for_vendor` on what they produce, so what is stored
as synced is exactly what was written and the next cycle sees no difference.
"""

from __future__ import annotations

from bridge.model import FieldValue

_C0 = {code: None for code in range(0x20) if code not in (0x09, 0x0A)}
_BIDI = {code: f"<U+{code:04X}>" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
SUMMARY_FIELDS = frozenset({"summary"})
"""Fields whose bidi controls are shown as escapes (Jira's one-line title)."""


def strip_controls(text: str) -> str:
    """``text`` without C0 control characters other than tab and newline."""
    return text.translate(_C0)


def visible_bidi(text: str) -> str:
    """``text`` with each bidirectional override or isolate replaced by a visible ``<U+XXXX>``."""
    return text.translate(_BIDI)


def for_vendor(value: FieldValue, *, field: str | None = None) -> FieldValue:
    """A field value or body as bridge writes it: controls removed; bidi escaped in a summary."""
    if isinstance(value, str):
        text = strip_controls(value)
        return visible_bidi(text) if field in SUMMARY_FIELDS else text
    if isinstance(value, tuple):
        return tuple(sorted(str(for_vendor(item, field=field)) for item in value))  # normalised: sorted
    return value


__all__ = ["SUMMARY_FIELDS", "for_vendor", "strip_controls", "visible_bidi"]
