"""Small pure helpers of the executor and the commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from bridge.commands._common import parse_when, table
from bridge.sync.executor import backoff


def test_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    assert [backoff(n, base=30, cap=3600).total_seconds() for n in range(9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert backoff(5, base=30, cap=3600, retry_after=7) == timedelta(seconds=7)
    assert backoff(0, base=30, cap=600, retry_after=86400) == timedelta(seconds=600)
    assert backoff(0, base=30, cap=600, retry_after=-3) == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T08:00:00Z", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T09:00:00+01:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        (" 2026-03-01 08:00 ", datetime(2026, 3, 1, 8, tzinfo=UTC)),
    ],
)
def test_since_is_iso_8601_and_utc_without_offset(text: str, expected: datetime) -> None:
    assert parse_when(text) == expected


def test_since_rejects_what_it_cannot_read() -> None:
    with pytest.raises(click.BadParameter, match="ISO 8601"):
        parse_when("last tuesday")


def test_table_aligns_columns() -> None:
    assert table(("ID", "NAME"), [(1, "alpha"), (22, None)]).splitlines() == [
        "ID  NAME",
        "--  -----",
        "1   alpha",
        "22",
    ]
