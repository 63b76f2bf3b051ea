"""Conformal calibration: exact order statistic, MAPIE cross-check, coverage, Mondrian fallback, ACI, state JSON."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_core.conformal import (
    MIN_SIDE_WIDTH,
    AdaptiveConformal,
    ConformalState,
    MondrianConformal,
    SplitConformal,
    apply_scale,
    band_scores,
    bands_scores,
    split_conformal_quantile,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


# --- order statistic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "alpha", "k"),
    [
        (9, 0.2, 8),  # ceil(10 * 0.8) = 8
        (10, 0.2, 9),  # ceil(8.8) = 9
        (4, 0.2, 4),  # ceil(4.0) = 4
        (19, 0.1, 18),  # ceil(18.0) = 18 (float noise must not push it to 19)
        (99, 0.1, 90),
        (1, 0.5, 1),
    ],
)
def test_exact_order_statistic(n: int, alpha: float, k: int) -> None:
    scores = np.arange(1, n + 1, dtype=float)[::-1].copy()  # unsorted input, k-th smallest == k
    assert split_conformal_quantile(scores, alpha) == k


@pytest.mark.parametrize(("n", "alpha"), [(3, 0.2), (8, 0.1), (0, 0.3), (18, 0.05)])
def test_infinite_when_too_few(n: int, alpha: float) -> None:
    # ceil((n+1)(1-alpha)) > n  <=>  n < ceil(1/alpha) - 1
    assert split_conformal_quantile(np.ones(n), alpha) == math.inf


def test_no_interpolation() -> None:
    scores = [0.0, 10.0, 20.0, 30.0]
    q = split_conformal_quantile(scores, 0.4)  # ceil(5 * 0.6) = 3 -> 20, never e.g. 18 or 24
    assert q == 20.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="alpha"):
        split_conformal_quantile([1.0], 0.0)
    with pytest.raises(ValueError, match="NaN"):
        split_conformal_quantile([1.0, float("nan")], 0.2)


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.floats(-5, 5), min_size=1, max_size=60), alpha=st.floats(0.01, 0.99))
def test_order_statistic_matches_sorted_definition(scores: list[float], alpha: float) -> None:
    n = len(scores)
    k = math.ceil((n + 1) * (1 - alpha) - 1e-9 * max(1.0, (n + 1) * (1 - alpha)))
    expected = math.inf if k > n else sorted(scores)[max(k, 1) - 1]
    assert split_conformal_quantile(scores, alpha) == expected


# --- MAPIE as an independent reference ------------------------------------------------------------


def _identity_estimator() -> Any:
    from sklearn.base import BaseEstimator, RegressorMixin

    class Identity(RegressorMixin, BaseEstimator):  # type: ignore[misc]
        """Predicts its single feature: the 'model' is a precomputed point forecast."""

        def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> Identity:
            self.n_features_in_ = 1
            self.fitted_ = True
            return self

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.asarray(x, dtype=float)[:, 0]

    return Identity().fit(np.zeros((1, 1)))


@pytest.mark.parametrize("n", [9, 19, 37, 100, 523])
@pytest.mark.parametrize("confidence", [0.8, 0.9])
def test_matches_mapie_split_conformal(n: int, confidence: float) -> None:
    from mapie.regression import SplitConformalRegressor

    rng = np.random.default_rng(n)
    x = rng.uniform(size=n)
    y = x + rng.normal(0, 0.1, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mapie = SplitConformalRegressor(_identity_estimator(), confidence_level=confidence, prefit=True)
        mapie.conformalize(x[:, None], y)
        pred, pis = mapie.predict_interval(np.array([[0.5]]), allow_infinite_bounds=True)
    mapie_q = float(pis[0, 1, 0] - pred[0])
    assert split_conformal_quantile(np.abs(y - x), 1 - confidence) == pytest.approx(mapie_q, abs=1e-12)


def test_matches_mapie_quantile_routine_including_infinite() -> None:
    from mapie.utils import _compute_regression_quantile

    rng = np.random.default_rng(7)
    for n in (3, 5, 20, 57):
        s = rng.exponential(size=n)
        for alpha in (0.05, 0.2, 0.33):
            ref = float(_compute_regression_quantile(s, np.array([1 - alpha]), unbounded=True)[0, 0])
            assert split_conformal_quantile(s, alpha) == ref


# --- scores and apply ------------------------------------------------------------------------------


def test_band_scores_values() -> None:
    s = band_scores([0.5, 0.3, 0.6, 0.2, 0.95, 0.4], 0.4, 0.5, 0.7)
    assert s == pytest.approx([-1.0, 1.0, -0.5, 2.0, 1.25, 0.0])


def test_apply_scale_covers_iff_score_below_qhat() -> None:
    rng = np.random.default_rng(0)
    m = rng.uniform(0.2, 0.8, 400)
    bands = np.stack([m - rng.uniform(0.01, 0.1, 400), m, m + rng.uniform(0.01, 0.1, 400)])
    y = np.clip(m + rng.normal(0, 0.08, 400), 0, 1)
    s = bands_scores(y, bands)
    for q_hat in (-0.5, 0.0, 0.3, 1.7):
        adj = apply_scale(bands, q_hat)
        covered = (adj[0] <= y) & (y <= adj[-1])
        clear = np.abs(s - q_hat) > 1e-9  # away from the boundary, where rounding could go either way
        assert np.array_equal(covered[clear], (s <= q_hat)[clear])


def test_apply_keeps_monotone_bounds_and_median() -> None:
    bands = np.array([[0.1, 0.5, 0.98], [0.2, 0.55, 0.99], [0.3, 0.6, 0.995], [0.35, 0.62, 0.999], [0.4, 0.7, 1.0]])
    for q_hat in (-3.0, -1.0, -0.4, 0.0, 0.5, 5.0, math.inf):
        out = apply_scale(bands, q_hat)
        assert out.shape == bands.shape
        assert np.all(np.diff(out, axis=0) >= 0)
        assert np.all((out >= 0) & (out <= 1))
        assert out[2] == pytest.approx(bands[2])
    assert np.all(apply_scale(bands, math.inf)[0] == 0.0)
    assert np.all(apply_scale(bands, math.inf)[-1] == 1.0)
    collapsed = apply_scale(bands, -1.0)
    assert np.allclose(collapsed, bands[2][None, :])
    # degenerate band gets the floor
    flat = apply_scale(np.full((3, 2), 0.5), 0.0)
    assert flat[-1, 0] - flat[0, 0] == pytest.approx(2 * MIN_SIDE_WIDTH)


def test_apply_one_dimensional_band() -> None:
    out = apply_scale([0.4, 0.5, 0.7], 1.0)
    assert out == pytest.approx([0.3, 0.5, 0.9])


def test_split_conformal_fit_apply() -> None:
    sc = SplitConformal.fit([-0.5, 0.0, 0.5, 1.0], alpha=0.4)  # k = 3 -> 0.5
    assert sc.q_hat == 0.5
    assert sc.scale == 1.5
    assert sc.n == 4
    assert sc.apply([0.4, 0.5, 0.6]) == pytest.approx([0.35, 0.5, 0.65])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_conformal_coverage_on_exchangeable_data(seed: int) -> None:
    """Miscalibrated (too narrow) band, 2000 calibration + 5000 test points: coverage ~ 1 - alpha."""
    rng = np.random.default_rng(seed)
    alpha = 0.2

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        m = rng.uniform(0.2, 0.8, n)
        y = np.clip(m + rng.normal(0, 0.05, n) * (1 + m), 0, 1)  # heteroscedastic noise
        bands = np.stack([m - 0.02, m, m + 0.03])  # asymmetric and too narrow
        return y, bands

    y_cal, b_cal = draw(2000)
    y_test, b_test = draw(5000)
    base_cov = np.mean((b_test[0] <= y_test) & (y_test <= b_test[-1]))
    sc = SplitConformal.fit(bands_scores(y_cal, b_cal), alpha)
    adj = sc.apply(b_test)
    cov = np.mean((adj[0] <= y_test) & (y_test <= adj[-1]))
    assert base_cov < 0.5
    assert abs(cov - (1 - alpha)) < 0.03


def test_narrows_an_overwide_band() -> None:
    rng = np.random.default_rng(4)
    m = rng.uniform(0.3, 0.7, 3000)
    y = m + rng.normal(0, 0.01, 3000)
    bands = np.stack([m - 0.2, m, m + 0.2])
    sc = SplitConformal.fit(bands_scores(y[:1000], bands[:, :1000]), 0.2)
    assert sc.q_hat < 0
    adj = sc.apply(bands[:, 1000:])
    assert np.mean(adj[-1] - adj[0]) < 0.4
    assert abs(np.mean((adj[0] <= y[1000:]) & (y[1000:] <= adj[-1])) - 0.8) < 0.04


# --- Mondrian and state -----------------------------------------------------------------------------


def test_mondrian_groups_and_fallback() -> None:
    rng = np.random.default_rng(3)
    big = rng.uniform(0, 1, 300)
    wide = rng.uniform(0, 5, 120)
    small = rng.uniform(0, 1, 10)
    scores = np.concatenate([big, wide, small])
    groups = ["HIGH"] * 300 + ["LOW"] * 120 + ["MID"] * 10
    state = MondrianConformal(alpha=0.2).fit(scores, groups, fitted_at=T0)
    assert state.method == "mondrian"
    assert state.min_group == 50
    assert state.groups["HIGH"].source == "group"
    assert state.groups["HIGH"].q_hat == split_conformal_quantile(big, 0.2)
    assert state.groups["LOW"].q_hat == split_conformal_quantile(wide, 0.2)
    assert state.groups["MID"].source == "pooled"
    assert state.groups["MID"].n == 10
    assert state.groups["MID"].q_hat == state.pooled.q_hat == split_conformal_quantile(scores, 0.2)
    assert state.pooled.n == 430
    assert MondrianConformal(alpha=0.2).sources(state) == {"HIGH": "group", "LOW": "group", "MID": "pooled"}
    # unknown and None groups use the pooled calibration
    assert state.for_group("XL") is state.pooled
    assert state.for_group(None) is state.pooled
    band = np.array([0.4, 0.5, 0.6])
    assert state.apply(band, "LOW") == pytest.approx(apply_scale(band, split_conformal_quantile(wide, 0.2)))


def test_mondrian_min_group_respects_alpha() -> None:
    assert MondrianConformal(alpha=0.01).effective_min_group == 100
    assert MondrianConformal(alpha=0.2, min_group=5).effective_min_group == 5
    assert MondrianConformal(alpha=0.1, min_group=3).effective_min_group == 10


def test_state_json_round_trip_with_infinite() -> None:
    # a group with >= min_group >= ceil(1/alpha) scores always has a finite order statistic; only a tiny
    # pooled set can be infinite: 3 scores at alpha=0.2 -> k = ceil(3.2) = 4 > 3 -> +inf, stored as null
    state = MondrianConformal(alpha=0.2).fit([0.1, 0.2, 0.3], ["a", "a", "b"], T0)
    assert state.pooled.q_hat is None
    assert state.groups["a"].q_hat is None
    assert state.groups["a"].source == "pooled"
    assert state.groups["a"].scale == math.inf
    raw = state.to_json()
    assert b"Infinity" not in raw
    back = ConformalState.from_json(raw)
    assert back == state
    assert back.fitted_at == T0
    assert np.all(back.apply([0.4, 0.5, 0.6], "a") == [0.0, 0.5, 1.0])


def test_split_to_state() -> None:
    state = SplitConformal.fit(np.linspace(-1, 1, 101), 0.1).to_state(T0)
    assert state.method == "split"
    assert state.groups == {}
    assert state.pooled.n == 101
    assert ConformalState.from_json(state.to_json()) == state


# --- ACI ------------------------------------------------------------------------------------------


def test_aci_update_rule() -> None:
    aci = AdaptiveConformal(alpha=0.2, gamma=0.1, initial_scores=np.linspace(-1, 1, 50))
    q0 = aci.q_t
    a1 = aci.update(0.95, 0.4, 0.6)  # far outside: err = 1
    assert a1 == pytest.approx(0.2 + 0.1 * (0.2 - 1))
    a2 = aci.update(0.5, 0.4, 0.6)  # at the median: covered
    assert a2 == pytest.approx(a1 + 0.1 * 0.2)
    assert aci.n_updates == 2
    assert aci.n_errors == 1
    assert q0 == split_conformal_quantile(np.linspace(-1, 1, 50), 0.2)


def test_aci_extreme_alpha() -> None:
    aci = AdaptiveConformal(alpha=0.2, gamma=1.0, initial_scores=[0.0] * 20)
    aci.alpha_t = -0.3
    assert aci.q_t == math.inf
    assert np.all(aci.apply([0.4, 0.5, 0.6]) == [0.0, 0.5, 1.0])
    aci.alpha_t = 1.2
    assert aci.q_t == -math.inf
    assert aci.apply([0.4, 0.5, 0.6]) == pytest.approx([0.5, 0.5, 0.5])
    empty = AdaptiveConformal(alpha=0.2)
    assert empty.q_t == math.inf


def test_aci_long_run_miss_rate_on_drifting_series() -> None:
    """Noise scale triples over time and the base band never adapts; ACI's miss rate still -> alpha."""
    rng = np.random.default_rng(11)
    alpha, gamma, n = 0.2, 0.02, 6000
    aci = AdaptiveConformal(alpha=alpha, gamma=gamma, window=300)
    split_errs = 0
    split = SplitConformal(alpha=alpha, n=0, q_hat=math.inf)
    for t in range(n):
        sigma = 0.02 * (1 + 2 * t / n) * (1.5 if (t // 500) % 2 else 1.0)
        m = 0.5 + 0.2 * math.sin(t / 200)
        y = float(np.clip(m + rng.normal(0, sigma), 0, 1))
        lo, hi = m - 0.02, m + 0.02
        if t == 500:  # a one-off split calibration on the first 500 points, for contrast
            split = SplitConformal.fit(list(aci._scores)[-500:], alpha)
        if t >= 500:
            adj = split.apply([lo, m, hi])
            split_errs += int(not adj[0] <= y <= adj[-1])
        aci.update(y, lo, hi, median=m)
    bound = (max(alpha, 1 - alpha) + gamma) / (gamma * n)
    assert abs(aci.miss_rate - alpha) <= bound + 1e-12
    assert abs(aci.miss_rate - alpha) < 0.01
    assert split_errs / (n - 500) > alpha + 0.05  # static calibration under-covers as noise grows


def test_aci_validation() -> None:
    with pytest.raises(ValueError, match="gamma"):
        AdaptiveConformal(gamma=0.0)
    with pytest.raises(ValueError, match="finite"):
        AdaptiveConformal().update(float("nan"), 0.1, 0.2)


def test_calibrates_baseline_bands_end_to_end() -> None:
    """EWMA 1-step bands on fat-tailed random walks under-cover; split conformal restores ~80 %."""
    from mca_core.baselines import ewma_bands

    rng = np.random.default_rng(21)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        ys, bands = [], []
        for _ in range(n):
            x = np.cumsum(rng.standard_t(2, 61) * 0.05) + rng.normal(0, 1)
            p = 1 / (1 + np.exp(-x))
            bands.append(ewma_bands(p[:60], 1, (0.1, 0.5, 0.9))[:, 0])
            ys.append(p[60])
        return np.array(ys), np.array(bands).T

    y_cal, b_cal = draw(1500)
    y_test, b_test = draw(1500)
    sc = SplitConformal.fit(bands_scores(y_cal, b_cal), 0.2)
    adj = sc.apply(b_test)
    cov = np.mean((adj[0] <= y_test) & (y_test <= adj[-1]))
    assert abs(cov - 0.8) < 0.04


def test_aci_judges_late_feedback_against_the_band_actually_issued() -> None:
    aci = AdaptiveConformal(alpha=0.2, gamma=0.1, initial_scores=np.linspace(-1, 1, 50))
    assert aci.update(0.95, 0.4, 0.6, q_used=math.inf) == pytest.approx(0.2 + 0.1 * 0.2)  # the issued band was [0, 1]
    assert aci.n_errors == 0
    aci.update(0.5, 0.4, 0.6, q_used=-1.0)  # a band collapsed to its median still holds the median
    assert aci.n_errors == 0
    aci.update(0.55, 0.4, 0.6, q_used=-1.0)
    assert aci.n_errors == 1
