"""Circuit breaker: opens on consecutive failures, admits exactly one half-open probe, closes or reopens on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, Clock, list[tuple[str, str]]]:
    clock = Clock()
    moves: list[tuple[str, str]] = []
    breaker = CircuitBreaker(threshold, reset, clock=clock, on_transition=lambda a, b: moves.append((a, b)))
    return breaker, clock, moves


def test_opens_after_consecutive_failures_only() -> None:
    breaker, _, moves = make(threshold=3)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    breaker.record_success()  # a success resets the count
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert moves == [("closed", "open")]
    assert not breaker.allow()


def test_half_open_admits_a_single_probe_and_success_closes() -> None:
    breaker, clock, moves = make(threshold=1, reset=10.0)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    assert breaker.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # concurrent requests are refused while the probe runs
    assert not breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_failed_probe_reopens_for_a_full_timeout() -> None:
    breaker, clock, moves = make(threshold=1, reset=5.0)
    breaker.record_failure()
    clock.now += 5.0
    assert breaker.allow()
    clock.now += 2.0
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert moves[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_results_of_calls_admitted_before_opening_are_ignored_while_open() -> None:
    breaker, _, _ = make(threshold=1)
    breaker.record_failure()
    breaker.record_success()
    assert breaker.state is BreakerState.OPEN
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(0)
    with pytest.raises(ValueError, match="reset_timeout_s"):
        CircuitBreaker(1, -1.0)


@given(st.lists(st.sampled_from(["ok", "fail", "tick"]), max_size=200))
def test_never_more_than_one_probe_in_flight(events: list[str]) -> None:
    """Whatever the history, while half-open at most one call is admitted until it reports."""
    breaker, clock, _ = make(threshold=2, reset=1.0)
    in_flight = 0
    for event in events:
        if event == "tick":
            clock.now += 0.6
            continue
        if breaker.allow():
            in_flight += 1
            if breaker.state is BreakerState.HALF_OPEN:
                assert not breaker.allow()
            (breaker.record_success if event == "ok" else breaker.record_failure)()
            in_flight -= 1
        assert breaker.state in set(BreakerState)
    assert in_flight == 0
