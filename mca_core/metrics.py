"""Scalar calibration metrics for binary forecasts on numpy arrays.

Conventions shared by every function:

- ``p``: forecasts in ``[0, 1]`` (no NaN), ``y``: outcomes in ``{0, 1}``, same length.
- ``w``: optional non-negative weights (e.g. ``1 / markets in the event`` for multi-outcome events,
  reference §4 "Sampling"); ``None`` means every item weighs 1. A weighted mean is
  ``Σ w_i x_i / Σ w_i``. Metrics of an empty input (or zero total weight) are ``NaN``.
- Inputs breaking these rules raise ``ValueError``; degenerate but valid inputs (one class only,
  constant forecasts, separation) give ``NaN`` where a number is not defined.

Equal-mass bins (``equal_mass_bins``), used by ``ece``, ``ece_debiased``, ``murphy`` and the
reliability diagram of ``mca_core.scoreboard``:

- ``K = min(n_bins, n)``; item ``i`` with ``r_i`` = number of items with a forecast strictly
  below ``p_i`` (the 0-based "min" rank) goes to raw bin ``floor(r_i * K / n)``.
- Ties are never split: equal forecasts share the rank and therefore the bin, so the binning
  does not depend on row order. With many ties a bin can hold more than ``n / K`` items and
  some raw bins stay empty; raw bins are then renumbered densely ``0 .. m-1`` (``m <= K``)
  in increasing forecast order, so every returned bin is non-empty.
- With ``n < n_bins`` every distinct forecast is its own bin (``K = n``).
- Bin sizes are counted in items, not weights: weights change the means inside a bin, not
  which items share it.
"""

from __future__ import annotations

import hashlib
import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_EPS",
    "brier",
    "brier_bootstrap_ci",
    "calibration_slope_intercept",
    "cluster_keys",
    "ece",
    "ece_debiased",
    "ece_debiased_interval",
    "equal_mass_bins",
    "log_loss",
    "logistic_fit",
    "murphy",
    "poisson_weights",
    "ratio_percentiles",
    "stable_seed",
    "wilson_bounds",
    "wilson_interval",
]

#: Default clipping of forecasts for the log loss and the logit (reference §4).
DEFAULT_EPS: Final = 1e-6

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_NEWTON_MAX_ITER: Final = 100
_NEWTON_TOL: Final = 1e-10
_MAX_COEF: Final = 1e4


def _validate(p: ArrayLike, y: ArrayLike, w: ArrayLike | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated float copies of ``p``, ``y`` and the weights (ones when ``w`` is None)."""
    pa = np.asarray(p, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if pa.shape != ya.shape:
        raise ValueError(f"p and y differ in length: {pa.size} != {ya.size}")
    if pa.size and (np.isnan(pa).any() or pa.min() < 0.0 or pa.max() > 1.0):
        raise ValueError("forecasts p must lie in [0, 1] (no NaN)")
    if ya.size and not np.isin(ya, (0.0, 1.0)).all():
        raise ValueError("outcomes y must be 0 or 1")
    if w is None:
        wa = np.ones_like(pa)
    else:
        wa = np.asarray(w, dtype=np.float64).ravel()
        if wa.shape != pa.shape:
            raise ValueError(f"w and p differ in length: {wa.size} != {pa.size}")
        if wa.size and (np.isnan(wa).any() or wa.min() < 0.0):
            raise ValueError("weights w must be non-negative (no NaN)")
    return pa, ya, wa


def _wmean(x: FloatArray, w: FloatArray) -> float:
    total = float(w.sum())
    if total <= 0.0:
        return math.nan
    return float(np.dot(w, x) / total)


def brier(p: ArrayLike, y: ArrayLike, w: ArrayLike | None = None) -> float:
    """Brier score ``Σ w (p - y)² / Σ w``; 0 is perfect, 0.25 is the constant 0.5 forecast."""
    pa, ya, wa = _validate(p, y, w)
    return _wmean((pa - ya) ** 2, wa)


def log_loss(p: ArrayLike, y: ArrayLike, w: ArrayLike | None = None, eps: float = DEFAULT_EPS) -> float:
    """Mean negative log-likelihood, natural log, with ``p`` clipped to ``[eps, 1 - eps]``."""
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    pa, ya, wa = _validate(p, y, w)
    pc = np.clip(pa, eps, 1.0 - eps)
    return _wmean(-(ya * np.log(pc) + (1.0 - ya) * np.log1p(-pc)), wa)


def equal_mass_bins(p: ArrayLike, n_bins: int = 10) -> IntArray:
    """Bin id (``0 .. m-1``, increasing with ``p``) of each forecast; see the module docstring.

    Raises ``ValueError`` when ``n_bins < 1``. An empty input gives an empty array.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    pa = np.asarray(p, dtype=np.float64).ravel()
    n = pa.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(n_bins, n)
    rank_min = np.searchsorted(np.sort(pa), pa, side="left").astype(np.int64)
    raw = (rank_min * k) // n
    _, dense = np.unique(raw, return_inverse=True)
    return dense.astype(np.int64).ravel()


def _fsum(ids: IntArray, values: FloatArray, m: int) -> FloatArray:
    """Sum of ``values`` per id ``0 .. m-1`` (``np.bincount`` typed as float)."""
    return np.asarray(np.bincount(ids, weights=values, minlength=m), dtype=np.float64)


def _bin_stats(
    pa: FloatArray, ya: FloatArray, wa: FloatArray, bins: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per bin: item count, total weight, weighted mean forecast, weighted outcome rate."""
    m = int(bins.max()) + 1 if bins.size else 0
    count = np.bincount(bins, minlength=m).astype(np.float64)
    weight = _fsum(bins, wa, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_bar = _fsum(bins, wa * pa, m) / weight
        o_bar = _fsum(bins, wa * ya, m) / weight
    return count, weight, p_bar, o_bar


def _resolve_bins(pa: FloatArray, bins: int | ArrayLike) -> IntArray:
    if isinstance(bins, int | np.integer):
        return equal_mass_bins(pa, int(bins))
    ids = np.asarray(bins).ravel()
    if ids.shape != pa.shape or (ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0)):
        raise ValueError("bins must be an int or one non-negative integer bin id per forecast")
    return ids.astype(np.int64)


def murphy(
    p: ArrayLike, y: ArrayLike, bins: int | ArrayLike = 10, w: ArrayLike | None = None
) -> tuple[float, float, float]:
    """Murphy (1973) decomposition ``(reliability, resolution, uncertainty)`` of the Brier score.

    ``bins``: the number of equal-mass bins (``equal_mass_bins``) or explicit bin ids per item.
    REL = Σ_k (W_k/W)(p̄_k - ō_k)², RES = Σ_k (W_k/W)(ō_k - ȳ)², UNC = ȳ(1 - ȳ) with weighted
    bin means. ``brier = REL - RES + UNC`` holds exactly only when forecasts are constant within
    each bin; otherwise the within-bin forecast variance is missing from REL.
    """
    pa, ya, wa = _validate(p, y, w)
    total = float(wa.sum())
    if pa.size == 0 or total <= 0.0:
        return (math.nan, math.nan, math.nan)
    ids = _resolve_bins(pa, bins)
    _, weight, p_bar, o_bar = _bin_stats(pa, ya, wa, ids)
    keep = weight > 0.0
    share = weight[keep] / total
    y_bar = float(np.dot(wa, ya) / total)
    rel = float(np.sum(share * (p_bar[keep] - o_bar[keep]) ** 2))
    res = float(np.sum(share * (o_bar[keep] - y_bar) ** 2))
    return (rel, res, y_bar * (1.0 - y_bar))


def ece(p: ArrayLike, y: ArrayLike, n_bins: int = 10, w: ArrayLike | None = None) -> float:
    """Expected calibration error over equal-mass bins: ``Σ_k (W_k/W)|ō_k - p̄_k|``."""
    pa, ya, wa = _validate(p, y, w)
    total = float(wa.sum())
    if pa.size == 0 or total <= 0.0:
        return math.nan
    _, weight, p_bar, o_bar = _bin_stats(pa, ya, wa, equal_mass_bins(pa, n_bins))
    keep = weight > 0.0
    return float(np.sum(weight[keep] / total * np.abs(o_bar[keep] - p_bar[keep])))


def ece_debiased(p: ArrayLike, y: ArrayLike, n_bins: int = 10) -> float:
    """Debiased (L2) calibration error of Kumar, Liang & Ma (NeurIPS 2019), equal-mass bins, unweighted.

    ``sqrt(max(0, Σ_k (n_k/n)[(p̄_k - ō_k)² - ō_k(1 - ō_k)/(n_k - 1)]))``: the plug-in squared
    gap minus an unbiased estimate of the sampling variance of ``ō_k``, so a calibrated forecaster
    scores near 0 instead of ``~sqrt(K/n)``. It estimates the L2 (not L1) calibration error, so it
    is not directly comparable with ``ece``. A one-item bin has ``ō_k(1 - ō_k) = 0`` and gets no
    correction (the term is taken as 0 rather than 0/0).
    """
    pa, ya, wa = _validate(p, y, None)
    n = pa.size
    if n == 0:
        return math.nan
    count, _, p_bar, o_bar = _bin_stats(pa, ya, wa, equal_mass_bins(pa, n_bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        correction = np.where(count > 1.0, o_bar * (1.0 - o_bar) / (count - 1.0), 0.0)
    total = float(np.sum(count / n * ((p_bar - o_bar) ** 2 - correction)))
    return math.sqrt(max(0.0, total))


def ece_debiased_interval(p: ArrayLike, y: ArrayLike, n_bins: int = 10, z: float = 1.96) -> tuple[float, float]:
    """Wald interval ``(low, high)`` of ``ece_debiased``, so "calibrated" can be read as "the interval holds 0".

    The interval is formed on the squared error ``T = Σ_k (n_k/n) t_k`` (``t_k`` the debiased bin term) and
    mapped back with ``sqrt(max(0, ·))``. Bins are held fixed and ``ō_k - p̄_k`` is treated as normal with
    variance ``v_k = s_k / n_k``, ``s_k = max(ō_k(1 - ō_k), p̄_k(1 - p̄_k))`` (the larger of the observed and the
    calibrated-null variance, so an extreme bin whose outcomes all agree is not read as certain); then
    ``Var t_k = 2 v_k² + 4 max(t_k, 0) v_k`` and ``T ± z sqrt(Σ (n_k/n)² Var t_k)``. Items are taken as
    independent: correlated markets of one event make it somewhat narrow. NaN for an empty input.
    """
    pa, ya, wa = _validate(p, y, None)
    n = pa.size
    if n == 0:
        return (math.nan, math.nan)
    count, _, p_bar, o_bar = _bin_stats(pa, ya, wa, equal_mass_bins(pa, n_bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        correction = np.where(count > 1.0, o_bar * (1.0 - o_bar) / (count - 1.0), 0.0)
    term = (p_bar - o_bar) ** 2 - correction
    v = np.maximum(o_bar * (1.0 - o_bar), p_bar * (1.0 - p_bar)) / count
    share = count / n
    total = float(np.sum(share * term))
    half = z * math.sqrt(float(np.sum(share**2 * (2.0 * v**2 + 4.0 * np.maximum(term, 0.0) * v))))
    return (math.sqrt(max(0.0, total - half)), math.sqrt(max(0.0, total + half)))


def _logit(p: FloatArray, eps: float) -> FloatArray:
    pc = np.clip(p, eps, 1.0 - eps)
    out: FloatArray = np.log(pc) - np.log1p(-pc)
    return out


def _loglik(eta: FloatArray, ya: FloatArray, wa: FloatArray) -> float:
    return float(np.dot(wa, ya * eta - np.logaddexp(0.0, eta)))


def logistic_fit(x: FloatArray, ya: FloatArray, wa: FloatArray) -> tuple[float, float, float, float]:
    """Weighted MLE of ``logit P(y=1) = a + b·x`` by Newton-Raphson with step halving.

    Returns ``(b, a, se_b, se_a)`` with standard errors from the inverse Fisher information at
    the optimum (weights act as frequency weights). All four are NaN when the fit is not
    identified: fewer than two distinct ``x`` with positive weight, a single outcome class,
    (quasi-)complete separation (no convergence, or a coefficient beyond 1e4), or a singular
    information matrix. Arrays must already be validated.
    """
    nan4 = (math.nan, math.nan, math.nan, math.nan)
    pos = wa > 0.0
    if pos.sum() < 2:
        return nan4
    xs, ys, ws = x[pos], ya[pos], wa[pos]
    if xs.min() == xs.max() or ys.min() == ys.max():
        return nan4
    a, b = 0.0, 1.0
    eta = a + b * xs
    ll = _loglik(eta, ys, ws)
    converged = False
    for _ in range(_NEWTON_MAX_ITER):
        mu = 0.5 * (1.0 + np.tanh(0.5 * eta))  # expit without overflow warnings
        r = ws * (ys - mu)
        v = ws * mu * (1.0 - mu)
        g0, g1 = float(r.sum()), float(np.dot(r, xs))
        h00, h01, h11 = float(v.sum()), float(np.dot(v, xs)), float(np.dot(v, xs * xs))
        det = h00 * h11 - h01 * h01
        if not det > 0.0 or not math.isfinite(det):
            return nan4
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        step = 1.0
        for _ in range(40):
            na, nb = a + step * da, b + step * db
            new_eta = na + nb * xs
            new_ll = _loglik(new_eta, ys, ws)
            if new_ll >= ll - 1e-12 * (1.0 + abs(ll)):
                break
            step *= 0.5
        a, b, eta, ll = na, nb, new_eta, new_ll
        if abs(a) > _MAX_COEF or abs(b) > _MAX_COEF:
            return nan4
        if max(abs(step * da), abs(step * db)) <= _NEWTON_TOL * (1.0 + max(abs(a), abs(b))):
            converged = True
            break
    if not converged:
        return nan4
    mu = 0.5 * (1.0 + np.tanh(0.5 * eta))
    v = ws * mu * (1.0 - mu)
    h00, h01, h11 = float(v.sum()), float(np.dot(v, xs)), float(np.dot(v, xs * xs))
    det = h00 * h11 - h01 * h01
    if not det > 0.0 or not math.isfinite(det):
        return nan4
    return (b, a, math.sqrt(h00 / det), math.sqrt(h11 / det))


def calibration_slope_intercept(
    p: ArrayLike, y: ArrayLike, w: ArrayLike | None = None, eps: float = DEFAULT_EPS
) -> tuple[float, float, float, float]:
    """Cox (1958) calibration ``(slope, intercept, slope_se, intercept_se)``.

    Logistic regression of ``y`` on ``logit(clip(p, eps, 1 - eps))`` (exact MLE by Newton /
    IRLS, see ``logistic_fit``). Slope 1 and intercept 0 are ideal; slope < 1 means forecasts
    are too extreme. Degenerate inputs (one class, constant forecasts, separation) give NaN.
    """
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    pa, ya, wa = _validate(p, y, w)
    return logistic_fit(_logit(pa, eps), ya, wa)


def stable_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` by BLAKE2b (stable across runs, unlike ``hash``)."""
    text = "\x1f".join(str(part) for part in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") >> 1


_POISSON1_CDF: Final = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(24)])
_POISSON1_CDF_53: Final = np.ceil(_POISSON1_CDF * 2.0**53).astype(np.uint64)
_WEIGHT_BLOCK_CELLS: Final = 65_536
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's finaliser (Steele et al. 2014): a bijective 64-bit mix, vectorised, wrapping arithmetic."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    out: NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def cluster_keys(ids: ArrayLike) -> NDArray[np.uint64]:
    """A stable 64-bit key per cluster id (its ``str``), so a cluster draws the same weights in every group."""
    return np.array([stable_seed("cluster", value) for value in np.asarray(ids).ravel().tolist()], dtype=np.uint64)


def poisson_weights(keys: NDArray[np.uint64], n_boot: int, seed: int = 0) -> NDArray[np.float32]:
    """Bootstrap multiplicities ``(len(keys), n_boot)``: independent Poisson(1) counts per (cluster, replicate).

    The Poisson bootstrap (Hanley & MacGibbon 2006): each cluster enters a replicate ``k ~ Poisson(1)`` times
    instead of a multinomial resample of fixed size. Each count is a pure function of ``(seed, key, replicate)``
    (SplitMix64 of ``key XOR SplitMix64(seed XOR replicate * golden)`` to a uniform, then the inverse Poisson
    CDF), so the same event gets the same multiplicity in every group it belongs to and any subset of clusters is
    resampled consistently, with no per-group draws.
    Counts are float32 (exact for small integers): the replicate sums are formed in float32, whose rounding
    (~1e-7 relative) is far below the Monte Carlo error of a 200-replicate interval, at half the memory traffic.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    streams = _splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) ^ np.arange(n_boot, dtype=np.uint64) * _GOLDEN)
    keys = keys.astype(np.uint64)
    counts: NDArray[np.float32] = np.empty((keys.size, n_boot), dtype=np.float32)
    rows = max(1, _WEIGHT_BLOCK_CELLS // n_boot)  # blocks that stay in cache through the ~10 array passes below
    for start in range(0, keys.size, rows):
        bits = _splitmix64(keys[start : start + rows, None] ^ streams[None, :])
        # k = #{j : cdf_j <= u}, u = (bits >> 11) / 2**53, compared as integers (exact: cdf_j * 2**53 is exact)
        counts[start : start + rows] = np.searchsorted(_POISSON1_CDF_53, bits >> np.uint64(11), side="right")
    return counts


def ratio_percentiles(num: FloatArray, den: FloatArray, alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
    """Row-wise percentile interval of replicate ratios ``num / den`` (``(groups, n_boot)``), 0/0 replicates dropped."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = num / den
    stats[~np.isfinite(stats)] = np.nan
    if stats.size == 0:
        empty = np.full(stats.shape[0], np.nan)
        return empty, empty.copy()
    ok = ~np.isnan(stats).all(axis=1)
    low = np.full(stats.shape[0], np.nan)
    high = np.full(stats.shape[0], np.nan)
    if ok.any():
        bounds = np.nanquantile(stats[ok], [alpha / 2.0, 1.0 - alpha / 2.0], axis=1)
        low[ok], high[ok] = bounds[0], bounds[1]
    return low, high


def brier_bootstrap_ci(
    p: ArrayLike,
    y: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    w: ArrayLike | None = None,
) -> tuple[float, float]:
    """Cluster-bootstrap ``(low, high)`` percentile interval of the (weighted) Brier score.

    Whole groups (events) are resampled, so correlated markets of one event move together: per group ``g`` the
    sums ``S_g = Σ w (p - y)²`` and ``N_g = Σ w`` are formed, each replicate weighs them with the group's
    ``poisson_weights`` count, and the interval is the percentile interval of ``Σ k S / Σ k N``.
    """
    pa, ya, wa = _validate(p, y, w)
    ga = np.asarray(groups).ravel()
    if ga.shape != pa.shape:
        raise ValueError(f"groups and p differ in length: {ga.size} != {pa.size}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if pa.size == 0:
        return (math.nan, math.nan)
    labels, codes = np.unique(ga.astype(str), return_inverse=True)
    codes = codes.ravel().astype(np.int64)
    num = _fsum(codes, wa * (pa - ya) ** 2, labels.size)
    den = _fsum(codes, wa, labels.size)
    weights = poisson_weights(cluster_keys(labels), n_boot, seed)
    top, bottom = num.astype(np.float32) @ weights, den.astype(np.float32) @ weights
    low, high = ratio_percentiles(top[None, :].astype(np.float64), bottom[None, :].astype(np.float64), alpha)
    return (float(low[0]), float(high[0]))


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for a binomial rate ``successes / n``.

    ``successes`` may be fractional (a weighted count). Clipped to ``[0, 1]`` against rounding;
    ``n = 0`` gives ``(0.0, 1.0)`` (no information). Raises ``ValueError`` unless
    ``0 <= successes <= n`` and ``z > 0``.
    """
    if not (0.0 <= successes <= n) or not z > 0.0:
        raise ValueError(f"need 0 <= successes <= n and z > 0, got successes={successes}, n={n}, z={z}")
    if n == 0:
        return (0.0, 1.0)
    low, high = wilson_bounds(np.array([successes], dtype=np.float64), np.array([n], dtype=np.float64), z)
    return (float(low[0]), float(high[0]))


def wilson_bounds(successes: FloatArray, n: FloatArray, z: float = 1.96) -> tuple[FloatArray, FloatArray]:
    """``wilson_interval`` over arrays (every ``n > 0``, inputs not validated): one formula for scalars and bins."""
    rate = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (rate + z2 / (2.0 * n)) / denom
    half = z / denom * np.sqrt(rate * (1.0 - rate) / n + z2 / (4.0 * n * n))
    return np.minimum(np.maximum(0.0, center - half), rate), np.maximum(np.minimum(1.0, center + half), rate)
