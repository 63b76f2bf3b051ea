"""Drift detectors on synthetic stable vs shifted data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mca_core.drift import (
    PSI_FLOOR,
    base_rate_swing,
    brier_trend,
    coverage_below_target,
    drift_report,
    psi,
    psi_level,
    window_means,
)
from mca_resources.settings import Settings

THRESHOLDS = Settings().drift_thresholds()


def ref_psi(expected: list[float], actual: list[float], bins: int) -> float:
    def shares(xs: list[float]) -> list[float]:
        counts = [0] * bins
        for x in xs:
            counts[min(int(x * bins), bins - 1)] += 1
        return [max(c / len(xs), PSI_FLOOR) for c in counts]

    e, a = shares(expected), shares(actual)
    return sum((ai - ei) * math.log(ai / ei) for ai, ei in zip(a, e, strict=True))


def test_psi_matches_reference_and_levels() -> None:
    rng = np.random.default_rng(0)
    ref = rng.beta(2, 5, 5000)
    same = rng.beta(2, 5, 5000)
    moved = rng.beta(5, 2, 5000)
    assert psi(ref, same) == pytest.approx(ref_psi(ref.tolist(), same.tolist(), 10), abs=1e-12)
    assert psi(ref, moved) == pytest.approx(ref_psi(ref.tolist(), moved.tolist(), 10), abs=1e-12)
    assert psi(ref, same) < 0.02
    assert psi(ref, moved) > 0.25
    assert psi_level(psi(ref, same)) == "stable"
    assert psi_level(psi(ref, moved)) == "shift"
    assert psi_level(0.15) == "moderate"
    assert psi(ref, ref) == 0.0


def test_psi_empty_bins_are_finite() -> None:
    assert math.isfinite(psi([0.05] * 10, [0.95] * 10))
    with pytest.raises(ValueError, match="non-empty"):
        psi([], [0.5])
    with pytest.raises(ValueError, match="NaN"):
        psi([0.5, float("nan")], [0.5])


def test_base_rate_swing_stable_vs_shifted() -> None:
    rng = np.random.default_rng(1)
    dates = np.arange(4000)
    stable = (rng.uniform(size=4000) < 0.4).astype(float)
    shifted = (rng.uniform(size=4000) < np.where(dates < 2000, 0.3, 0.6)).astype(float)
    assert base_rate_swing(stable, dates) < 0.1
    assert base_rate_swing(shifted, dates) > 0.2


def test_windows_follow_dates_not_input_order() -> None:
    y = np.array([1, 1, 0, 0], dtype=float)
    dates = np.array(["2026-01-04", "2026-01-03", "2026-01-01", "2026-01-02"], dtype="datetime64[D]")
    assert window_means(y, dates, 2).tolist() == [0.0, 1.0]
    assert base_rate_swing(y, dates, 2) == 1.0
    with pytest.raises(ValueError, match="same length"):
        window_means(y, dates[:3], 2)
    with pytest.raises(ValueError, match="at least"):
        window_means(y, dates, 5)


def test_brier_trend() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    dates = np.arange(n)
    p = rng.uniform(0.05, 0.95, n)
    y_good = (rng.uniform(size=n) < p).astype(float)
    noise = np.clip(p + rng.normal(0, 1, n) * np.linspace(0, 0.6, n), 0, 1)
    y_bad = (rng.uniform(size=n) < noise).astype(float)  # outcomes decouple from p over time
    stable = brier_trend(p, y_good, dates)
    worse = brier_trend(p, y_bad, dates)
    assert len(stable.per_window) == 4
    assert abs(stable.slope) < 0.01
    assert worse.slope > 0.01
    assert worse.increasing
    # slope is the OLS slope of per-window Brier on the window index
    per = np.array(worse.per_window)
    assert worse.slope == pytest.approx(np.polyfit(np.arange(4), per, 1)[0], abs=1e-12)


def test_brier_trend_hand() -> None:
    p = [0.5, 0.5, 0.5, 0.5]
    y = [0.5, 0.4, 0.3, 0.0]
    t = brier_trend(p, y, [0, 1, 2, 3])
    assert t.per_window == pytest.approx((0.0, 0.01, 0.04, 0.25))
    assert t.increasing
    assert not brier_trend(p, [0.0, 0.5, 0.5, 0.0], [0, 1, 2, 3]).increasing


def test_coverage_below_target() -> None:
    low = coverage_below_target(np.r_[np.ones(140), np.zeros(60)], 0.8, 200, 0.05)  # 0.70 with n = 200
    assert low.fired
    assert low.coverage == pytest.approx(0.7)
    assert not coverage_below_target(np.r_[np.ones(152), np.zeros(48)], 0.8, 200, 0.05).fired  # 0.76 >= 0.75
    assert not coverage_below_target(np.r_[np.ones(70), np.zeros(30)], 0.8, 200, 0.05).fired  # n < 200
    assert coverage_below_target([True] * 7 + [False] * 3, 0.9, n_min=10, tolerance=0.05).fired


def test_drift_report_stable_vs_shifted() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    dates = np.arange(n)
    p_ref = rng.uniform(0.1, 0.9, n)
    p = rng.uniform(0.1, 0.9, n)
    y = (rng.uniform(size=n) < p).astype(float)
    covered = rng.uniform(size=n) < 0.8
    calm = drift_report(
        y=y, p=p, dates=dates, expected_p=p_ref, covered=covered, coverage_target=0.8, thresholds=THRESHOLDS
    )
    assert not calm.drift
    assert calm.fired == ()
    assert calm.psi_level == "stable"
    assert set(calm.values) >= {"base_rate_swing", "brier_slope", "psi", "coverage"}
    assert calm.thresholds["base_rate_swing"] == 0.15
    assert calm.thresholds["psi"] == 0.25
    assert calm.thresholds["coverage"] == pytest.approx(0.75)

    p_new = np.clip(rng.beta(8, 2, n), 0.01, 0.99)
    y_new = (rng.uniform(size=n) < np.where(dates < n // 2, 0.2, 0.7)).astype(float)
    cov_new = rng.uniform(size=n) < 0.6
    bad = drift_report(
        y=y_new, p=p_new, dates=dates, expected_p=p_ref, covered=cov_new, coverage_target=0.8, thresholds=THRESHOLDS
    )
    assert bad.drift
    assert {"base_rate_swing", "psi", "coverage"} <= set(bad.fired)
    assert bad.psi_level == "shift"


def test_drift_report_partial_inputs() -> None:
    r = drift_report(covered=[1] * 10, coverage_target=0.8, thresholds=THRESHOLDS)
    assert r.fired == ()
    assert set(r.values) == {"coverage", "coverage_n"}
    assert drift_report(thresholds=THRESHOLDS).fired == ()
