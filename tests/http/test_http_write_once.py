"""Exactly-once writes: a write whose answer was lost is reconciled before it is ever repeated."""

import httpx
import pytest

from jirabridge.errors import (
    BadRequestError,
    CircuitOpenError,
    ServerError,
    TimeoutError_,
)
from jirabridge.http import CircuitBreaker, HttpClient, RetryPolicy
from jirabridge.http.clock import FakeClock
from jirabridge.http.testing import ScriptedTransport, dropped_connection, read_timeout

BASE = "https://acme.atlassian.net"
URL = "/rest/api/3/issue/P-1/worklog"


def client_for(script: ScriptedTransport, clock: FakeClock, **kwargs: object) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.5))
    return HttpClient(BASE, transport=script, clock=clock, **kwargs)  # type: ignore[arg-type]


def worklog_id(response: httpx.Response) -> str:
    return str(response.json()["id"])


class Reconciler:
    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        return self.answers.pop(0)


async def test_timed_out_post_found_by_reconcile_is_not_resent(clock: FakeClock) -> None:
    script = ScriptedTransport(read_timeout(), httpx.Response(201, json={"id": "never"}))
    reconcile = Reconciler("10042")
    async with client_for(script, clock) as client:
        result = await client.write_once(
            "POST", URL, json={"timeSpentSeconds": 60}, parse=worklog_id, reconcile=reconcile
        )
    assert result == "10042"
    assert script.count == 1
    assert reconcile.calls == 1
    assert (client.stats.reconciles, client.stats.reconciled, client.stats.rewrites) == (1, 1, 0)


async def test_timed_out_post_not_found_is_resent_once(clock: FakeClock) -> None:
    script = ScriptedTransport(read_timeout(), httpx.Response(201, json={"id": "10043"}))
    reconcile = Reconciler(None)
    async with client_for(script, clock) as client:
        result = await client.write_once(
            "POST", URL, json={"timeSpentSeconds": 60}, parse=worklog_id, reconcile=reconcile
        )
    assert result == "10043"
    assert script.count == 2
    assert reconcile.calls == 1
    assert script.requests[1].content == script.requests[0].content
    assert client.stats.rewrites == 1
    assert clock.sleeps == pytest.approx([2.0])


@pytest.mark.parametrize(
    "failure",
    [dropped_connection(), httpx.Response(500), httpx.Response(502), httpx.Response(503)],
    ids=["dropped", "500", "502", "503"],
)
async def test_every_ambiguous_failure_is_reconciled(
    clock: FakeClock, failure: httpx.Response | Exception
) -> None:
    script = ScriptedTransport(failure, httpx.Response(201, json={"id": "x"}))
    reconcile = Reconciler("found")
    async with client_for(script, clock) as client:
        result = await client.write_once(
            "POST", URL, json={}, parse=worklog_id, reconcile=reconcile
        )
    assert result == "found"
    assert script.count == 1


async def test_429_is_retried_without_reconciling(clock: FakeClock) -> None:
    script = ScriptedTransport(
        httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(201, json={"id": "7"})
    )
    reconcile = Reconciler()
    async with client_for(script, clock) as client:
        result = await client.write_once(
            "POST", URL, json={}, parse=worklog_id, reconcile=reconcile
        )
    assert result == "7"
    assert reconcile.calls == 0
    assert script.count == 2


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(400, json={"errors": {"x": "bad"}}), BadRequestError),
        (httpx.Response(501), ServerError),
    ],
)
async def test_definite_refusals_raise_at_once(
    clock: FakeClock, response: httpx.Response, error: type[Exception]
) -> None:
    script = ScriptedTransport(response)
    reconcile = Reconciler()
    async with client_for(script, clock) as client:
        with pytest.raises(error):
            await client.write_once("POST", URL, json={}, parse=worklog_id, reconcile=reconcile)
    assert reconcile.calls == 0
    assert script.count == 1


async def test_open_circuit_is_not_reconciled(clock: FakeClock) -> None:
    script = ScriptedTransport(httpx.Response(201, json={"id": "1"}))
    breaker = CircuitBreaker("acme", failure_threshold=1, clock=clock)
    breaker.before_request()
    breaker.record_failure()
    reconcile = Reconciler()
    async with client_for(script, clock, breaker=breaker) as client:
        with pytest.raises(CircuitOpenError):
            await client.write_once("POST", URL, json={}, parse=worklog_id, reconcile=reconcile)
    assert reconcile.calls == 0
    assert script.count == 0


async def test_repeated_failures_stop_at_the_retry_limit(clock: FakeClock) -> None:
    script = ScriptedTransport(read_timeout())
    reconcile = Reconciler(None, None, None)
    policy = RetryPolicy(max_retries=2, random=lambda: 0.5)
    async with client_for(script, clock, retry=policy) as client:
        with pytest.raises(TimeoutError_):
            await client.write_once("POST", URL, json={}, parse=worklog_id, reconcile=reconcile)
    assert script.count == 3  # first try and two rewrites, each after an empty reconcile
    assert reconcile.calls == 3


async def test_write_once_passes_issue_key_to_the_governor(clock: FakeClock) -> None:
    from jirabridge.http import GovernorLimits

    script = ScriptedTransport(httpx.Response(201, json={"id": "1"}))
    async with client_for(script, clock, limits=GovernorLimits.jira_cloud()) as client:
        for _ in range(25):
            await client.write_once(
                "POST", URL, json={}, parse=worklog_id, reconcile=Reconciler(), issue_key="P-1"
            )
    assert clock.slept > 0


class FlakyReconciler:
    """A look-up that fails (as a 500 on the reconcile GET would) before it answers."""

    def __init__(self, failures: int, answer: str | None) -> None:
        self.failures = failures
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ServerError("look-up failed", status=500)
        return self.answer


async def test_a_failed_reconcile_is_asked_again_never_taken_as_not_applied(
    clock: FakeClock,
) -> None:
    script = ScriptedTransport(read_timeout(), httpx.Response(201, json={"id": "dup"}))
    reconcile = FlakyReconciler(failures=2, answer="10044")
    async with client_for(script, clock) as client:
        result = await client.write_once(
            "POST", URL, json={"timeSpentSeconds": 60}, parse=worklog_id, reconcile=reconcile
        )
    assert result == "10044"
    assert script.count == 1  # the write was never repeated
    assert reconcile.calls == 3


async def test_a_reconcile_that_never_answers_raises_without_resending(clock: FakeClock) -> None:
    script = ScriptedTransport(read_timeout(), httpx.Response(201, json={"id": "dup"}))
    reconcile = FlakyReconciler(failures=100, answer=None)
    async with client_for(script, clock) as client:
        with pytest.raises(ServerError):
            await client.write_once(
                "POST", URL, json={"timeSpentSeconds": 60}, parse=worklog_id, reconcile=reconcile
            )
    assert script.count == 1
