import pytest

from jirabridge.http.retry import Outcome, RequestFacts, RetryPolicy, is_ambiguous

GET = RequestFacts("GET", idempotent=True)
POST = RequestFacts("POST", idempotent=False)


def policy(**kwargs: object) -> RetryPolicy:
    return RetryPolicy(random=lambda: 0.5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_idempotent_request_is_retried_on_transient_statuses(status: int) -> None:
    decision = policy().decide(GET, Outcome.response(status), attempt=1, elapsed=0)
    assert decision.retry
    assert decision.wait == pytest.approx(2.0)  # base 2 s, jitter midpoint x1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
def test_other_statuses_are_not_retried(status: int) -> None:
    assert not policy().decide(GET, Outcome.response(status), 1, 0).retry


def test_timeouts_and_connection_errors_retried_only_when_idempotent() -> None:
    for outcome in (Outcome.timeout(), Outcome.connection_error()):
        assert policy().decide(GET, outcome, 1, 0).retry
        decision = policy().decide(POST, outcome, 1, 0)
        assert not decision.retry
        assert "not idempotent" in decision.reason


def test_post_is_not_retried_on_503_but_is_on_429() -> None:
    assert not policy().decide(POST, Outcome.response(503), 1, 0).retry
    assert not policy().decide(POST, Outcome.response(500), 1, 0).retry
    assert policy().decide(POST, Outcome.response(429), 1, 0).retry


def test_backoff_doubles_and_jitter_spans_point_seven_to_one_point_three() -> None:
    waits = [policy().decide(GET, Outcome.timeout(), n, 0).wait for n in (1, 2, 3, 4)]
    assert waits == pytest.approx([2.0, 4.0, 8.0, 16.0])
    low = RetryPolicy(random=lambda: 0.0).backoff(1)
    high = RetryPolicy(random=lambda: 0.999999).backoff(1)
    assert low == pytest.approx(1.4)
    assert high == pytest.approx(2.6, rel=1e-4)


def test_attempts_are_capped() -> None:
    p = policy(max_retries=4)
    assert p.decide(GET, Outcome.timeout(), 4, 0).retry
    assert not p.decide(GET, Outcome.timeout(), 5, 0).retry


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    decision = policy().decide(GET, Outcome.response(429, retry_after=30), 1, 0)
    assert decision.wait == 30
    # a short Retry-After does not shorten the backoff either
    decision = policy().decide(GET, Outcome.response(429, retry_after=1), 3, 0)
    assert decision.wait == pytest.approx(8.0)


def test_retry_after_beyond_the_cap_gives_up_and_says_so() -> None:
    decision = policy(max_retry_after=60).decide(GET, Outcome.response(429, retry_after=1800), 1, 0)
    assert not decision.retry
    assert decision.wait_too_long


def test_total_time_budget_is_respected() -> None:
    p = policy(max_elapsed=10)
    assert p.decide(GET, Outcome.timeout(), 1, elapsed=5).retry
    assert not p.decide(GET, Outcome.timeout(), 1, elapsed=9).retry


def test_ambiguity() -> None:
    assert is_ambiguous(Outcome.timeout())
    assert is_ambiguous(Outcome.connection_error())
    assert is_ambiguous(Outcome.response(500))
    assert is_ambiguous(Outcome.response(503))
    assert not is_ambiguous(Outcome.response(501))
    assert not is_ambiguous(Outcome.response(429))
    assert not is_ambiguous(Outcome.response(400))
    assert not is_ambiguous(Outcome.response(403, rate_limited=True))


def test_invalid_jitter_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=(1.3, 0.7))
