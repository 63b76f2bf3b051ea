"""Turn raw quantile paths (a model's or a baseline's) into a band a client can rely on.

In order: inverse transform (a model fed logits answers in logits), clip to [0, 1], fix quantile crossing by
sorting each step (counted and warned: a model that crosses is misbehaving), clamp the outer interval width per
step between ``min_width`` and ``max_width`` by scaling distances from the median, then, last, the optional
conformal adjustment from a published `ConformalState`. The result is finite, inside [0, 1] and non-decreasing
along the quantile axis, whatever came in (non-finite inputs are a caller bug and raise).

The conformal state was fitted on bands whose outer quantiles are ``alpha/2`` and ``1 - alpha/2``; applied to a
band with other outer quantiles its guarantee means nothing, so it is skipped with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from mca_core.baselines import clip, z_scores
from mca_core.conformal import ConformalState, median_row

__all__ = ["Band", "postprocess"]

FloatArray = npt.NDArray[np.float64]
#: Below this outer width a step is treated as a point forecast when clamping.
_DEGENERATE_WIDTH = 1e-12


@dataclass(frozen=True)
class Band:
    values: FloatArray  # (len(quantiles), horizon), probabilities
    crossing_steps: int  # steps whose quantiles had to be re-sorted
    conformal_applied: bool
    warnings: list[str] = field(default_factory=list)


def _inverse(values: FloatArray, transform: Literal["none", "logit"]) -> FloatArray:
    if transform == "none":
        return values
    out: FloatArray = special.expit(values)
    return out


@lru_cache(maxsize=64)
def _normal_shape(quantiles: tuple[float, ...]) -> FloatArray:
    """Normal quantile offsets scaled to a unit outer width."""
    z = z_scores(quantiles)
    shape: FloatArray = z / (z[-1] - z[0])
    shape.setflags(write=False)
    return shape


def _clamp_width(values: FloatArray, quantiles: Sequence[float], min_width: float, max_width: float) -> FloatArray:
    """Scale each step's distances from the median so ``hi - lo`` lands in ``[min_width, max_width]``."""
    width = values[-1] - values[0]
    target = clip(width, min_width, max_width)
    if (target == width).all():  # every step already inside the bounds (the usual case)
        return values
    m = median_row(values)
    degenerate = width <= _DEGENERATE_WIDTH  # scaling a subnormal width would overflow
    shape = _normal_shape(tuple(quantiles))  # for (near) zero-width steps: a normal-shaped band of the target width
    factor = target / np.where(degenerate, 1.0, width)
    scaled = m + (values - m) * factor
    flat = m + shape[:, None] * target
    out: FloatArray = np.where(degenerate, flat, scaled)
    return out


def postprocess(
    raw: npt.ArrayLike,
    quantiles: Sequence[float],
    *,
    transform: Literal["none", "logit"] = "none",
    min_width: float = 0.0,
    max_width: float = 1.0,
    conformal: ConformalState | None = None,
    group: str | None = None,
) -> Band:
    """Post-process ``raw`` of shape ``(len(quantiles), horizon)`` (see the module docstring for the order)."""
    values = np.asarray(raw, dtype=np.float64)  # never written in place: every step makes a new array
    if values.ndim != 2 or values.shape[0] != len(quantiles) or values.shape[1] < 1:
        raise ValueError(f"raw must have shape ({len(quantiles)}, horizon >= 1), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("raw quantile paths must be finite")
    if not 0.0 <= min_width <= max_width <= 1.0:
        raise ValueError(f"need 0 <= min_width <= max_width <= 1, got {min_width}, {max_width}")
    warnings: list[str] = []
    values = clip(_inverse(values, transform), 0.0, 1.0)
    crossing = int(np.count_nonzero((values[1:] < values[:-1]).any(axis=0)))
    if crossing:
        values = np.sort(values, axis=0)
        warnings.append(f"quantile crossing fixed by sorting at {crossing} step(s)")
    applied = False
    if len(quantiles) > 1:
        values = _clamp_width(values, quantiles, min_width, max_width)
        if conformal is not None:
            lo, hi = conformal.alpha / 2.0, 1.0 - conformal.alpha / 2.0
            if math.isclose(quantiles[0], lo, abs_tol=1e-9) and math.isclose(quantiles[-1], hi, abs_tol=1e-9):
                values = conformal.apply(clip(values, 0.0, 1.0), group)
                applied = True
            else:
                warnings.append(
                    f"conformal state is for the [{lo:g}, {hi:g}] band; not applied to [{quantiles[0]:g}, "
                    f"{quantiles[-1]:g}]"
                )
    values = np.maximum.accumulate(clip(values, 0.0, 1.0), axis=0)
    return Band(values, crossing, applied, warnings)
