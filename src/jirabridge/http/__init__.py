"""The resilient HTTP core shared by the Jira and GitHub clients.

Bottom layer: imports nothing from the rest of Jirabridge but :mod:`jirabridge.errors`.
The Redis and PostgreSQL governor stores live in :mod:`jirabridge.http.governor_redis` and
:mod:`jirabridge.http.governor_postgres` and are not imported here (they need the ``service``
extra).
"""

from jirabridge.http.auth import (
    BasicAuth,
    BearerAuth,
    GitHubAppAuth,
    OAuth2Auth,
    OAuth2Token,
    RefreshHook,
)
from jirabridge.http.breaker import BreakerState, CircuitBreaker
from jirabridge.http.client import DEFAULT_TIMEOUT, HttpClient, HttpStats, Reconcile, safe_url
from jirabridge.http.clock import Clock, FakeClock, RandomSource, SystemClock
from jirabridge.http.governor import GovernorLimits, Rate, RateGovernor, endpoint_of
from jirabridge.http.governor_store import GovernorStore, MemoryGovernorStore
from jirabridge.http.headers import (
    RateLimitInfo,
    parse_rate_limit_headers,
    parse_reset,
    parse_retry_after,
)
from jirabridge.http.pagination import items, link_pages, offset_pages, token_pages
from jirabridge.http.retry import Outcome, RequestFacts, RetryDecision, RetryPolicy, is_ambiguous
from jirabridge.http.sites import site_key

__all__ = [
    "DEFAULT_TIMEOUT",
    "BasicAuth",
    "BearerAuth",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "FakeClock",
    "GitHubAppAuth",
    "GovernorLimits",
    "GovernorStore",
    "HttpClient",
    "HttpStats",
    "MemoryGovernorStore",
    "OAuth2Auth",
    "OAuth2Token",
    "Outcome",
    "RandomSource",
    "Rate",
    "RateGovernor",
    "RateLimitInfo",
    "Reconcile",
    "RefreshHook",
    "RequestFacts",
    "RetryDecision",
    "RetryPolicy",
    "SystemClock",
    "endpoint_of",
    "is_ambiguous",
    "items",
    "link_pages",
    "offset_pages",
    "parse_rate_limit_headers",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "site_key",
    "token_pages",
]
