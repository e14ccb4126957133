"""The planner's helpers on their own: conflict winners, comment skip rules, truncation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.mapping.schema import CommentRules
from bridge.mapping.transform import TemplateError
from bridge.model import Comment, Ref, Side
from bridge.sync.comments import mirror_body, skip_reason
from bridge.sync.conflict import winner
from bridge.text_limits import omitted_in

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "itsm", "jira", "expected"),
    [
        ("itsm_wins", T, T + timedelta(hours=1), "itsm"),
        ("jira_wins", T + timedelta(hours=1), T, "jira"),
        ("newest_wins", T + timedelta(seconds=1), T, "itsm"),
        ("newest_wins", T, T + timedelta(seconds=1), "jira"),
        ("newest_wins", T, T, "report"),
        ("newest_wins", T, None, "report"),
        ("report", T + timedelta(hours=1), T, "report"),
    ],
)
def test_conflict_winner(policy: str, itsm: datetime, jira: datetime | None, expected: str) -> None:
    assert winner(policy, itsm, jira) == expected  # type: ignore[arg-type]


def _comment(body: str, channel: str = "work_notes", side: Side = Side.ITSM) -> Comment:
    return Comment("1", Ref(side, "incident", "a", "INC1"), "Ann", body, T, channel)


def test_skip_reasons_name_the_rule() -> None:
    assert skip_reason(_comment("hi"), CommentRules(), Side.JIRA) is None
    assert skip_reason(_comment("hi"), CommentRules(direction="to_itsm"), Side.JIRA) is not None
    assert skip_reason(_comment("hi"), CommentRules(direction="to_itsm"), Side.ITSM) is None
    assert "from_itsm_channels" in (skip_reason(_comment("hi", "comments"), CommentRules(from_itsm_channels=[]),
                                                Side.JIRA) or "")
    # the ITSM channel list does not apply to Jira comments going the other way
    assert skip_reason(_comment("hi", "comment", Side.JIRA), CommentRules(from_itsm_channels=[]), Side.ITSM) is None
    assert "skip pattern" in (skip_reason(_comment("Auto-reply: out"), CommentRules(skip=["(?i)^auto-reply"]),
                                          Side.JIRA) or "")


RECORD = Ref(Side.ITSM, "incident", "a", "INC1", "https://itsm.example/incident.do?sys_id=a")


def test_a_short_mirror_is_attribution_and_body() -> None:
    assert mirror_body(_comment("short"), CommentRules(), system="ServiceNow", record=RECORD) == (
        "Ann (ServiceNow) wrote:\nshort"
    )


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=200, max_value=2500))
def test_a_mirror_never_exceeds_the_limit_and_reports_what_it_cut(text: str, limit: int) -> None:
    rules = CommentRules(max_length=limit, attribution="")
    result = mirror_body(_comment(text), rules, system="S", record=RECORD)
    assert len(result) <= limit
    if len(text) <= limit:
        assert result == text
    else:
        assert "truncated by bridge" in result
        kept, omitted = omitted_in(result)
        assert text.startswith(kept)
        assert omitted == len(text) - len(kept)


def test_mirror_body_renders_the_attribution_with_the_record_and_fails_loudly_on_a_bad_template() -> None:
    rules = CommentRules(attribution="{{ author }} on {{ record.key }} via {{ system }}:")
    body = mirror_body(_comment("text"), rules, system="ServiceNow", record=RECORD)
    assert body == "Ann on INC1 via ServiceNow:\ntext"
    with pytest.raises(TemplateError):
        mirror_body(_comment("text"), CommentRules(attribution="{{ who }}"), system="S", record=RECORD)
