"""NUL and other C0 controls never reach a vendor; bidi overrides in a summary are visible (bridge/text.py).

Measured before: NUL and bidi override characters reached Jira unchanged.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.sync.actions import AddComment, CreateIssue
from bridge.sync.planner import plan
from bridge.text import for_vendor, strip_controls, visible_bidi
from tests.fixtures.planning import comment, mapping, record
from tests.fixtures.planning import given as planned_given

RLO = "\u202e"


def test_controls_other_than_tab_and_newline_are_removed() -> None:
    assert strip_controls("a\x00b\x01c\x1b[31m\td\ne\rf\x7f") == "abc[31m\td\nef\x7f"


def test_bidi_overrides_and_isolates_become_visible_escapes() -> None:
    assert visible_bidi(f"invoice{RLO}fdp.exe\u2066x\u2069") == "invoice<U+202E>fdp.exe<U+2066>x<U+2069>"
    assert visible_bidi("שלום, world") == "שלום, world"  # right-to-left text itself is untouched


def test_only_a_summary_gets_bidi_escapes_and_lists_stay_normalised() -> None:
    assert for_vendor(f"a{RLO}b", field="summary") == "a<U+202E>b"
    assert for_vendor(f"a{RLO}b", field="description") == f"a{RLO}b"
    assert for_vendor(("b\x00", "a"), field="labels") == ("a", "b")
    assert for_vendor(3) == 3


@given(st.text())
def test_cleaning_is_idempotent_and_leaves_no_c0_control(text: str) -> None:
    once = for_vendor(text, field="summary")
    assert for_vendor(once, field="summary") == once
    assert isinstance(once, str)
    assert not any(ord(ch) < 0x20 and ch not in "\t\n" for ch in once)
    assert not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in once)


def test_the_planner_writes_clean_fields_a_visible_summary_and_a_clean_comment() -> None:
    rec = record(1, short_description=f"Printer\x00 down {RLO}gnp.exe", company="AC\x1bME")
    comments = {rec.ref.id: [comment("c1", rec.ref, "hi\x00\x07 there")]}
    result = plan(mapping(), planned_given(records=[rec], comments=comments))
    [create] = [a for a in result.actions if isinstance(a, CreateIssue)]
    assert create.fields["summary"] == "INC0000001: Printer down <U+202E>gnp.exe"
    assert create.fields["Customer"] == "ACME"
    [mirror] = [a for a in result.actions if isinstance(a, AddComment)]
    assert mirror.body.endswith("\nhi there")
