"""Decide whether a probability series is fit for the model, or should go straight to the baseline (and why).

A series goes to the baseline when it has too few observed points (``too_few_points``), a hole longer than
``max_gap_s`` (``max_gap_exceeded``: missing steps are ``None``), or belongs to a liquidity bucket whose prices are
too noisy for a model (``baseline_only_liquidity_bucket``). Missing steps are forward-filled and leading ones
dropped, so both paths see the same finite series.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["TOO_FEW_POINTS", "PreparedSeries", "freq_seconds", "prepare_series"]

FloatArray = npt.NDArray[np.float64]

TOO_FEW_POINTS: Final = "too_few_points"
MAX_GAP_EXCEEDED: Final = "max_gap_exceeded"
ILLIQUID: Final = "baseline_only_liquidity_bucket"

_FREQ = re.compile(r"^([1-9][0-9]{0,3})(s|m|min|h|d)$")
_UNIT_S: Final = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@lru_cache(maxsize=256)
def freq_seconds(freq: str) -> float:
    """Seconds per step of ``"30s"``, ``"5m"``/``"5min"``, ``"1h"``, ``"1d"``; ValueError otherwise."""
    match = _FREQ.match(freq)
    if match is None:
        raise ValueError(f"freq {freq!r} is not <n>(s|m|min|h|d)")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True)
class PreparedSeries:
    y: FloatArray  # observed values forward-filled, leading missing steps dropped
    observed: int
    longest_gap_s: float
    reason: str | None  # None: fit for the model


def prepare_series(
    y: Sequence[float | None],
    *,
    step_s: float,
    min_points: int,
    max_gap_s: float,
    liquidity_bucket: str | None = None,
    baseline_only_buckets: Collection[str] = ("LOW",),
    max_len: int | None = None,
) -> PreparedSeries:
    """Forward-fill and check the last ``max_len`` steps of ``y`` (values in [0, 1] or None).

    At least one value of ``y`` must be observed; the last value before the window is carried into it. ``max_len``
    is the model's input length (the seed's 288 steps): older steps barely change a forecast but cost every request.
    """
    window = np.array(y[-max_len:] if max_len is not None else y, dtype=np.float64)  # None -> NaN
    if window.size and not np.isnan(window).any():  # fully observed (the common case): every gap is one step
        return _checked(window, window.size, step_s, min_points, max_gap_s, liquidity_bucket, baseline_only_buckets)
    raw = np.array(y, dtype=np.float64)  # None -> NaN
    seen = ~np.isnan(raw)
    if not seen.any():
        raise ValueError("y has no observed value")
    first = int(np.argmax(seen))
    raw, seen = raw[first:], seen[first:]
    last_seen = np.maximum.accumulate(np.where(seen, np.arange(raw.size), 0))
    filled: FloatArray = raw[last_seen]
    if max_len is not None and filled.size > max_len:
        cut = filled.size - max_len
        filled, seen = filled[cut:], seen[cut:].copy()
        observed = int(seen.sum())
        seen[0] = True  # the value carried into the window anchors it (gaps are measured from it)
    else:
        observed = int(seen.sum())
    observed_idx = np.flatnonzero(seen)
    # a gap is the time between consecutive observations (a trailing hole counts up to the end of the series)
    end = filled.size - 1
    gaps = np.diff(np.append(observed_idx, end if end > observed_idx[-1] else observed_idx[-1]))
    longest = float(gaps.max(initial=1)) * step_s
    return _checked(filled, observed, longest, min_points, max_gap_s, liquidity_bucket, baseline_only_buckets)


def _checked(
    filled: FloatArray,
    observed: int,
    longest_gap_s: float,
    min_points: int,
    max_gap_s: float,
    liquidity_bucket: str | None,
    baseline_only_buckets: Collection[str],
) -> PreparedSeries:
    reason: str | None = None
    if observed < min_points:
        reason = TOO_FEW_POINTS
    elif longest_gap_s > max_gap_s:
        reason = MAX_GAP_EXCEEDED
    elif liquidity_bucket is not None and liquidity_bucket in baseline_only_buckets:
        reason = ILLIQUID
    return PreparedSeries(filled, observed, longest_gap_s, reason)
