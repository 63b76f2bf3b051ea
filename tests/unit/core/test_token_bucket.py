"""Token buckets per key: burst, Retry-After, refill, isolation between keys, bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mca_core.token_bucket import KeyedTokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_retry_after_then_refill() -> None:
    clock = Clock()
    buckets = KeyedTokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [buckets.take("alice") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("alice") == pytest.approx(0.5)
    assert buckets.take("bob") == 0.0  # keys are independent
    clock.now = 0.5
    assert buckets.take("alice") == 0.0
    assert buckets.take("alice") == pytest.approx(0.5)


def test_memory_is_bounded_by_max_keys() -> None:
    buckets = KeyedTokenBuckets(1.0, 1, max_keys=3, clock=Clock())
    for i in range(10):
        buckets.take(f"ip{i}")
    assert len(buckets) == 3


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        KeyedTokenBuckets(0.0, 1)


@given(st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=300))
def test_admitted_requests_never_exceed_burst_plus_refill(gaps: list[float]) -> None:
    clock = Clock()
    rate, burst = 5.0, 4
    buckets = KeyedTokenBuckets(rate, burst, clock=clock)
    admitted = 0
    for gap in gaps:
        clock.now += gap
        wait = buckets.take("k")
        assert wait >= 0.0
        admitted += wait == 0.0
    assert admitted <= burst + rate * clock.now + 1e-9
