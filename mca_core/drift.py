"""Drift detectors for calibration monitoring (the seed's rules, made explicit).

- :func:`psi`: population stability index between two samples of forecast probabilities over
  ``bins`` equal-width bins on ``[0, 1]``; ``PSI = sum_b (a_b - e_b) ln(a_b / e_b)``. Empty bins
  would make the log infinite, so each bin share is floored at :data:`PSI_FLOOR` (``1e-4``) before
  the sum (shares are not renormalised; the floor only matters for near-empty bins).
  Rule of thumb: ``< 0.1`` stable, ``0.1–0.25`` moderate, ``> 0.25`` shift.
- :func:`base_rate_swing`: split the outcomes chronologically into ``n_windows`` windows of
  (nearly) equal count and return ``max - min`` of the window base rates; drift if ``> 0.15``.
- :func:`brier_trend`: Brier score per chronological window, least-squares slope against the
  window index (Brier change per window) and whether it rises strictly every window.
- :func:`coverage_below_target`: interval coverage below ``target - tolerance`` by more than its
  sampling error (1.96 market-clustered standard errors when the clusters are given), with at least
  ``n_min`` observations (retrain trigger).
- :func:`drift_report` bundles whichever inputs are given into a :class:`DriftReport`.

Chronological order comes from ``dates`` (anything numpy can sort: datetime64, epoch numbers,
ISO strings) with a stable sort, so ties keep input order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from mca_core.intervals import clustered_se

__all__ = [
    "PSI_FLOOR",
    "PSI_MODERATE",
    "PSI_SHIFT",
    "BrierTrend",
    "CoverageCheck",
    "DriftReport",
    "DriftThresholds",
    "base_rate_swing",
    "brier_trend",
    "coverage_below_target",
    "drift_report",
    "psi",
    "psi_level",
    "window_means",
]

FloatArray = npt.NDArray[np.float64]

PSI_FLOOR: Final = 1e-4
PSI_MODERATE: Final = 0.1
PSI_SHIFT: Final = 0.25


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """When the detectors fire (configuration: ``MCA_DRIFT_*``, documented defaults in `mca_resources.settings`).

    ``swing``: base-rate swing across windows; ``psi``: PSI of current against reference forecasts;
    ``coverage_tolerance``/``coverage_n_min``: coverage below ``target - tolerance`` with at least ``n_min`` points;
    ``coverage_min_markets``: fewest markets (clusters) whose points are judged at all (a cluster-robust error from a
    handful of markets underestimates the real one).
    """

    swing: float
    psi: float
    coverage_tolerance: float
    coverage_n_min: int
    coverage_min_markets: int


def _finite(x: npt.ArrayLike, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` over ``bins`` equal-width probability bins (values clipped to [0, 1])."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins!r}")
    e = np.clip(_finite(expected, "expected"), 0.0, 1.0)
    a = np.clip(_finite(actual, "actual"), 0.0, 1.0)
    if e.size == 0 or a.size == 0:
        raise ValueError("psi needs non-empty expected and actual samples")
    edges = np.linspace(0.0, 1.0, bins + 1)
    e_share = np.maximum(np.histogram(e, bins=edges)[0] / e.size, PSI_FLOOR)
    a_share = np.maximum(np.histogram(a, bins=edges)[0] / a.size, PSI_FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi_level(value: float) -> Literal["stable", "moderate", "shift"]:
    """``< 0.1`` stable, ``0.1–0.25`` moderate, ``> 0.25`` shift."""
    if value > PSI_SHIFT:
        return "shift"
    if value >= PSI_MODERATE:
        return "moderate"
    return "stable"


def _chrono_windows(dates: npt.ArrayLike, n: int, n_windows: int) -> list[npt.NDArray[np.intp]]:
    d = np.asarray(dates).ravel()
    if d.size != n:
        raise ValueError(f"dates ({d.size}) must have the same length as the values ({n})")
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows!r}")
    if n < n_windows:
        raise ValueError(f"need at least n_windows={n_windows} observations, got {n}")
    order = np.argsort(d, kind="stable")
    return list(np.array_split(order, n_windows))


def window_means(values: npt.ArrayLike, dates: npt.ArrayLike, n_windows: int = 4) -> FloatArray:
    """Mean of ``values`` in each of ``n_windows`` chronological equal-count windows, oldest first."""
    v = _finite(values, "values")
    return np.array([float(v[idx].mean()) for idx in _chrono_windows(dates, v.size, n_windows)])


def base_rate_swing(y: npt.ArrayLike, dates: npt.ArrayLike, n_windows: int = 4) -> float:
    """``max - min`` of the base rate over chronological windows (drift if ``> 0.15``)."""
    rates = window_means(y, dates, n_windows)
    return float(rates.max() - rates.min())


@dataclass(frozen=True, slots=True)
class BrierTrend:
    """Per-window Brier (oldest first), OLS slope per window, and strictly-increasing flag."""

    per_window: tuple[float, ...]
    slope: float
    increasing: bool


def brier_trend(p: npt.ArrayLike, y: npt.ArrayLike, dates: npt.ArrayLike, n_windows: int = 4) -> BrierTrend:
    """Brier per chronological window and its trend; ``increasing`` means every window worse than the last."""
    pp, yy = _finite(p, "p"), _finite(y, "y")
    if pp.shape != yy.shape:
        raise ValueError("p and y must have the same length")
    per = window_means((pp - yy) ** 2, dates, n_windows)
    if per.size >= 2:
        t = np.arange(per.size, dtype=np.float64)
        tc = t - t.mean()
        slope = float(np.dot(tc, per - per.mean()) / np.dot(tc, tc))
        increasing = bool(np.all(np.diff(per) > 0.0))
    else:
        slope, increasing = 0.0, False
    return BrierTrend(per_window=tuple(per.tolist()), slope=slope, increasing=increasing)


@dataclass(frozen=True, slots=True)
class CoverageCheck:
    coverage: float
    n: int
    target: float
    fired: bool


def coverage_below_target(
    covered: npt.ArrayLike,
    target: float,
    n_min: int,
    tolerance: float,
    clusters: npt.ArrayLike | None = None,
    min_clusters: int = 2,
) -> CoverageCheck:
    """Fires when ``n >= n_min`` and ``mean(covered) < target - tolerance - 1.96 se`` (``covered`` is 0/1 or bool).

    ``se`` is the cluster-robust standard error of the coverage over ``clusters`` (the market of each point), 0
    without clusters: a coverage measured on a few markets is not evidence of drift, however many points it has;
    with fewer than ``min_clusters`` distinct clusters nothing is judged.
    """
    c = _finite(covered, "covered")
    n = int(c.size)
    cov = float(c.mean()) if n else math.nan
    se = 0.0
    if clusters is not None and n:
        se = clustered_se(c, clusters) if np.unique(np.asarray(clusters)).size >= min_clusters else math.inf
    fired = n >= n_min and cov < target - tolerance - 1.96 * (se if math.isfinite(se) else math.inf)
    return CoverageCheck(coverage=cov, n=n, target=float(target), fired=bool(fired))


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Which detectors fired, their values and thresholds. ``drift`` is true if any fired."""

    fired: tuple[str, ...]
    values: Mapping[str, float] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    psi_level: str | None = None

    @property
    def drift(self) -> bool:
        return bool(self.fired)


def drift_report(
    *,
    y: npt.ArrayLike | None = None,
    p: npt.ArrayLike | None = None,
    dates: npt.ArrayLike | None = None,
    expected_p: npt.ArrayLike | None = None,
    n_windows: int = 4,
    covered: npt.ArrayLike | None = None,
    coverage_target: float | None = None,
    covered_clusters: npt.ArrayLike | None = None,
    thresholds: DriftThresholds,
) -> DriftReport:
    """Run every detector whose inputs are present.

    - ``base_rate_swing`` needs ``y`` and ``dates``; fires when ``swing > thresholds.swing``.
    - ``brier_trend`` needs ``p``, ``y`` and ``dates``; fires when Brier rises in every window.
    - ``psi`` needs ``expected_p`` (reference forecasts) and ``p`` (current); fires when ``> thresholds.psi``.
    - ``coverage`` needs ``covered`` and ``coverage_target``; fires per :func:`coverage_below_target`.
    """
    fired: list[str] = []
    values: dict[str, float] = {}
    limits: dict[str, float] = {}
    level: str | None = None
    if y is not None and dates is not None:
        swing = base_rate_swing(y, dates, n_windows)
        values["base_rate_swing"] = swing
        limits["base_rate_swing"] = thresholds.swing
        if swing > thresholds.swing:
            fired.append("base_rate_swing")
        if p is not None:
            trend = brier_trend(p, y, dates, n_windows)
            values["brier_slope"] = trend.slope
            values["brier_last"] = trend.per_window[-1]
            limits["brier_slope"] = 0.0
            if trend.increasing:
                fired.append("brier_trend")
    if expected_p is not None and p is not None:
        value = psi(expected_p, p)
        values["psi"] = value
        limits["psi"] = thresholds.psi
        level = psi_level(value)
        if value > thresholds.psi:
            fired.append("psi")
    if covered is not None and coverage_target is not None:
        check = coverage_below_target(
            covered,
            coverage_target,
            thresholds.coverage_n_min,
            thresholds.coverage_tolerance,
            covered_clusters,
            thresholds.coverage_min_markets,
        )
        values["coverage"] = check.coverage
        values["coverage_n"] = float(check.n)
        limits["coverage"] = coverage_target - thresholds.coverage_tolerance
        if check.fired:
            fired.append("coverage")
    return DriftReport(fired=tuple(fired), values=values, thresholds=limits, psi_level=level)
