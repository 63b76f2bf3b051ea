"""Conformal calibration of quantile bands: split, Mondrian (per group) and adaptive (ACI).

Conformity score
----------------
For a band with lower edge ``lo``, median ``m`` and upper edge ``hi`` (the outermost and central
rows of a quantile band from :mod:`mca_core.baselines`), the score of an outcome ``y`` is the
*normalised distance outside the band, measured per side from the median*::

    s = (m - y) / w_lo - 1   if y < m,   w_lo = max(m - lo, MIN_SIDE_WIDTH)
    s = (y - m) / w_hi - 1   if y >= m,  w_hi = max(hi - m, MIN_SIDE_WIDTH)

so ``s <= 0`` inside the band, ``s > 0`` outside, ``s = -1`` at the median. The calibrated band
scales every quantile's distance from the median by ``lambda = max(1 + q_hat, 0)`` (sides first
widened to ``MIN_SIDE_WIDTH``): ``y`` is inside the adjusted outer band exactly when ``s <= q_hat``,
which is what the conformal guarantee is about. Because every row is scaled by the same
non-negative factor around the median, quantiles stay monotone and asymmetric bands keep their
shape; the result is clipped to ``[0, 1]`` (which never uncovers an outcome in ``[0, 1]``).
``q_hat > 0`` widens, ``q_hat < 0`` narrows, ``q_hat = +inf`` gives the whole ``[0, 1]`` range.

Split conformal quantile
------------------------
:func:`split_conformal_quantile` returns the ``k = ceil((n + 1)(1 - alpha))``-th smallest score
(1-based), with no interpolation: under exchangeability this gives coverage ``>= 1 - alpha``. When
``k > n`` (fewer than ``ceil(1/alpha) - 1`` scores) no finite score suffices and ``+inf`` is
returned (the band becomes ``[0, 1]``). ``k`` is computed with a ``1e-9`` relative slack so that
float noise such as ``0.9 * 10 = 9.000000000000002`` does not push it up by one.

Why hand-written rather than MAPIE
----------------------------------
MAPIE 1.x wraps an sklearn estimator; here the "model" is a precomputed band with no estimator to
wrap, the production path needs Mondrian groups with a pooled fallback (no class for that in 1.x),
an online ACI that accepts one band at a time, and a JSON state for the forecasting service. The
order statistic itself is ~5 lines. The tests use MAPIE (``SplitConformalRegressor`` with a prefit
identity estimator, and its quantile routine) as an independent reference for the order statistic.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MIN_GROUP",
    "MIN_SIDE_WIDTH",
    "POOLED",
    "AdaptiveConformal",
    "ConformalState",
    "GroupCalibration",
    "MondrianConformal",
    "SplitConformal",
    "apply_scale",
    "band_scores",
    "bands_scores",
    "split_conformal_quantile",
]

FloatArray = npt.NDArray[np.float64]

#: Floor on each side's half-width (probability units) so degenerate bands still get a score.
MIN_SIDE_WIDTH: Final = 1e-4
#: Default minimum number of scores for a group's own calibration (also at least ``ceil(1/alpha)``).
DEFAULT_MIN_GROUP: Final = 50
#: Key of the pooled calibration in :class:`ConformalState`.
POOLED: Final = "__pooled__"
_K_SLACK: Final = 1e-9


def _check_alpha(alpha: float) -> float:
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def _order_index(n: int, alpha: float) -> int:
    """1-based index ``ceil((n + 1)(1 - alpha))`` with float-noise slack; may be <= 0 or > n."""
    raw = (n + 1) * (1.0 - alpha)
    return math.ceil(raw - _K_SLACK * max(1.0, raw))


def _order_statistic(sorted_scores: FloatArray, alpha: float) -> float:
    n = sorted_scores.size
    k = _order_index(n, alpha)
    if k > n:
        return math.inf
    if k < 1:
        return -math.inf
    return float(sorted_scores[k - 1])


def _clean_scores(scores: npt.ArrayLike) -> FloatArray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if np.any(np.isnan(s)):
        raise ValueError("scores contain NaN")
    return s


def split_conformal_quantile(scores: npt.ArrayLike, alpha: float) -> float:
    """The ``ceil((n+1)(1-alpha))``-th smallest score (1-based, no interpolation); ``+inf`` if that exceeds n.

    An empty score set gives ``+inf``. NaN scores raise ``ValueError``.
    """
    a = _check_alpha(alpha)
    s = _clean_scores(scores)
    return _order_statistic(np.sort(s), a)


# --- scores and applying a scale -------------------------------------------------------------------


def band_scores(y: npt.ArrayLike, lo: npt.ArrayLike, median: npt.ArrayLike, hi: npt.ArrayLike) -> FloatArray:
    """Per-observation conformity scores (see module docstring); broadcasting numpy arrays."""
    yy = np.asarray(y, dtype=np.float64)
    m = np.asarray(median, dtype=np.float64)
    w_lo = np.maximum(m - np.asarray(lo, dtype=np.float64), MIN_SIDE_WIDTH)
    w_hi = np.maximum(np.asarray(hi, dtype=np.float64) - m, MIN_SIDE_WIDTH)
    out: FloatArray = np.where(yy < m, (m - yy) / w_lo, (yy - m) / w_hi) - 1.0
    return out


def median_row(bands: FloatArray) -> FloatArray:
    """The median row of quantile rows ``(Q, ...)`` (mean of the two middle rows when ``Q`` is even)."""
    k = bands.shape[0]
    if k % 2:
        row: FloatArray = np.asarray(bands[k // 2], dtype=np.float64)
        return row
    mid: FloatArray = 0.5 * (bands[k // 2 - 1] + bands[k // 2])
    return mid


def bands_scores(y: npt.ArrayLike, bands: npt.ArrayLike) -> FloatArray:
    """Scores of ``y`` against a quantile band array ``(Q, *y.shape)`` using its outer rows and median.

    The median is the central row (mean of the two central rows when ``Q`` is even); ``Q >= 2``.
    """
    b = np.asarray(bands, dtype=np.float64)
    if b.ndim < 1 or b.shape[0] < 2:
        raise ValueError("bands need at least two quantile rows")
    return band_scores(y, b[0], median_row(b), b[-1])


def apply_scale(bands: npt.ArrayLike, q_hat: float | npt.ArrayLike) -> FloatArray:
    """Scale every row's distance from the median by ``max(1 + q_hat, 0)``; monotone, clipped to [0, 1].

    Sides narrower than :data:`MIN_SIDE_WIDTH` are first widened to it (consistent with the score).
    ``q_hat = +inf`` sends rows below the median to 0 and above it to 1. ``bands`` is ``(Q, ...)``; ``q_hat`` is
    one threshold or one per band (an array broadcasting to ``bands.shape[1:]``, as ACI's moving threshold).
    """
    b = np.array(bands, dtype=np.float64)
    if b.ndim < 1 or b.shape[0] < 2:
        raise ValueError("bands need at least two quantile rows")
    q = np.asarray(q_hat, dtype=np.float64)
    if np.isnan(q).any():
        raise ValueError("q_hat is NaN")
    k = b.shape[0]
    m = median_row(b)
    lower_rows = np.arange(k) < (k // 2)  # strictly below the median position
    upper_rows = np.arange(k) >= (k + 1) // 2
    full = np.broadcast_to(np.isposinf(q), m.shape)
    lam = np.maximum(1.0 + np.where(np.isposinf(q), 0.0, q), 0.0)
    # widen degenerate outer sides to the floor (inner rows stay between the edge and the median)
    b[0] = np.minimum(b[0], m - MIN_SIDE_WIDTH)
    b[-1] = np.maximum(b[-1], m + MIN_SIDE_WIDTH)
    out = m[None, ...] + lam * (b - m[None, ...])
    if k % 2:
        out[k // 2] = m
    out[lower_rows] = np.where(full, 0.0, out[lower_rows])
    out[upper_rows] = np.where(full, 1.0, out[upper_rows])
    out = np.clip(out, 0.0, 1.0)
    return np.maximum.accumulate(out, axis=0)


# --- split conformal ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SplitConformal:
    """A fitted split-conformal adjustment: ``q_hat`` is the order-statistic score, ``scale = max(1+q_hat, 0)``."""

    alpha: float
    n: int
    q_hat: float

    @classmethod
    def fit(cls, residual_scores: npt.ArrayLike, alpha: float) -> SplitConformal:
        """Fit from conformity scores (e.g. :func:`bands_scores` on a calibration set)."""
        s = _clean_scores(residual_scores)
        return cls(alpha=_check_alpha(alpha), n=int(s.size), q_hat=split_conformal_quantile(s, alpha))

    @property
    def scale(self) -> float:
        """Multiplier applied to distances from the median (``inf`` = full range)."""
        return max(1.0 + self.q_hat, 0.0)

    def apply(self, bands: npt.ArrayLike) -> FloatArray:
        """Calibrated copy of ``bands`` (shape ``(Q, ...)``)."""
        return apply_scale(bands, self.q_hat)

    def to_state(self, fitted_at: datetime) -> ConformalState:
        """A JSON-serialisable :class:`ConformalState` with this pooled calibration only."""
        pooled = GroupCalibration(q_hat=_to_json_q(self.q_hat), n=self.n, source="pooled")
        return ConformalState(
            alpha=self.alpha, method="split", fitted_at=fitted_at, min_group=0, pooled=pooled, groups={}
        )


# --- state ----------------------------------------------------------------------------------------


def _to_json_q(q: float) -> float | None:
    """``+inf`` is stored as ``None`` (JSON has no infinity)."""
    return None if math.isinf(q) and q > 0 else q


class GroupCalibration(msgspec.Struct, frozen=True, kw_only=True):
    """One calibration: ``q_hat`` (``None`` = +inf, i.e. full [0, 1] band), scores ``n`` and which fit was used.

    ``source`` is ``"group"`` when the group's own scores were used, ``"pooled"`` when it fell back.
    ``n`` is the group's own score count in both cases.
    """

    q_hat: float | None
    n: int
    source: Literal["group", "pooled"]

    @property
    def q_hat_value(self) -> float:
        return math.inf if self.q_hat is None else self.q_hat

    @property
    def scale(self) -> float:
        return max(1.0 + self.q_hat_value, 0.0)


class ConformalState(msgspec.Struct, frozen=True, kw_only=True):
    """What ``calib.conformal_state`` publishes and the forecaster applies (``msgspec.json`` round-trips).

    ``groups`` maps group label -> calibration actually used for it; unknown groups use ``pooled``.
    """

    alpha: float
    method: Literal["split", "mondrian", "aci"]
    fitted_at: datetime
    min_group: int
    pooled: GroupCalibration
    groups: dict[str, GroupCalibration]

    def for_group(self, group: str | None) -> GroupCalibration:
        if group is None:
            return self.pooled
        return self.groups.get(group, self.pooled)

    def apply(self, bands: npt.ArrayLike, group: str | None = None) -> FloatArray:
        """Calibrate ``bands`` with the group's calibration (pooled for unknown/None groups)."""
        return apply_scale(bands, self.for_group(group).q_hat_value)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ConformalState:
        return msgspec.json.decode(data, type=cls)


# --- Mondrian -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MondrianConformal:
    """Group-conditional split conformal with a pooled fallback for small groups.

    A group gets its own order statistic when it has at least ``min_group`` scores, where
    ``min_group`` defaults to ``max(DEFAULT_MIN_GROUP, ceil(1/alpha))``; otherwise it uses the pooled
    (all-groups) calibration. The resulting :class:`ConformalState` records which was used.
    """

    alpha: float = 0.2
    min_group: int | None = None

    @property
    def effective_min_group(self) -> int:
        floor = math.ceil(1.0 / _check_alpha(self.alpha) - _K_SLACK)
        return max(floor, DEFAULT_MIN_GROUP if self.min_group is None else self.min_group)

    def fit(self, scores: npt.ArrayLike, groups: Sequence[str] | npt.ArrayLike, fitted_at: datetime) -> ConformalState:
        a = _check_alpha(self.alpha)
        s = _clean_scores(scores)
        g = np.asarray(groups).ravel()
        if g.shape != s.shape:
            raise ValueError(f"scores ({s.size}) and groups ({g.size}) must have the same length")
        min_group = self.effective_min_group
        pooled_q = _order_statistic(np.sort(s), a)
        pooled = GroupCalibration(q_hat=_to_json_q(pooled_q), n=int(s.size), source="pooled")
        out: dict[str, GroupCalibration] = {}
        if s.size:
            labels, inverse = np.unique(g, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            counts = np.bincount(inverse, minlength=labels.size)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            for label, start, count in zip(labels.tolist(), starts.tolist(), counts.tolist(), strict=True):
                key = str(label)
                if count >= min_group:
                    q = _order_statistic(np.sort(s[order[start : start + count]]), a)
                    out[key] = GroupCalibration(q_hat=_to_json_q(q), n=int(count), source="group")
                else:
                    out[key] = GroupCalibration(q_hat=pooled.q_hat, n=int(count), source="pooled")
        return ConformalState(
            alpha=a, method="mondrian", fitted_at=fitted_at, min_group=min_group, pooled=pooled, groups=out
        )

    def sources(self, state: ConformalState) -> Mapping[str, str]:
        """Group -> ``"group"`` | ``"pooled"`` (convenience for reports)."""
        return {k: v.source for k, v in state.groups.items()}


# --- adaptive conformal inference ----------------------------------------------------------------


class AdaptiveConformal:
    """Adaptive Conformal Inference (Gibbs & Candès 2021) over a stream of bands.

    State: the raw ``alpha_t`` (unclipped, as required for the long-run guarantee
    ``|mean(err) - alpha| <= (max(alpha_1, 1 - alpha_1) + gamma) / (gamma T)``) and the last
    ``window`` scores. The current interval is the base band scaled by ``q_t``, the
    split-conformal order statistic of the recent scores at level ``1 - clip(alpha_t, 0, 1)``:
    ``alpha_t <= 0`` or too few scores give ``q_t = +inf`` (band = [0, 1]); ``alpha_t >= 1`` gives
    ``q_t = -inf`` which collapses the band to its median.

    :meth:`update` takes the *base* (uncalibrated) band for the step just observed, computes
    ``err_t = 1{y not in C_t}`` (i.e. ``score > q_t``), sets ``alpha_{t+1} = alpha_t + gamma (alpha - err_t)``,
    appends the score and returns ``alpha_{t+1}``.
    """

    def __init__(
        self,
        alpha: float = 0.2,
        gamma: float = 0.01,
        window: int = 500,
        initial_scores: npt.ArrayLike | None = None,
    ) -> None:
        self.alpha = _check_alpha(alpha)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window!r}")
        self.gamma = float(gamma)
        self.window = int(window)
        self.alpha_t = self.alpha
        self.n_updates = 0
        self.n_errors = 0
        self._scores: deque[float] = deque(maxlen=self.window)
        if initial_scores is not None:
            self._scores.extend(_clean_scores(initial_scores).tolist())

    @property
    def q_t(self) -> float:
        """Current score threshold (order statistic at level ``1 - clip(alpha_t, 0, 1)``)."""
        a = self.alpha_t
        if a <= 0.0:
            return math.inf
        if a >= 1.0:
            return -math.inf
        return _order_statistic(np.sort(np.fromiter(self._scores, dtype=np.float64)), a)

    @property
    def miss_rate(self) -> float:
        """Empirical share of misses so far (NaN before the first update)."""
        return self.n_errors / self.n_updates if self.n_updates else math.nan

    def apply(self, bands: npt.ArrayLike) -> FloatArray:
        """The current calibrated band ``C_t`` for a base band ``(Q, ...)``."""
        return apply_scale(bands, self.q_t)

    def update(self, y: float, lo: float, hi: float, median: float | None = None, q_used: float | None = None) -> float:
        """Observe ``y`` for the base band ``[lo, hi]`` (median defaults to the midpoint); return ``alpha_{t+1}``.

        ``q_used``: the threshold the issued band was scaled with, when feedback arrives late (a multi-step
        forecast issued before later observations); the miss is then judged against the band actually issued.
        """
        if not (math.isfinite(y) and math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("y, lo and hi must be finite")
        m = 0.5 * (lo + hi) if median is None else float(median)
        score = float(band_scores(y, lo, m, hi))
        err = 1 if score > (self.q_t if q_used is None else q_used) else 0
        self.alpha_t = self.alpha_t + self.gamma * (self.alpha - err)
        self.n_updates += 1
        self.n_errors += err
        self._scores.append(score)
        return self.alpha_t
