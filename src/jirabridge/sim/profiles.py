"""The simulator's named behaviour profiles, exactly as the product brief (§5) defines them.

- ``clean``: 20 ms latency; no rate limits, no faults.
- ``limited``: ``clean`` plus Jira's burst limits (GET/POST 100 rps, PUT/PATCH/DELETE 50 rps per
  endpoint) and per-issue write limits (20 per 2 s, 100 per 30 s).
- ``faulty``: ``limited`` plus 2% 500, 2% 503, 1% of writes applied then the connection dropped,
  and search results lagging writes by 1-3 s. The brief's "2 s client timeout" is the client's
  setting: the simulator does not time anyone out.

The points quota (OAuth apps) is off in every profile, since the brief's profiles do not name
it; switch it on through :class:`~jirabridge.sim.ratelimit.RateLimitConfig` or
``/_sim/faults``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jirabridge.sim.faults import FaultConfig
from jirabridge.sim.ratelimit import RateLimitConfig

__all__ = ["PROFILE_NAMES", "Profile", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """A named pair of fault and rate-limit settings."""

    name: str
    faults: FaultConfig
    ratelimit: RateLimitConfig


PROFILE_NAMES = ("clean", "limited", "faulty")


def get_profile(name: str) -> Profile:
    """A fresh copy of the profile called ``name``; ``ValueError`` for an unknown name."""
    clean_faults = FaultConfig(latency_ms=20.0)
    no_limits = RateLimitConfig(burst_enabled=False, per_issue_enabled=False, quota_enabled=False)
    limits = RateLimitConfig(burst_enabled=True, per_issue_enabled=True, quota_enabled=False)
    if name == "clean":
        return Profile(name, clean_faults, no_limits)
    if name == "limited":
        return Profile(name, clean_faults, limits)
    if name == "faulty":
        faults = replace(
            clean_faults,
            error_500_rate=0.02,
            error_503_rate=0.02,
            drop_after_write_rate=0.01,
            search_lag_seconds=(1.0, 3.0),
        )
        return Profile(name, faults, limits)
    raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
