"""CallCounter notes the vendor's clock from HTTP ``Date`` headers (what ``bridge doctor`` reports as skew)."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.callcount import CallCounter

NOW = 1_773_136_215.0  # 2026-03-10T09:50:15Z, a whole second


@given(skew=st.integers(min_value=-86_400, max_value=86_400), fraction=st.floats(min_value=0, max_value=0.999))
def test_offset_is_the_skew_within_the_headers_one_second_resolution(skew: int, fraction: float) -> None:
    counter = CallCounter()
    header = email.utils.formatdate(NOW + skew, usegmt=True)
    counter.note_server_date(header, received=NOW + fraction)
    offset = counter.clock_offset
    assert offset is not None
    assert abs(offset - skew) <= 0.5


@pytest.mark.parametrize("header", [None, "", "yesterday", "Tue, 99 Foo 2026 25:61:00 GMT"])
def test_missing_or_garbled_dates_are_ignored(header: str | None) -> None:
    counter = CallCounter()
    counter.note_server_date(header, received=NOW)
    assert counter.clock_offset is None


def test_the_last_date_seen_wins() -> None:
    counter = CallCounter()
    counter.note_server_date(email.utils.formatdate(NOW + 100, usegmt=True), received=NOW)
    counter.note_server_date(email.utils.formatdate(NOW - 5, usegmt=True), received=NOW)
    assert counter.clock_offset == pytest.approx(-4.5)
