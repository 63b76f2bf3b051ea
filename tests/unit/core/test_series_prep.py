"""Series preparation: the reasons a series goes to the baseline, forward fill, and freq parsing."""

from __future__ import annotations

import pytest

from mca_core.series_prep import freq_seconds, prepare_series


def prep(y, **kw):
    args = {"step_s": 300.0, "min_points": 4, "max_gap_s": 3600.0} | kw
    return prepare_series(y, **args)


def test_a_clean_series_is_fit_for_the_model() -> None:
    out = prep([0.1, 0.2, 0.3, 0.4, 0.5])
    assert out.reason is None
    assert out.observed == 5
    assert out.longest_gap_s == 300.0


def test_missing_steps_are_forward_filled_and_leading_ones_dropped() -> None:
    out = prep([None, None, 0.2, None, 0.4, 0.5, None, 0.7])
    assert out.y.tolist() == [0.2, 0.2, 0.4, 0.5, 0.5, 0.7]
    assert out.observed == 4
    assert out.reason is None


def test_too_few_points() -> None:
    assert prep([0.2, None, None, 0.3, 0.4]).reason == "too_few_points"


def test_gap_beyond_max_gap() -> None:
    y = [0.2, 0.3] + [None] * 12 + [0.4, 0.5]  # 13 steps of 5 min between observations
    out = prep(y)
    assert out.longest_gap_s == 13 * 300.0
    assert out.reason == "max_gap_exceeded"
    assert prep(y, max_gap_s=13 * 300.0).reason is None
    assert prep([0.2, 0.3, 0.4, 0.5] + [None] * 13).reason == "max_gap_exceeded"  # a trailing hole counts


def test_illiquid_bucket_goes_to_baseline() -> None:
    assert prep([0.1, 0.2, 0.3, 0.4], liquidity_bucket="LOW").reason == "baseline_only_liquidity_bucket"
    assert prep([0.1, 0.2, 0.3, 0.4], liquidity_bucket="HIGH").reason is None


def test_no_observation_is_an_error() -> None:
    with pytest.raises(ValueError, match="no observed"):
        prep([None, None])


@pytest.mark.parametrize(("freq", "seconds"), [("30s", 30), ("5m", 300), ("5min", 300), ("1h", 3600), ("1d", 86400)])
def test_freq_seconds(freq: str, seconds: float) -> None:
    assert freq_seconds(freq) == seconds


@pytest.mark.parametrize("freq", ["0m", "5", "5w", "m5", ""])
def test_bad_freq(freq: str) -> None:
    with pytest.raises(ValueError, match="freq"):
        freq_seconds(freq)


def test_only_the_last_max_len_steps_are_kept_with_the_last_value_carried_in() -> None:
    y = [0.1, 0.2, 0.3, None, None, 0.6, 0.7]
    out = prep(y, max_len=4, min_points=2)
    assert out.y.tolist() == [0.3, 0.3, 0.6, 0.7]
    assert out.observed == 2
    assert out.reason is None
    assert prep([0.1, 0.2] + [None] * 5, max_len=4, min_points=1).reason == "too_few_points"
