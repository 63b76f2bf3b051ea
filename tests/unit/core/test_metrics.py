"""Scalar metrics against slow plain-Python references, sklearn, and hypothesis properties."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from mca_core import metrics as m

TOL = 1e-9


# ---------------------------------------------------------------- slow references (plain Python loops)


def ref_brier(p: list[float], y: list[float], w: list[float]) -> float:
    return sum(wi * (pi - yi) ** 2 for pi, yi, wi in zip(p, y, w, strict=True)) / sum(w)


def ref_log_loss(p: list[float], y: list[float], w: list[float], eps: float = 1e-6) -> float:
    total = 0.0
    for pi, yi, wi in zip(p, y, w, strict=True):
        q = min(max(pi, eps), 1 - eps)
        total -= wi * (math.log(q) if yi == 1 else math.log(1 - q))
    return total / sum(w)


def ref_bins(p: list[float], n_bins: int) -> list[int]:
    n = len(p)
    k = min(n_bins, n)
    raw = [sum(1 for q in p if q < pi) * k // n for pi in p]
    dense = {value: i for i, value in enumerate(sorted(set(raw)))}
    return [dense[r] for r in raw]


def ref_bin_table(p: list[float], y: list[float], w: list[float], n_bins: int) -> list[tuple[int, float, float, float]]:
    """(count, weight, mean p, mean y) per bin."""
    bins = ref_bins(p, n_bins)
    out = []
    for b in sorted(set(bins)):
        idx = [i for i, bi in enumerate(bins) if bi == b]
        wk = sum(w[i] for i in idx)
        out.append((len(idx), wk, sum(w[i] * p[i] for i in idx) / wk, sum(w[i] * y[i] for i in idx) / wk))
    return out


def ref_ece(p: list[float], y: list[float], w: list[float], n_bins: int) -> float:
    total = sum(w)
    return sum(wk / total * abs(ob - pb) for _, wk, pb, ob in ref_bin_table(p, y, w, n_bins))


def ref_murphy(p: list[float], y: list[float], w: list[float], n_bins: int) -> tuple[float, float, float]:
    total = sum(w)
    ybar = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / total
    table = ref_bin_table(p, y, w, n_bins)
    rel = sum(wk / total * (pb - ob) ** 2 for _, wk, pb, ob in table)
    res = sum(wk / total * (ob - ybar) ** 2 for _, wk, _, ob in table)
    return rel, res, ybar * (1 - ybar)


def ref_ece_debiased(p: list[float], y: list[float], n_bins: int) -> float:
    n = len(p)
    total = 0.0
    for nk, _, pb, ob in ref_bin_table(p, y, [1.0] * n, n_bins):
        corr = ob * (1 - ob) / (nk - 1) if nk > 1 else 0.0
        total += nk / n * ((pb - ob) ** 2 - corr)
    return math.sqrt(max(0.0, total))


def ref_ece_debiased_interval(p: list[float], y: list[float], n_bins: int) -> tuple[float, float]:
    n = len(p)
    total = var = 0.0
    for nk, _, pb, ob in ref_bin_table(p, y, [1.0] * n, n_bins):
        term = (pb - ob) ** 2 - (ob * (1 - ob) / (nk - 1) if nk > 1 else 0.0)
        v = max(ob * (1 - ob), pb * (1 - pb)) / nk
        total += nk / n * term
        var += (nk / n) ** 2 * (2 * v * v + 4 * max(term, 0.0) * v)
    half = 1.96 * math.sqrt(var)
    return math.sqrt(max(0.0, total - half)), math.sqrt(max(0.0, total + half))


def ref_logistic(
    p: list[float], y: list[float], w: list[float], eps: float = 1e-6
) -> tuple[float, float, float, float]:
    """Plain Newton iterations on lists; returns (slope, intercept, se_slope, se_intercept)."""
    x = [math.log(min(max(q, eps), 1 - eps)) - math.log(1 - min(max(q, eps), 1 - eps)) for q in p]
    a, b = 0.0, 1.0
    for _ in range(200):
        g0 = g1 = h00 = h01 = h11 = 0.0
        for xi, yi, wi in zip(x, y, w, strict=True):
            mu = 1.0 / (1.0 + math.exp(-(a + b * xi)))
            g0 += wi * (yi - mu)
            g1 += wi * (yi - mu) * xi
            v = wi * mu * (1 - mu)
            h00 += v
            h01 += v * xi
            h11 += v * xi * xi
        det = h00 * h11 - h01 * h01
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        a, b = a + da, b + db
        if max(abs(da), abs(db)) < 1e-13:
            break
    return b, a, math.sqrt(h00 / det), math.sqrt(h11 / det)


def data(seed: int, n: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, n)
    if ties:
        p = np.round(p, 1)
    y = (rng.uniform(size=n) < p).astype(float)
    w = rng.uniform(0.1, 2.0, n)
    return p, y, w


SEEDS = [0, 1, 2, 3]


# ---------------------------------------------------------------- equality with references


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_brier_and_log_loss_match_references(seed: int, weighted: bool) -> None:
    p, y, w = data(seed, 300)
    wl = list(w) if weighted else [1.0] * len(p)
    wa = w if weighted else None
    assert m.brier(p, y, wa) == pytest.approx(ref_brier(list(p), list(y), wl), abs=TOL)
    assert m.brier(p, y, wa) == pytest.approx(brier_score_loss(y, p, sample_weight=wa), abs=TOL)
    assert m.log_loss(p, y, wa) == pytest.approx(ref_log_loss(list(p), list(y), wl), abs=TOL)
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    assert m.log_loss(p, y, wa) == pytest.approx(sk_log_loss(y, clipped, sample_weight=wa, labels=[0, 1]), abs=TOL)


def test_log_loss_clips_resolved_prices() -> None:
    assert m.log_loss([0.0], [1]) == pytest.approx(-math.log(1e-6))
    assert m.log_loss([1.0], [1]) == pytest.approx(-math.log1p(-1e-6))
    assert m.log_loss([0.0], [1], eps=0.01) == pytest.approx(-math.log(0.01))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("n", "n_bins"), [(300, 10), (7, 10), (25, 4), (1, 10)])
def test_bins_ece_murphy_match_references(seed: int, ties: bool, n: int, n_bins: int) -> None:
    p, y, w = data(seed, n, ties)
    pl_, yl, wl = list(p), list(y), list(w)
    assert m.equal_mass_bins(p, n_bins).tolist() == ref_bins(pl_, n_bins)
    assert m.ece(p, y, n_bins) == pytest.approx(ref_ece(pl_, yl, [1.0] * n, n_bins), abs=TOL)
    assert m.ece(p, y, n_bins, w) == pytest.approx(ref_ece(pl_, yl, wl, n_bins), abs=TOL)
    assert m.ece_debiased(p, y, n_bins) == pytest.approx(ref_ece_debiased(pl_, yl, n_bins), abs=TOL)
    assert m.ece_debiased_interval(p, y, n_bins) == pytest.approx(ref_ece_debiased_interval(pl_, yl, n_bins), abs=TOL)
    assert m.murphy(p, y, n_bins, w) == pytest.approx(ref_murphy(pl_, yl, wl, n_bins), abs=TOL)
    assert m.murphy(p, y, n_bins) == pytest.approx(ref_murphy(pl_, yl, [1.0] * n, n_bins), abs=TOL)


def test_equal_mass_bins_keep_ties_together_and_are_order_free() -> None:
    p = np.array([0.5] * 6 + [0.1, 0.9, 0.2, 0.8])
    bins = m.equal_mass_bins(p, 5)
    assert len(set(bins[:6].tolist())) == 1
    assert bins.tolist() == [1] * 6 + [0, 2, 0, 2]  # ranks 0,1 -> 0; 2 -> 1; 8,9 -> 4 (renumbered 2)
    perm = np.random.default_rng(0).permutation(p.size)
    assert m.equal_mass_bins(p[perm], 5).tolist() == bins[perm].tolist()
    assert m.equal_mass_bins(np.arange(20) / 20, 4).tolist() == [i // 5 for i in range(20)]
    assert m.equal_mass_bins(np.array([0.3, 0.1, 0.2]), 10).tolist() == [2, 0, 1]
    assert m.equal_mass_bins(np.array([]), 10).size == 0
    with pytest.raises(ValueError, match="n_bins"):
        m.equal_mass_bins(p, 0)


def test_murphy_accepts_explicit_bin_ids() -> None:
    p, y, w = data(5, 50)
    ids = m.equal_mass_bins(p, 5)
    assert m.murphy(p, y, ids, w) == pytest.approx(m.murphy(p, y, 5, w), abs=TOL)
    with pytest.raises(ValueError, match="bin id"):
        m.murphy(p, y, np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_calibration_slope_intercept_matches_newton_reference_and_sklearn(seed: int, weighted: bool) -> None:
    p, y, w = data(seed, 400)
    p = np.clip(p * 0.8 + 0.1 + np.random.default_rng(seed + 100).normal(0, 0.05, p.size), 0, 1)
    wl = list(w) if weighted else [1.0] * p.size
    got = m.calibration_slope_intercept(p, y, w if weighted else None)
    assert got == pytest.approx(ref_logistic(list(p), list(y), wl), abs=TOL, rel=TOL)
    x = np.log(np.clip(p, 1e-6, 1 - 1e-6)) - np.log1p(-np.clip(p, 1e-6, 1 - 1e-6))
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(
        x[:, None], y, sample_weight=w if weighted else None
    )
    assert got[0] == pytest.approx(float(lr.coef_[0, 0]), abs=1e-5)
    assert got[1] == pytest.approx(float(lr.intercept_[0]), abs=1e-5)


@pytest.mark.parametrize(
    ("p", "y"),
    [
        ([0.2, 0.4, 0.6], [1, 1, 1]),  # one class
        ([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1]),  # constant forecast
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]),  # complete separation
        ([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1]),  # quasi-complete separation
        ([0.4], [1]),
        ([], []),
    ],
)
def test_calibration_fit_degenerate_inputs_give_nan(p: list[float], y: list[int]) -> None:
    assert all(math.isnan(v) for v in m.calibration_slope_intercept(p, y))


@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (0.4, 0.7), (-0.3, 1.4)])
def test_calibration_fit_recovers_known_parameters(a: float, b: float) -> None:
    rng = np.random.default_rng(42)
    p = rng.uniform(0.02, 0.98, 40_000)
    x = np.log(p / (1 - p))
    y = (rng.uniform(size=p.size) < 1 / (1 + np.exp(-(a + b * x)))).astype(float)
    slope, intercept, se_b, se_a = m.calibration_slope_intercept(p, y)
    assert abs(slope - b) < 3.5 * se_b
    assert abs(intercept - a) < 3.5 * se_a
    assert 0 < se_b < 0.05
    assert 0 < se_a < 0.05


MASK = (1 << 64) - 1


def ref_mix(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_poisson_count(seed: int, cluster: str, replicate: int) -> int:
    """Poisson(1) by inversion of the uniform of (seed, cluster, replicate), one item at a time."""
    key = int.from_bytes(hashlib.blake2b(f"cluster\x1f{cluster}".encode(), digest_size=8).digest(), "big") >> 1
    stream = ref_mix(seed ^ ((replicate * 0x9E3779B97F4A7C15) & MASK))
    u = (ref_mix(key ^ stream) >> 11) * 2.0**-53
    k, cdf = 0, math.exp(-1.0)
    while u >= cdf:
        k += 1
        cdf += math.exp(-1.0) / math.factorial(k)
    return k


def ref_bootstrap(p: np.ndarray, y: np.ndarray, groups: list[str], n_boot: int, seed: int) -> tuple[float, float]:
    names = sorted(set(groups))
    num = dict.fromkeys(names, 0.0)
    den = dict.fromkeys(names, 0.0)
    for pi, yi, gi in zip(p, y, groups, strict=True):
        num[gi] += (pi - yi) ** 2
        den[gi] += 1.0
    stats = []
    for b in range(n_boot):
        k = {g: ref_poisson_count(seed, g, b) for g in names}
        total = sum(k[g] * den[g] for g in names)
        if total > 0:
            stats.append(sum(k[g] * num[g] for g in names) / total)
    low, high = np.quantile(stats, [0.025, 0.975])
    return float(low), float(high)


def test_poisson_weights_are_poisson_one_and_independent() -> None:
    weights = m.poisson_weights(m.cluster_keys(np.arange(20_000)), 100, seed=5)
    assert weights.shape == (20_000, 100)
    assert weights.mean() == pytest.approx(1.0, abs=0.01)
    assert weights.var() == pytest.approx(1.0, abs=0.02)
    assert (weights == 0).mean() == pytest.approx(math.exp(-1.0), abs=0.01)
    assert abs(np.corrcoef(weights[:, 0], weights[:, 1])[0, 1]) < 0.03
    assert abs(np.corrcoef(weights[:-1, 0], weights[1:, 0])[0, 1]) < 0.03
    # a cluster draws the same counts whatever other clusters are resampled with it
    subset = m.poisson_weights(m.cluster_keys(np.arange(100, 200)), 100, seed=5)
    assert np.array_equal(subset, weights[100:200])


@pytest.mark.parametrize("seed", SEEDS)
def test_brier_bootstrap_matches_loop_reference(seed: int) -> None:
    p, y, _ = data(seed, 200)
    groups = [f"e{i}" for i in np.random.default_rng(seed).integers(0, 40, p.size)]
    got = m.brier_bootstrap_ci(p, y, groups, n_boot=300, seed=seed)
    # replicate sums are float32 (see poisson_weights): equal to the float64 loop to ~1e-7 relative
    assert got == pytest.approx(ref_bootstrap(p, y, groups, 300, seed), rel=1e-6)
    assert got[0] <= m.brier(p, y) <= got[1]
    assert m.brier_bootstrap_ci(p, y, groups, n_boot=300, seed=seed) == got


def test_bootstrap_resamples_whole_events() -> None:
    # Every event holds one market of each outcome at p=0.5, so each replicate's Brier is exactly 0.25.
    p = np.full(40, 0.5)
    y = np.tile([0.0, 1.0], 20)
    groups = np.repeat(np.arange(20), 2)
    assert m.brier_bootstrap_ci(p, y, groups, n_boot=100) == pytest.approx((0.25, 0.25))
    assert all(math.isnan(v) for v in m.brier_bootstrap_ci([], [], [], n_boot=10))


def test_ratio_percentiles_drop_empty_replicates() -> None:
    low, high = m.ratio_percentiles(
        np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 0.0], [0.0] * 3])
    )
    assert (low[0], high[0]) == pytest.approx((1.025, 1.975))
    assert math.isnan(low[1])
    assert math.isnan(high[1])


def test_wilson_interval_known_values() -> None:
    z = float(norm.ppf(0.975))
    for k, n in [(5, 10), (1, 30), (17, 20), (0, 7), (7, 7)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert m.wilson_interval(k, n, z) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert m.wilson_interval(0, 10)[0] == 0.0
    assert m.wilson_interval(10, 10)[1] == 1.0
    assert m.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        m.wilson_interval(3, 2)


def test_stable_seed_is_stable() -> None:
    assert m.stable_seed(0, "30d", "1d", "all", "all") == m.stable_seed(0, "30d", "1d", "all", "all")
    assert m.stable_seed(0, "30d", "1d", "all", "all") != m.stable_seed(1, "30d", "1d", "all", "all")
    assert 0 <= m.stable_seed("x") < 2**63


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="0, 1"):
        m.brier([1.2], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        m.brier([0.2], [2])
    with pytest.raises(ValueError, match="length"):
        m.brier([0.2, 0.3], [1])
    with pytest.raises(ValueError, match="non-negative"):
        m.brier([0.2], [1], [-1.0])
    assert math.isnan(m.brier([], []))
    assert math.isnan(m.ece([], []))
    assert math.isnan(m.ece_debiased([], []))


# ---------------------------------------------------------------- properties

probs = st.floats(0.0, 1.0, allow_nan=False)
pairs = st.lists(st.tuples(probs, st.integers(0, 1)), min_size=1, max_size=60)


@given(pairs)
@settings(max_examples=150, deadline=None)
def test_property_brier_in_unit_interval_and_ece_nonnegative(rows: list[tuple[float, int]]) -> None:
    p = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    assert 0.0 <= m.brier(p, y) <= 1.0
    assert m.ece(p, y) >= 0.0
    assert m.ece_debiased(p, y) >= 0.0
    rel, res, unc = m.murphy(p, y)
    assert rel >= 0.0
    assert res >= 0.0
    assert 0.0 <= unc <= 0.25


@given(
    st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=8, unique=True),
    st.integers(1, 12),
    st.data(),
)
@settings(max_examples=150, deadline=None)
def test_property_murphy_identity_with_constant_forecasts_in_bins(
    levels: list[float], per_level: int, draw: st.DataObject
) -> None:
    # Each distinct forecast appears equally often, so equal-mass bins with n_bins >= levels are constant.
    p = np.repeat(np.array(levels), per_level)
    y = np.array(draw.draw(st.lists(st.integers(0, 1), min_size=p.size, max_size=p.size)))
    rel, res, unc = m.murphy(p, y, len(levels))
    assert rel - res + unc == pytest.approx(m.brier(p, y), abs=1e-12)


@given(st.integers(0, 500), st.integers(0, 500), st.floats(0.5, 4.0))
@settings(max_examples=200, deadline=None)
def test_property_wilson_contains_rate(a: int, b: int, z: float) -> None:
    successes, n = min(a, b), max(a, b)
    low, high = m.wilson_interval(successes, n, z)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= successes / n <= high


@pytest.mark.parametrize("extreme", [False, True])
def test_ece_debiased_interval_holds_zero_when_calibrated_and_not_when_distorted(extreme: bool) -> None:
    """Over 400 simulated calibrated samples the interval holds 0 in at least 93 % of them (nominal 95 %, and
    conservative in bins whose outcomes all agree); a mild distortion (slope 1.5 in logit space) excludes 0
    in at least 90 % of them."""
    rng = np.random.default_rng(3)
    holds_calibrated = excludes_distorted = 0
    trials = 400
    for _ in range(trials):
        p = np.clip(rng.beta(0.3, 0.3, 2000), 1e-4, 1 - 1e-4) if extreme else rng.uniform(0.05, 0.95, 2000)
        y = (rng.uniform(size=p.size) < p).astype(float)
        low, high = m.ece_debiased_interval(p, y)
        holds_calibrated += low == 0.0
        assert low <= m.ece_debiased(p, y) <= high
        logit = np.log(p) - np.log1p(-p)
        y_distorted = (rng.uniform(size=p.size) < 1 / (1 + np.exp(-1.5 * logit))).astype(float)
        excludes_distorted += m.ece_debiased_interval(p, y_distorted)[0] > 0.0
    assert holds_calibrated >= 0.93 * trials
    assert excludes_distorted >= 0.90 * trials
