"""Rate limits on Jirabridge's own API and on login attempts.

Every authenticated ``/api/*`` request takes a token from two buckets: its user's and, when it
came with an API key, that key's. A login attempt takes one from the bucket of the e-mail it
names and one from the bucket of the address it came from. An empty bucket means
:class:`~jirabridge.errors.TooManyRequestsError` (429 with ``Retry-After``).

The buckets live in the same store as the Jira rate-limit governor (GCRA over
:meth:`~jirabridge.http.governor_store.GovernorStore.advance`): in memory for one process, in
Redis or PostgreSQL (``governor_store_url``) when several processes serve the API, so the limit
holds however many there are. A refused request gives its token back, so a client that keeps
knocking while limited is not locked out longer than one that waits.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from jirabridge.errors import TooManyRequestsError
from jirabridge.http.governor import Rate
from jirabridge.http.governor_store import GovernorStore
from jirabridge.service.settings import Settings

__all__ = ["ApiRateLimiter", "ApiRateLimits"]

_PREFIX = "api-limit:"


@dataclass(frozen=True)
class ApiRateLimits:
    """The buckets; ``None`` turns one off."""

    per_user: Rate | None
    per_key: Rate | None
    login: Rate | None

    @classmethod
    def per_minute(
        cls, *, user: int, key: int, burst: int, login: int, login_burst: int
    ) -> ApiRateLimits:
        """Limits from requests per minute (0 = unlimited) and burst sizes."""

        def rate(limit: int, size: int) -> Rate | None:
            return Rate(per_second=limit / 60.0, burst=float(max(1, size))) if limit > 0 else None

        return cls(
            per_user=rate(user, burst), per_key=rate(key, burst), login=rate(login, login_burst)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiRateLimits:
        """The limits ``settings`` configure (``api_rate_*``, ``login_attempts_*``)."""
        return cls.per_minute(
            user=settings.api_rate_limit_per_minute,
            key=settings.api_key_rate_limit_per_minute,
            burst=settings.api_rate_burst,
            login=settings.login_attempts_per_minute,
            login_burst=settings.login_attempts_burst,
        )


def _digest(text: str) -> str:
    # Keys name e-mails and addresses; the store needs them only to be distinct, not readable.
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class ApiRateLimiter:
    """Checks the buckets of a request; ``clock`` gives epoch seconds (injectable for tests)."""

    def __init__(
        self,
        store: GovernorStore,
        limits: ApiRateLimits,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock

    def __repr__(self) -> str:
        return f"ApiRateLimiter({self.limits!r})"

    async def _take(self, name: str, rate: Rate, now: float) -> float:
        """Take a token; 0 when granted, else the seconds until one is free (nothing taken)."""
        span = rate.burst * rate.interval
        key = _PREFIX + name
        tat = await self.store.advance(key, now, rate.interval, span + 60)
        wait = tat - span - now
        if wait <= 1e-9:
            return 0.0
        await self.store.advance(key, now, -rate.interval, span + 60)
        return wait

    async def _take_all(self, buckets: list[tuple[str, Rate | None]], what: str) -> None:
        now = self.clock()
        taken: list[tuple[str, Rate]] = []
        for name, rate in buckets:
            if rate is None:
                continue
            wait = await self._take(name, rate, now)
            if wait > 0:
                # All or nothing: a request refused by one bucket costs none of the others.
                for done_name, done_rate in taken:
                    span = done_rate.burst * done_rate.interval
                    await self.store.advance(
                        _PREFIX + done_name, now, -done_rate.interval, span + 60
                    )
                raise TooManyRequestsError(
                    f"too many {what}; try again in {max(1, round(wait))} s",
                    retry_after=wait,
                )
            taken.append((name, rate))

    async def check_api(self, *, user_id: str, api_key_id: str | None) -> None:
        """Count one API request of ``user_id`` (through ``api_key_id`` if a key was used)."""
        buckets: list[tuple[str, Rate | None]] = [(f"user:{user_id}", self.limits.per_user)]
        if api_key_id is not None:
            buckets.append((f"key:{api_key_id}", self.limits.per_key))
        await self._take_all(buckets, "requests")

    async def check_login(self, *, email: str, address: str | None) -> None:
        """Count one login attempt for ``email`` from ``address``."""
        buckets: list[tuple[str, Rate | None]] = [
            (f"login-email:{_digest(email.strip().lower())}", self.limits.login)
        ]
        if address:
            # An address tries many e-mails: give it room for a shared NAT, but not unlimited.
            wide = self.limits.login
            if wide is not None:
                wide = Rate(per_second=wide.per_second * 5, burst=wide.burst * 5)
            buckets.append((f"login-addr:{_digest(address)}", wide))
        await self._take_all(buckets, "login attempts")
