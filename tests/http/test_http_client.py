import logging

import httpx
import pytest

from jirabridge.errors import (
    ApiNotFoundError,
    BadRequestError,
    CircuitOpenError,
    ConnectionFailedError,
    RateLimitedError,
    ServerError,
    TimeoutError_,
)
from jirabridge.http import CircuitBreaker, HttpClient, RetryPolicy
from jirabridge.http.clock import FakeClock
from jirabridge.http.testing import ScriptedTransport, dropped_connection, read_timeout

BASE = "https://acme.atlassian.net"


def client_for(script: ScriptedTransport, clock: FakeClock, **kwargs: object) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.5))
    return HttpClient(BASE, transport=script, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_get_is_retried_through_503_and_timeouts(clock: FakeClock) -> None:
    script = ScriptedTransport(
        httpx.Response(503),
        read_timeout(),
        dropped_connection(),
        httpx.Response(200, json={"ok": 1}),
    )
    async with client_for(script, clock) as client:
        response = await client.request("GET", "/rest/api/3/myself")
    assert response.json() == {"ok": 1}
    assert script.count == 4
    assert clock.sleeps == pytest.approx([2.0, 4.0, 8.0])
    assert (client.stats.attempts, client.stats.retries, client.stats.requests) == (4, 3, 1)


async def test_retries_give_up_after_four(clock: FakeClock) -> None:
    script = ScriptedTransport(httpx.Response(502))
    async with client_for(script, clock) as client:
        with pytest.raises(ServerError) as caught:
            await client.request("GET", "/rest/api/3/myself")
    assert script.count == 5
    assert caught.value.status == 502
    assert caught.value.details["attempts"] == 5


async def test_post_is_never_blindly_retried(clock: FakeClock) -> None:
    for failure in (httpx.Response(503), read_timeout(), dropped_connection()):
        script = ScriptedTransport(failure, httpx.Response(201))
        async with client_for(script, clock) as client:
            with pytest.raises((ServerError, TimeoutError_, ConnectionFailedError)):
                await client.request("POST", "/rest/api/3/issue", json={"fields": {}})
        assert script.count == 1


async def test_429_retry_after_is_honoured_as_a_floor(clock: FakeClock) -> None:
    script = ScriptedTransport(
        httpx.Response(429, headers={"Retry-After": "17", "RateLimit-Reason": "jira-burst-based"}),
        httpx.Response(201, json={"id": "1"}),
    )
    async with client_for(script, clock) as client:
        response = await client.request("POST", "/rest/api/3/issue", json={})
    assert response.status_code == 201
    assert script.count == 2
    assert clock.slept >= 17


async def test_retry_after_floor_holds_back_other_requests_on_the_site(clock: FakeClock) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/limited"):
            return httpx.Response(429, headers={"Retry-After": "30"})
        return httpx.Response(200)

    script = ScriptedTransport(answer)
    async with client_for(script, clock, retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(RateLimitedError):
            await client.request("GET", "/limited")
        start = clock.time()
        await client.request("GET", "/other")  # never got a 429 itself
    assert clock.time() - start == pytest.approx(30, abs=1e-3)


async def test_long_retry_after_gives_up_with_rate_limited_error(clock: FakeClock) -> None:
    script = ScriptedTransport(
        httpx.Response(
            429,
            headers={"Retry-After": "1847", "RateLimit-Reason": "jira-quota-global-based"},
            json={"errorMessages": ["Rate limit exceeded"]},
        )
    )
    async with client_for(script, clock) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.request("GET", "/rest/api/3/search/jql")
    assert script.count == 1
    assert caught.value.retry_after == 1847
    assert caught.value.reason == "jira-quota-global-based"
    assert caught.value.error_messages == ["Rate limit exceeded"]


async def test_jira_error_body_is_parsed_into_the_error(clock: FakeClock) -> None:
    body = {
        "errorMessages": ["Issue does not exist"],
        "errors": {"summary": "You must specify a summary of the issue."},
    }
    script = ScriptedTransport(httpx.Response(400, json=body))
    async with client_for(script, clock) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.request("POST", "/rest/api/3/issue", json={})
    error = caught.value
    assert error.status == 400
    assert error.error_messages == ["Issue does not exist"]
    assert error.field_errors == {"summary": "You must specify a summary of the issue."}
    assert "Issue does not exist" in str(error)
    assert error.method == "POST"


async def test_github_error_body_and_secondary_limit(clock: FakeClock) -> None:
    script = ScriptedTransport(
        httpx.Response(
            422,
            json={
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            },
        )
    )
    async with client_for(script, clock) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.request("POST", "/repos/o/r/issues", json={})
    assert caught.value.error_messages == ["Validation Failed"]
    assert caught.value.field_errors == {"title": "missing_field"}

    limited = ScriptedTransport(
        httpx.Response(403, headers={"retry-after": "60"}, json={"message": "secondary"}),
        httpx.Response(201),
    )
    async with client_for(limited, clock) as client:
        response = await client.request("POST", "/repos/o/r/issues", json={})
    assert response.status_code == 201
    assert clock.sleeps[-1] >= 60


async def test_plain_404_raises_or_is_returned_on_request(clock: FakeClock) -> None:
    script = ScriptedTransport(httpx.Response(404, json={"errorMessages": ["gone"]}))
    async with client_for(script, clock) as client:
        with pytest.raises(ApiNotFoundError):
            await client.request("GET", "/rest/api/3/issue/P-1")
        response = await client.request("GET", "/rest/api/3/issue/P-1", raise_for_status=False)
    assert response.status_code == 404
    assert script.count == 2


async def test_breaker_opens_and_fails_fast_without_sending(clock: FakeClock) -> None:
    script = ScriptedTransport(httpx.Response(500))
    breaker = CircuitBreaker("acme", failure_threshold=3, recovery_time=60, clock=clock)
    async with client_for(script, clock, breaker=breaker) as client:
        # 500 is retried for a GET; the third failure opens the circuit, so the fourth attempt
        # is refused without being sent.
        with pytest.raises(CircuitOpenError):
            await client.request("GET", "/x")
        assert script.count == 3
        with pytest.raises(CircuitOpenError) as caught:
            await client.request("GET", "/x")
        assert script.count == 3
        # the client waited 8 s (third backoff) before its refused fourth attempt
        assert caught.value.retry_after == pytest.approx(60 - 8)
        assert client.stats.circuit_rejections == 2
        clock.advance(52)
        script.steps = [httpx.Response(200)]
        await client.request("GET", "/x")  # the half-open probe succeeds
    assert breaker.consecutive_failures == 0


async def test_4xx_does_not_trip_the_breaker(clock: FakeClock) -> None:
    script = ScriptedTransport(httpx.Response(404))
    breaker = CircuitBreaker("acme", failure_threshold=2, clock=clock)
    async with client_for(script, clock, breaker=breaker) as client:
        for _ in range(5):
            with pytest.raises(ApiNotFoundError):
                await client.request("GET", "/x")
    assert script.count == 5


async def test_retry_log_line_has_no_secrets(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    script = ScriptedTransport(httpx.Response(503), httpx.Response(200))
    caplog.set_level(logging.WARNING, logger="jirabridge.http")
    async with client_for(script, clock) as client:
        await client.request(
            "GET", "/rest/api/3/search/jql", params={"jql": "project=P", "access_token": "tok-123"}
        )
    assert "retrying GET" in caplog.text
    assert "project" in caplog.text
    assert "tok-123" not in caplog.text
    # the secret was still sent
    assert script.requests[0].url.params["access_token"] == "tok-123"


async def test_timeout_error_names_the_request_without_query_secrets(clock: FakeClock) -> None:
    script = ScriptedTransport(read_timeout())
    async with client_for(script, clock, retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(TimeoutError_) as caught:
            await client.request("GET", "https://user:pw@acme.atlassian.net/x?token=abc&a=1")
    assert "abc" not in str(caught.value)
    assert "pw" not in str(caught.value)
    assert "a=1" in str(caught.value)


async def test_default_timeouts_and_injected_client(clock: FakeClock) -> None:
    client = HttpClient(BASE)
    assert client._client.timeout == httpx.Timeout(30.0, connect=5.0)
    await client.aclose()

    seen_timeouts: list[object] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen_timeouts.append(request.extensions["timeout"])
        return httpx.Response(200)

    script = ScriptedTransport(answer)
    shared = httpx.AsyncClient(transport=script)
    async with HttpClient(
        BASE,
        client=shared,
        headers={"X-Test": "1"},
        timeout=httpx.Timeout(2.0),
        clock=clock,
    ) as client:
        await client.request("GET", "/rest/api/3/myself")
    assert seen_timeouts == [httpx.Timeout(2.0).as_dict()]
    with pytest.raises(ValueError, match="transport"):
        HttpClient(BASE, client=shared, transport=script)
    assert not shared.is_closed  # not ours to close
    assert str(script.requests[0].url) == BASE + "/rest/api/3/myself"
    assert script.requests[0].headers["X-Test"] == "1"
    await shared.aclose()


async def test_per_issue_writes_are_spaced_through_the_client(clock: FakeClock) -> None:
    from jirabridge.http import GovernorLimits

    script = ScriptedTransport(httpx.Response(204))
    async with client_for(script, clock, limits=GovernorLimits.jira_cloud()) as client:
        for _ in range(30):
            await client.request("PUT", "/rest/api/3/issue/P-1", json={}, issue_key="P-1")
    assert script.count == 30
    assert clock.slept > 0  # 30 writes to one issue cannot all go at once
    assert client.stats.waited == pytest.approx(clock.slept)


def test_relative_base_url_is_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        HttpClient("acme.atlassian.net")


async def test_clients_on_one_store_share_the_sites_budget(clock: FakeClock) -> None:
    from jirabridge.http import GovernorLimits, MemoryGovernorStore, Rate

    store = MemoryGovernorStore()
    limits = GovernorLimits(method_rates={"GET": Rate(1, 1)})
    transport = ScriptedTransport(httpx.Response(200))
    first = client_for(transport, clock, limits=limits, governor_store=store)
    second = client_for(transport, clock, limits=limits, governor_store=store)
    await first.request("GET", "/rest/api/3/myself")
    await second.request("GET", "/rest/api/3/myself")
    assert clock.sleeps == [pytest.approx(1.0)]  # the second client waited for the first's token
    await first.aclose()
    await second.aclose()
