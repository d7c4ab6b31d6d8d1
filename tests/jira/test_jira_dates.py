from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jirabridge.errors import ValidationError
from jirabridge.jira.dates import (
    format_jira_datetime,
    from_epoch_ms,
    parse_jira_datetime,
    to_epoch_ms,
)


def test_format_writes_millis_and_colonless_offset() -> None:
    value = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert format_jira_datetime(value) == "2026-11-20T09:00:00.000+0000"
    east = datetime(2026, 11, 20, 9, 0, 5, 123999, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert format_jira_datetime(east) == "2026-11-20T09:00:05.123+0530"
    west = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(-timedelta(hours=7)))
    assert format_jira_datetime(west) == "2026-01-02T03:04:00.000-0700"


def test_format_refuses_naive() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        format_jira_datetime(datetime(2026, 11, 20, 9, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T09:00:00.000+0000", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T09:00:00.000+00:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T09:00:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T09:00Z", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T11:00:00.5+0200", datetime(2026, 11, 20, 9, 0, 0, 500000, tzinfo=UTC)),
        (
            "2026-11-20T04:00:00.123456789-05:00",
            datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_parse_accepts_jira_forms(text: str, expected: datetime) -> None:
    parsed = parse_jira_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2026-11-20", "2026-11-20T09:00:00", "2026-13-40T09:00:00Z"]
)
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_jira_datetime(text)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=9, minutes=30)), timezone(-timedelta(hours=11))]
        ),
    )
)
def test_round_trip_keeps_the_instant_to_the_millisecond(value: datetime) -> None:
    parsed = parse_jira_datetime(format_jira_datetime(value))
    assert parsed.utcoffset() == value.utcoffset()
    assert abs((parsed - value).total_seconds()) < 0.001
    assert parsed == value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_epoch_ms_is_exact() -> None:
    value = datetime(2026, 11, 20, 9, 0, 0, 1000, tzinfo=UTC)
    ms = to_epoch_ms(value)
    assert ms % 1000 == 1
    assert from_epoch_ms(ms) == value
    with pytest.raises(ValidationError):
        to_epoch_ms(datetime(2026, 1, 1))
