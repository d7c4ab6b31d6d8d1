import pytest

from jirabridge.errors import CircuitOpenError
from jirabridge.http.breaker import BreakerState, CircuitBreaker
from jirabridge.http.clock import FakeClock


def make(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(
        "jira.example", failure_threshold=threshold, recovery_time=30, clock=clock
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.before_request()
        breaker.record_failure()


def test_opens_after_n_consecutive_failures_and_fails_fast(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_request()
    assert caught.value.site == "jira.example"
    assert caught.value.retry_after == pytest.approx(20)
    assert caught.value.details["half_open_at"] == pytest.approx(clock.time() + 20)


def test_a_success_resets_the_count(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 2)
    breaker.before_request()
    breaker.record_success()  # a 4xx counts here too: the site answered
    fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2


def test_half_open_lets_exactly_one_probe_through_and_closes_on_success(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.before_request() is True
    with pytest.raises(CircuitOpenError):
        breaker.before_request()  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.before_request() is False


def test_failed_probe_opens_again_for_a_full_recovery_time(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(31)
    breaker.before_request()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.advance(1)
    assert breaker.before_request() is True


def test_a_cancelled_probe_frees_the_slot(clock: FakeClock) -> None:
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(30)
    probe = breaker.before_request()
    breaker.release(probe)
    assert breaker.before_request() is True


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("s", failure_threshold=0)
