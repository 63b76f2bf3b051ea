"""Circuit breaker: opens on consecutive failures, admits exactly one half-open probe, closes or reopens on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.breaker import BreakerState, CircuitBreaker, IdentityBreakers


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
    with pytest.raises(ValueError, match="min_sources"):
        CircuitBreaker(1, 1.0, min_sources=0)


def test_one_source_alone_cannot_open_a_breaker_that_needs_two() -> None:
    """Threshold 5 over 2 sources: no source counts for more than 3 of the consecutive failures."""
    breaker = CircuitBreaker(5, 10.0, min_sources=2, clock=Clock())
    for _ in range(50):
        breaker.record_failure("alice")
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("bob")
    assert breaker.state is BreakerState.CLOSED  # 3 + 1: one blip of bob's is not corroboration enough
    breaker.record_failure("bob")
    assert breaker.state is BreakerState.OPEN


def test_a_success_clears_the_sources_of_the_failure_run() -> None:
    breaker = CircuitBreaker(4, 10.0, min_sources=2, clock=Clock())
    for source in ("alice", "alice", "bob"):
        breaker.record_failure(source)
    breaker.record_success()
    for source in ("alice", "alice", "bob"):
        breaker.record_failure(source)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("bob")
    assert breaker.state is BreakerState.OPEN


def test_would_allow_does_not_take_the_probe() -> None:
    breaker, clock, _ = make(threshold=1, reset=1.0)
    breaker.record_failure()
    assert not breaker.would_allow()
    clock.now += 1.0
    assert breaker.would_allow()
    assert breaker.would_allow()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow()
    assert not breaker.would_allow()  # the probe is in flight


def test_identity_breakers_cut_off_the_failing_identity_alone() -> None:
    clock = Clock()
    opened: list[int] = []
    breakers = IdentityBreakers(3, 10.0, min_identities=2, clock=clock, on_identity_open=lambda: opened.append(1))
    for _ in range(3):
        assert breakers.allow("alice")
        breakers.record_failure("alice")
    assert not breakers.allow("alice")
    assert breakers.state_for("alice") is BreakerState.OPEN
    assert breakers.allow("bob")
    assert breakers.state_for("bob") is BreakerState.CLOSED
    assert breakers.shared.state is BreakerState.CLOSED
    assert opened == [1]
    breakers.record_failure("bob")  # corroborated: alice's 2 counted + bob's 1
    assert breakers.shared.state is BreakerState.OPEN
    assert not breakers.allow("carol")
    assert breakers.state_for("carol") is BreakerState.OPEN


def test_identity_breakers_take_a_probe_only_when_both_admit() -> None:
    clock = Clock()
    breakers = IdentityBreakers(1, 10.0, min_identities=1, clock=clock)
    breakers.record_failure("alice")  # opens alice's own breaker and the shared one
    clock.now += 10.0
    assert breakers.allow("bob")  # bob's own is closed: he takes the shared probe
    assert not breakers.allow("alice")  # the shared probe is in flight; alice's own probe is not wasted
    breakers.record_success("bob")
    assert breakers.allow("alice")  # alice's own half-open probe
    assert breakers.state_for("alice") is BreakerState.HALF_OPEN


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
