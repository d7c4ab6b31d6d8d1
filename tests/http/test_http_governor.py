import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jirabridge.errors import RateLimitedError
from jirabridge.http.clock import FakeClock
from jirabridge.http.governor import GovernorLimits, Rate, RateGovernor, endpoint_of


def near(value: float) -> object:
    return pytest.approx(value, abs=1e-5)  # the fake epoch clock has ~1e-7 s resolution


def jira(clock: FakeClock, **overrides: object) -> RateGovernor:
    limits = GovernorLimits.jira_cloud()
    if overrides:
        from dataclasses import replace

        limits = replace(limits, **overrides)  # type: ignore[arg-type]
    return RateGovernor("acme.atlassian.net", limits=limits, clock=clock)


def test_endpoint_of_folds_ids_and_keys() -> None:
    assert endpoint_of("/rest/api/3/issue/PRJ-7/comment") == "/rest/api/3/issue/{}/comment"
    assert endpoint_of("/rest/api/3/issue/10023/worklog/555") == "/rest/api/3/issue/{}/worklog/{}"
    assert endpoint_of("/rest/agile/1.0/board/12/sprint") == "/rest/agile/1.0/board/{}/sprint"
    assert endpoint_of("/rest/api/3/search/jql") == "/rest/api/3/search/jql"


async def test_jira_bursts_are_paced_below_the_documented_limit(clock: FakeClock) -> None:
    # Headroom (BURST_HEADROOM): a steady POST stream runs under Jira's 100/s, never at it.
    governor = jira(clock)
    sent = []
    for n in range(400):
        await governor.acquire("POST", f"/rest/api/3/issue/PRJ-{n}/worklog")
        sent.append(clock.time())
    assert sent[49] - sent[0] < 0.05  # a burst of half a second's worth goes at once
    steady = 300 / (sent[399] - sent[99])
    assert 90 < steady < 100


def test_window_rate_never_exceeds_its_window() -> None:
    rate = Rate.window(20, 2.0, 10)
    assert rate.burst + rate.per_second * 2.0 == pytest.approx(20)
    with pytest.raises(ValueError, match="burst"):
        Rate.window(10, 1.0, 10)


async def test_burst_then_steady_rate_per_endpoint_and_method(clock: FakeClock) -> None:
    governor = RateGovernor(
        "s", limits=GovernorLimits(method_rates={"PUT": Rate(10, 5)}), clock=clock
    )
    for _ in range(5):
        assert await governor.acquire("PUT", "/rest/api/3/issue/A-1") == 0
    assert await governor.acquire("PUT", "/rest/api/3/issue/A-2") == near(0.1)
    # another endpoint, or GET (no bucket configured here), is not held back
    assert await governor.acquire("PUT", "/rest/api/3/project/1") == 0
    assert await governor.acquire("GET", "/rest/api/3/issue/A-1") == 0


async def test_per_issue_writes_never_exceed_twenty_in_two_seconds(clock: FakeClock) -> None:
    governor = jira(clock)
    sent: list[float] = []
    for _ in range(120):
        await governor.acquire("PUT", "/rest/api/3/issue/PRJ-1", issue_key="PRJ-1")
        sent.append(clock.time())
    for i, start in enumerate(sent):
        in_two = sum(1 for t in sent[i:] if t < start + 2.0)
        in_thirty = sum(1 for t in sent[i:] if t < start + 30.0)
        assert in_two <= 20
        assert in_thirty <= 100
    # other issues are not slowed by PRJ-1's spacing
    before = clock.time()
    await governor.acquire("PUT", "/rest/api/3/issue/PRJ-2", issue_key="PRJ-2")
    assert clock.time() == before


async def test_reads_of_one_issue_are_not_spaced(clock: FakeClock) -> None:
    governor = jira(clock)
    # 40: above the per-issue write burst (10), within the GET burst bucket.
    for _ in range(40):
        await governor.acquire("GET", "/rest/api/3/issue/PRJ-1", issue_key="PRJ-1")
    assert clock.slept == 0


async def test_retry_after_is_a_floor_for_the_whole_site(clock: FakeClock) -> None:
    governor = jira(clock)
    await governor.observe("GET", "/rest/api/3/issue/A-1", 429, httpx.Headers({"Retry-After": "5"}))
    start = clock.time()
    await governor.acquire("POST", "/rest/api/3/issue")  # a different request
    assert clock.time() - start == near(5)
    # once the floor has passed nothing waits for it again
    assert await governor.acquire("GET", "/rest/api/3/myself") == 0


async def test_floor_is_shared_by_governors_on_one_store(clock: FakeClock) -> None:
    first = jira(clock)
    second = RateGovernor("acme.atlassian.net", store=first.store, clock=clock)
    other_site = RateGovernor("other.atlassian.net", store=first.store, clock=clock)
    await first.observe("GET", "/x", 429, httpx.Headers({"Retry-After": "3"}))
    assert await other_site.acquire("GET", "/x") == 0
    assert await second.acquire("GET", "/x") == near(3)


async def test_per_issue_429_holds_only_that_issue(clock: FakeClock) -> None:
    governor = jira(clock)
    headers = httpx.Headers({"Retry-After": "4", "RateLimit-Reason": "jira-per-issue-on-write"})
    await governor.observe("PUT", "/rest/api/3/issue/A-1", 429, headers, issue_key="A-1")
    assert await governor.acquire("PUT", "/rest/api/3/issue/B-1", issue_key="B-1") == 0
    assert await governor.acquire("PUT", "/rest/api/3/issue/A-1", issue_key="A-1") >= 4


async def test_quota_pause_waits_until_reset(clock: FakeClock) -> None:
    governor = jira(clock, max_wait=4000)
    clock.advance(1_767_225_600 - clock.time())  # 2026-01-01T00:00:00Z
    headers = httpx.Headers(
        {
            "Retry-After": "60",
            "RateLimit-Reason": "jira-quota-tenant-based",
            "X-RateLimit-Reset": "2026-01-01T00:30Z",
        }
    )
    await governor.observe("GET", "/x", 429, headers)
    assert await governor.acquire("GET", "/y") == near(1800)


async def test_long_pause_raises_instead_of_holding_the_caller(clock: FakeClock) -> None:
    governor = jira(clock, max_wait=120)
    headers = httpx.Headers({"Retry-After": "1847", "RateLimit-Reason": "jira-quota-global-based"})
    await governor.observe("GET", "/x", 429, headers)
    with pytest.raises(RateLimitedError) as caught:
        await governor.acquire("GET", "/y")
    assert caught.value.retry_after == near(1847)
    assert caught.value.reason == "jira-quota-global-based"
    assert clock.slept == 0


async def test_near_limit_slows_the_sender_before_a_429(clock: FakeClock) -> None:
    governor = RateGovernor(
        "s", limits=GovernorLimits(method_rates={"GET": Rate(10, 1)}), clock=clock
    )
    await governor.acquire("GET", "/a")
    assert await governor.acquire("GET", "/a") == near(0.1)
    await governor.observe("GET", "/a", 200, httpx.Headers({"X-RateLimit-NearLimit": "true"}))
    assert governor.slowed
    assert await governor.acquire("GET", "/a") == near(0.2)
    # a low remaining count has the same effect; a healthy one switches it off
    await governor.observe(
        "GET", "/a", 200, httpx.Headers({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "80"})
    )
    assert not governor.slowed
    await governor.observe(
        "GET", "/a", 200, httpx.Headers({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "5"})
    )
    assert governor.slowed


async def test_github_primary_limit_paces_then_stops_at_zero(clock: FakeClock) -> None:
    governor = RateGovernor("api.github.com", limits=GovernorLimits.unlimited(), clock=clock)
    reset = int(clock.time()) + 100
    low = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "10",
        "x-ratelimit-reset": str(reset),
    }
    await governor.observe("GET", "/repos/o/r", 200, httpx.Headers(low))
    await governor.acquire("GET", "/repos/o/r")
    assert await governor.acquire("GET", "/repos/o/r") == near(10)  # 100 s / 10 left
    empty = {**low, "x-ratelimit-remaining": "0"}
    await governor.observe("GET", "/repos/o/r", 403, httpx.Headers(empty))
    waited = await governor.acquire("GET", "/user")
    assert clock.time() >= reset
    assert waited > 0


async def test_github_secondary_limit_403_with_retry_after(clock: FakeClock) -> None:
    governor = RateGovernor("api.github.com", limits=GovernorLimits.github(), clock=clock)
    await governor.observe("POST", "/repos/o/r/issues", 403, httpx.Headers({"retry-after": "60"}))
    assert await governor.acquire("GET", "/user") == near(60)


async def test_plain_403_is_not_a_rate_limit(clock: FakeClock) -> None:
    governor = RateGovernor("api.github.com", limits=GovernorLimits.unlimited(), clock=clock)
    await governor.observe("GET", "/repos/o/r", 403, httpx.Headers({}))
    assert await governor.acquire("GET", "/repos/o/r") == 0


async def test_concurrent_acquires_are_spread_not_bunched(clock: FakeClock) -> None:
    governor = RateGovernor(
        "s", limits=GovernorLimits(method_rates={"POST": Rate(100, 10)}), clock=clock
    )
    start = clock.time()
    waits = await asyncio.gather(*(governor.acquire("POST", "/x") for _ in range(30)))
    # ten go at once (the burst); the other twenty wait their turn, 10 ms apart
    assert sum(1 for w in waits if w == 0) == 10
    assert len(clock.sleeps) == 20
    assert clock.time() - start == near(0.2)


async def test_429_without_retry_after_waits_for_the_reset(clock: FakeClock) -> None:
    governor = jira(clock)
    reset = datetime.fromtimestamp(clock.time() + 42, tz=UTC).isoformat()
    await governor.observe("GET", "/x", 429, httpx.Headers({"X-RateLimit-Reset": reset}))
    assert await governor.acquire("GET", "/y") == near(42)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=150))
async def test_per_issue_windows_hold_for_any_arrival_pattern(gaps: list[float]) -> None:
    clock = FakeClock()
    governor = jira(clock)
    sent: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        await governor.acquire("POST", "/rest/api/3/issue/P-1/comment", issue_key="P-1")
        sent.append(clock.time())
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 2.0 - 1e-6) <= 20
        assert sum(1 for t in sent[i:] if t < start + 30.0 - 1e-6) <= 100


async def test_primary_limit_pacing_never_exceeds_max_wait(clock: FakeClock) -> None:
    governor = RateGovernor("api.github.com", limits=GovernorLimits(max_wait=30), clock=clock)
    reset = int(clock.time()) + 3000
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "2",
        "x-ratelimit-reset": str(reset),
    }
    await governor.observe("GET", "/user", 200, httpx.Headers(headers))
    await governor.acquire("GET", "/user")
    assert await governor.acquire("GET", "/user") == near(30)
