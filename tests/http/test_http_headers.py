from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from jirabridge.http.headers import (
    MAX_HEADER_SECONDS,
    parse_rate_limit_headers,
    parse_reset,
    parse_retry_after,
)

NOW = 1_700_000_000.0


@given(st.integers(min_value=0, max_value=10**30))
def test_retry_after_seconds_are_read_and_clamped(seconds: int) -> None:
    parsed = parse_retry_after(str(seconds), NOW)
    assert parsed == min(float(seconds), MAX_HEADER_SECONDS)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_retry_after_http_date_is_seconds_from_now(when: datetime) -> None:
    when = when.replace(microsecond=0)
    parsed = parse_retry_after(format_datetime(when, usegmt=True), NOW)
    expected = min(max(when.timestamp() - NOW, 0.0), MAX_HEADER_SECONDS)
    assert parsed is not None
    assert abs(parsed - expected) < 1e-6


@given(st.text(max_size=40))
def test_retry_after_never_crashes_and_is_never_negative(value: str) -> None:
    parsed = parse_retry_after(value, NOW)
    assert parsed is None or 0.0 <= parsed <= MAX_HEADER_SECONDS


def test_retry_after_rejects_garbage_and_negatives() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None
    assert parse_retry_after(" 1.5 ", NOW) == 1.5


def test_past_http_date_means_no_wait() -> None:
    past = datetime.fromtimestamp(NOW, tz=UTC) - timedelta(hours=1)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0.0


def test_reset_reads_jira_iso_with_and_without_seconds_and_github_epoch() -> None:
    reset = datetime(2026, 3, 26, 16, tzinfo=UTC).timestamp()
    assert parse_reset("2026-03-26T16:00Z", reset - 600) == reset
    reset = datetime(2025, 10, 8, 15, tzinfo=UTC).timestamp()
    assert parse_reset("2025-10-08T15:00:00Z", reset - 1847) == reset
    assert parse_reset("2025-10-08T15:00:00Z", reset + 5) == reset  # past resets stay as they are
    assert parse_reset(str(int(NOW) + 30), NOW) == NOW + 30
    assert parse_reset("not a date", NOW) is None
    assert parse_reset(str(int(NOW) + 10**9), NOW) == NOW + MAX_HEADER_SECONDS


def test_rate_limit_headers_are_collected_case_insensitively() -> None:
    import httpx

    headers = httpx.Headers(
        {
            "Retry-After": "7",
            "RateLimit-Reason": "jira-burst-based",
            "X-RateLimit-Limit": "350",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-NearLimit": "TRUE",
        }
    )
    info = parse_rate_limit_headers(headers, NOW)
    assert info.retry_after == 7.0
    assert info.reason == "jira-burst-based"
    assert (info.limit, info.remaining, info.near_limit) == (350, 0, True)
    assert (
        parse_rate_limit_headers(httpx.Headers({"x-ratelimit-remaining": "x"}), NOW).remaining
        is None
    )
