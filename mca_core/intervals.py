"""Interval and quantile forecast scores (vectorised numpy; all return means over observations).

Definitions (target ``y``, interval ``[lo, hi]`` of nominal coverage ``1 - alpha``):

- coverage ``mean 1{lo <= y <= hi}`` (closed interval);
- mean width ``mean(hi - lo)``;
- Winkler / interval score (Gneiting & Raftery 2007)
  ``(hi - lo) + (2/alpha)(lo - y)1{y < lo} + (2/alpha)(y - hi)1{y > hi}``;
- pinball ``rho_tau(y, q) = tau (y - q)`` if ``y >= q`` else ``(1 - tau)(q - y)``;
- CRPS from quantiles ``~ (2/|Q|) sum_tau rho_tau`` (the quantile-score approximation of CRPS);
- the cluster-robust standard error of a mean (``clustered_se``): band points of one market are not
  independent (overlapping horizons, one path), so the sampling error of a coverage is a market-level quantity.

Inputs are broadcast with numpy rules. Empty inputs give NaN means (numpy's behaviour is avoided:
we return ``nan`` without a warning). Quantile bands follow :mod:`mca_core.baselines`: shape
``(len(taus), *y.shape)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_NOMINALS",
    "clustered_se",
    "coverage",
    "crps_from_quantiles",
    "interval_summary",
    "mean_width",
    "nominal_key",
    "pinball",
    "winkler",
]

FloatArray = npt.NDArray[np.float64]
DEFAULT_NOMINALS: Final = (0.8, 0.9)
_TAU_TOL: Final = 1e-9


def _arr(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _mean(x: FloatArray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def coverage(y: npt.ArrayLike, lo: npt.ArrayLike, hi: npt.ArrayLike) -> float:
    """Share of ``y`` inside the closed interval ``[lo, hi]``."""
    yy = _arr(y)
    inside = (_arr(lo) <= yy) & (yy <= _arr(hi))
    return _mean(inside.astype(np.float64))


def clustered_se(values: npt.ArrayLike, clusters: npt.ArrayLike) -> float:
    """Cluster-robust (CR1) standard error of ``mean(values)``, clusters given by their labels.

    ``se^2 = G / (G - 1) * sum_g (sum_{i in g} (x_i - mean))^2 / n^2``; NaN with fewer than two clusters.
    """
    x = _arr(values).ravel()
    labels = np.asarray(clusters).ravel()
    if labels.size != x.size:
        raise ValueError(f"clusters ({labels.size}) must label every value ({x.size})")
    _, codes = np.unique(labels, return_inverse=True)
    groups = int(codes.max()) + 1 if codes.size else 0
    if groups < 2:
        return math.nan
    totals = np.bincount(codes, weights=x - x.mean(), minlength=groups)
    return float(math.sqrt(groups / (groups - 1) * float(np.sum(totals**2))) / x.size)


def mean_width(lo: npt.ArrayLike, hi: npt.ArrayLike) -> float:
    """Mean of ``hi - lo``."""
    return _mean(_arr(hi) - _arr(lo))


def winkler(y: npt.ArrayLike, lo: npt.ArrayLike, hi: npt.ArrayLike, alpha: float) -> float:
    """Mean Gneiting–Raftery interval score of the central ``1 - alpha`` interval (lower is better)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    yy, ll, hh = _arr(y), _arr(lo), _arr(hi)
    below = np.maximum(ll - yy, 0.0)
    above = np.maximum(yy - hh, 0.0)
    return _mean((hh - ll) + (2.0 / alpha) * (below + above))


def pinball(y: npt.ArrayLike, q: npt.ArrayLike, tau: float) -> float:
    """Mean pinball (quantile) loss of quantile forecast ``q`` at level ``tau``."""
    if not 0.0 < tau < 1.0:
        raise ValueError(f"tau must be in (0, 1), got {tau!r}")
    diff = _arr(y) - _arr(q)
    return _mean(np.maximum(tau * diff, (tau - 1.0) * diff))


def _check_bands(y: FloatArray, qs: FloatArray, taus: Sequence[float]) -> FloatArray:
    t = np.asarray(taus, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError("taus must be a non-empty 1-D sequence")
    if np.any(t <= 0.0) or np.any(t >= 1.0):
        raise ValueError(f"taus must lie strictly inside (0, 1), got {taus!r}")
    if qs.shape[0] != t.size:
        raise ValueError(f"quantile array has {qs.shape[0]} rows but {t.size} taus were given")
    if qs.shape[1:] != y.shape:
        raise ValueError(f"quantile array shape {qs.shape} does not match (len(taus), *y.shape) = {(t.size, *y.shape)}")
    return t


def crps_from_quantiles(y: npt.ArrayLike, qs: npt.ArrayLike, taus: Sequence[float]) -> float:
    """Mean CRPS approximated by ``(2/|Q|) sum_tau pinball(y, q_tau, tau)``; ``qs`` is ``(len(taus), *y.shape)``."""
    yy, qq = _arr(y), _arr(qs)
    t = _check_bands(yy, qq, taus)
    diff = yy[None, ...] - qq
    tt = t.reshape((-1,) + (1,) * yy.ndim)
    loss = np.maximum(tt * diff, (tt - 1.0) * diff)
    if yy.size == 0:
        return math.nan
    return float(2.0 * loss.sum() / (t.size * yy.size))


def nominal_key(nominal: float) -> str:
    """``0.8 -> "80"``, ``0.95 -> "95"``, ``0.975 -> "97.5"``: suffix used in summary keys."""
    return f"{nominal * 100:g}"


def _find_tau(t: FloatArray, target: float) -> int | None:
    hits = np.flatnonzero(np.abs(t - target) <= _TAU_TOL)
    return int(hits[0]) if hits.size else None


def interval_summary(
    y: npt.ArrayLike,
    bands: npt.ArrayLike,
    taus: Sequence[float],
    nominals: Sequence[float] = DEFAULT_NOMINALS,
) -> dict[str, float]:
    """Coverage, width and Winkler score per nominal level, pinball per tau and CRPS.

    ``bands`` has shape ``(len(taus), *y.shape)``. For a nominal ``1 - alpha`` the symmetric pair
    ``(alpha/2, 1 - alpha/2)`` is looked up in ``taus`` (e.g. 0.1/0.9 for 0.8, 0.05/0.95 for 0.9); a
    nominal whose pair is absent is skipped. Keys: ``n``, ``coverage_80``, ``width_80``,
    ``winkler_80`` (per present nominal), ``pinball_0.1`` (``f"pinball_{tau:g}"`` per tau), ``crps``.
    """
    yy, qq = _arr(y), _arr(bands)
    t = _check_bands(yy, qq, taus)
    out: dict[str, float] = {"n": float(yy.size)}
    for nominal in nominals:
        if not 0.0 < nominal < 1.0:
            raise ValueError(f"nominal coverage must be in (0, 1), got {nominal!r}")
        a = round(1.0 - nominal, 12)  # 1 - 0.8 = 0.19999999999999996 otherwise
        i_lo, i_hi = _find_tau(t, a / 2.0), _find_tau(t, 1.0 - a / 2.0)
        if i_lo is None or i_hi is None:
            continue
        key = nominal_key(nominal)
        out[f"coverage_{key}"] = coverage(yy, qq[i_lo], qq[i_hi])
        out[f"width_{key}"] = mean_width(qq[i_lo], qq[i_hi])
        out[f"winkler_{key}"] = winkler(yy, qq[i_lo], qq[i_hi], a)
    for k, tau in enumerate(t.tolist()):
        out[f"pinball_{tau:g}"] = pinball(yy, qq[k], tau)
    out["crps"] = crps_from_quantiles(yy, qq, taus)
    return out
