"""Parsing of the rate-limit headers Jira and GitHub send (pure functions, no I/O).

Jira Cloud: ``Retry-After`` (seconds), ``X-RateLimit-Limit``/``-Remaining``, ``X-RateLimit-Reset``
(ISO 8601, sometimes without seconds: ``2026-03-26T16:00Z``), ``X-RateLimit-NearLimit: true`` and
``RateLimit-Reason``. GitHub: ``retry-after`` and ``x-ratelimit-remaining``/``-reset`` (epoch
seconds). ``Retry-After`` may also be an HTTP-date (RFC 9110 §10.2.3).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "MAX_HEADER_SECONDS",
    "RateLimitInfo",
    "parse_rate_limit_headers",
    "parse_reset",
    "parse_retry_after",
]

#: Waits and reset times further away than this are clamped: a hostile or broken header must not
#: overflow a timestamp (a known failure of other Jira clients) or park a worker for years.
MAX_HEADER_SECONDS = 7 * 24 * 3600.0

_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")
_EPOCH = re.compile(r"\s*(\d{1,12})\s*")


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_HEADER_SECONDS)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the wait a ``Retry-After`` value asks for, in seconds from ``now``.

    Accepts delay-seconds (``"120"``; decimals tolerated) and HTTP-dates; a date in the past means
    zero. Returns ``None`` for a missing or unparseable value. Never negative; clamped to
    :data:`MAX_HEADER_SECONDS`.
    """
    if value is None:
        return None
    match = _SECONDS.fullmatch(value)
    if match:
        seconds = float(match.group(1))
        return _clamp(seconds) if math.isfinite(seconds) else MAX_HEADER_SECONDS
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means GMT too
        when = when.replace(tzinfo=UTC)
    return _clamp(when.timestamp() - now)


def parse_reset(value: str | None, now: float) -> float | None:
    """Return the epoch time a rate-limit window resets at, or ``None``.

    Epoch seconds (GitHub's ``x-ratelimit-reset``) and ISO 8601 (Jira's ``X-RateLimit-Reset``,
    with or without seconds) are both understood. Clamped to ``now + MAX_HEADER_SECONDS``.
    """
    if value is None:
        return None
    if _EPOCH.fullmatch(value):
        epoch = float(value)
    else:
        text = value.strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        epoch = when.timestamp()
    return now + _clamp(epoch - now) if epoch > now else epoch


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What one response says about the site's rate limits."""

    #: Seconds to wait from now (``Retry-After``), or ``None``.
    retry_after: float | None = None
    #: Jira's ``RateLimit-Reason`` (e.g. ``jira-burst-based``), or ``None``.
    reason: str | None = None
    limit: int | None = None
    remaining: int | None = None
    #: Epoch seconds when the window resets, or ``None``.
    reset_at: float | None = None
    #: ``X-RateLimit-NearLimit: true`` (Jira: less than 20 % of the quota left).
    near_limit: bool = False


def parse_rate_limit_headers(headers: Mapping[str, str], now: float) -> RateLimitInfo:
    """Collect the rate-limit facts of a response's headers (case-insensitive mapping)."""
    reason = headers.get("ratelimit-reason") or headers.get("x-ratelimit-reason")
    return RateLimitInfo(
        retry_after=parse_retry_after(headers.get("retry-after"), now),
        reason=reason.strip() if reason else None,
        limit=_int_or_none(headers.get("x-ratelimit-limit")),
        remaining=_int_or_none(headers.get("x-ratelimit-remaining")),
        reset_at=parse_reset(headers.get("x-ratelimit-reset"), now),
        near_limit=(headers.get("x-ratelimit-nearlimit", "").strip().lower() == "true"),
    )
