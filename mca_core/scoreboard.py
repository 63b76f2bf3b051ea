"""Calibration scoreboard and reliability bins (``calib.scoreboard``, ``calib.reliability_bins``).

``build_scoreboard`` scores the resolved cutoff forecasts (rows of ``core.cutoff_snapshots``)
for every (window, horizon, segment_type, segment) group and returns one scoreboard row per group
plus the points of its reliability diagram. Every number equals the matching function of
``mca_core.metrics`` applied to the group's rows (up to floating-point summation order):

- window ``W`` of ``d`` days covers the cohorts ``dt`` in ``(as_of - d, as_of]``; a window of
  ``None`` days (``all``) covers every cohort ``dt <= as_of``. Later cohorts are never used.
- segment types: ``all`` (segment ``"all"``), ``category`` (null -> ``uncategorized``),
  ``liquidity_bucket`` (taken from the column, else derived from ``volume_usd`` with
  ``segments.liquidity_bucket``), ``tte_bucket`` (``segments.tte_bucket`` of the horizon's
  seconds: the time from the cutoff to resolution) and ``volume_bucket``
  (``segments.volume_bucket`` of ``volume_usd``; a missing column or value counts as no volume).
  Rows whose segment is null for a type (an unknown horizon for ``tte_bucket``) skip that type.
- weights: 1 per row, or with ``event_weighting`` ``1 / (rows of the same event in the group)``
  so a multi-outcome event counts once. ``ece_debiased`` is always unweighted (``metrics``).
- bins: equal-mass bins of ``metrics.equal_mass_bins`` computed per group with Polars ranks
  (ties share a bin, bins renumbered densely).
- ``brier_ci_low/high``: event-cluster bootstrap (``metrics.bootstrap_ratio_ci``) with a seed
  derived from ``(seed, window, horizon, segment_type, segment)`` by ``metrics.stable_seed``.
- ``slope``/``intercept``: logistic calibration fit (``metrics.logistic_fit``), with Wald 95%
  intervals ``estimate ± 1.96 se``; NaN when the fit is not identified.
- ``low_confidence``: ``n < min_n``.

Counts, sums, Brier, log loss, bins, ECE and Murphy terms come from Polars ``group_by``; only the
logistic fit and the bootstrap loop over groups in numpy. Output is sorted by window (in the
order given), horizon (``1h .. 1m``, then others by name), segment type (order above), segment
(bucket order, else by name) and, for bins, bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import polars as pl

from mca_core import metrics
from mca_core.cutoffs import HORIZONS
from mca_core.segments import (
    LIQUIDITY_BUCKETS,
    TTE_BUCKETS,
    UNCATEGORIZED,
    VOLUME_BUCKETS,
    liquidity_bucket,
    tte_bucket,
    volume_bucket,
)

__all__ = [
    "DEFAULT_WINDOWS",
    "RELIABILITY_BINS_SCHEMA",
    "SCOREBOARD_SCHEMA",
    "SEGMENT_TYPES",
    "ScoreboardResult",
    "build_scoreboard",
]

#: Window name -> days (``None`` = every cohort up to ``as_of``), in reporting order.
DEFAULT_WINDOWS: Final[Mapping[str, int | None]] = {"1d": 1, "30d": 30, "90d": 90, "365d": 365, "all": None}
#: Segment types in reporting order.
SEGMENT_TYPES: Final = ("all", "category", "liquidity_bucket", "tte_bucket", "volume_bucket")
_BUCKET_ORDER: Final[Mapping[str, tuple[str, ...]]] = {
    "liquidity_bucket": LIQUIDITY_BUCKETS,
    "tte_bucket": TTE_BUCKETS,
    "volume_bucket": VOLUME_BUCKETS,
}
_Z95: Final = 1.96
_GROUP_LABELS: Final = ("_wi", "window", "_h", "horizon", "_si", "segment_type", "segment")

_KEYS: Final = ("dt", "window", "horizon", "segment_type", "segment")
SCOREBOARD_SCHEMA: Final = pl.Schema(
    {
        "dt": pl.Date(),
        "window": pl.String(),
        "horizon": pl.String(),
        "segment_type": pl.String(),
        "segment": pl.String(),
        "n": pl.Int64(),
        "n_events": pl.Int64(),
        "brier": pl.Float64(),
        "brier_ci_low": pl.Float64(),
        "brier_ci_high": pl.Float64(),
        "log_loss": pl.Float64(),
        "ece": pl.Float64(),
        "ece_debiased": pl.Float64(),
        "reliability": pl.Float64(),
        "resolution": pl.Float64(),
        "uncertainty": pl.Float64(),
        "slope": pl.Float64(),
        "intercept": pl.Float64(),
        "slope_ci_low": pl.Float64(),
        "slope_ci_high": pl.Float64(),
        "intercept_ci_low": pl.Float64(),
        "intercept_ci_high": pl.Float64(),
        "low_confidence": pl.Boolean(),
    }
)
RELIABILITY_BINS_SCHEMA: Final = pl.Schema(
    {
        "dt": pl.Date(),
        "window": pl.String(),
        "horizon": pl.String(),
        "segment_type": pl.String(),
        "segment": pl.String(),
        "bin": pl.Int64(),
        "p_mean": pl.Float64(),
        "y_rate": pl.Float64(),
        "y_rate_ci_low": pl.Float64(),
        "y_rate_ci_high": pl.Float64(),
        "n": pl.Int64(),
    }
)


@dataclass(frozen=True, slots=True)
class ScoreboardResult:
    """``scoreboard`` (``SCOREBOARD_SCHEMA``) and ``reliability_bins`` (``RELIABILITY_BINS_SCHEMA``)."""

    scoreboard: pl.DataFrame
    reliability_bins: pl.DataFrame


def _empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _prepare(cutoffs: pl.DataFrame) -> pl.DataFrame:
    """Typed, validated rows with one segment column per segment type."""
    missing = [c for c in ("dt", "horizon", "p_yes", "y") if c not in cutoffs.columns]
    if "event_id" not in cutoffs.columns and "market_id" not in cutoffs.columns:
        missing.append("event_id")
    if missing:
        raise ValueError(f"build_scoreboard: cutoffs lack column(s) {missing}")
    if "volume_usd" not in cutoffs.columns:
        cutoffs = cutoffs.with_columns(pl.lit(None, dtype=pl.Float64).alias("volume_usd"))
    cols = cutoffs.columns
    event = pl.coalesce(
        [pl.col(c).cast(pl.String) for c in ("event_id", "market_id") if c in cols]
        + [pl.format("row:{}", pl.int_range(pl.len()))]
    )
    volume = pl.col("volume_usd")
    category = pl.col("category").cast(pl.String) if "category" in cols else pl.lit(None, dtype=pl.String)
    liquidity = (
        pl.coalesce(pl.col("liquidity_bucket").cast(pl.String), liquidity_bucket(volume))
        if "liquidity_bucket" in cols
        else liquidity_bucket(volume)
    )
    seconds = pl.col("horizon").replace_strict(HORIZONS, default=None, return_dtype=pl.Int64)
    frame = cutoffs.select(
        pl.col("dt").cast(pl.Date),
        pl.col("horizon").cast(pl.String),
        pl.col("p_yes").cast(pl.Float64).alias("p"),
        pl.col("y").cast(pl.Float64),
        event.alias("event_id"),
        pl.lit("all").alias("seg_all"),
        pl.coalesce(category, pl.lit(UNCATEGORIZED)).alias("seg_category"),
        liquidity.alias("seg_liquidity_bucket"),
        tte_bucket(seconds).alias("seg_tte_bucket"),
        volume_bucket(volume).alias("seg_volume_bucket"),
    )
    p = pl.col("p")
    bad = frame.filter(
        pl.col("dt").is_null()
        | pl.col("horizon").is_null()
        | p.is_null()
        | p.is_nan()
        | (p < 0.0)
        | (p > 1.0)
        | ~pl.col("y").is_in([0.0, 1.0]).fill_null(False)
    )
    if bad.height:
        raise ValueError(f"build_scoreboard: rows need dt, horizon, p_yes in [0, 1] and y in {{0, 1}}: {bad.row(0)}")
    order = {name: i for i, name in enumerate(HORIZONS)}
    # sorted once on values so that every group below, cut out with a stable sort, is in (p, y, event) order
    return frame.with_columns(
        pl.col("horizon").replace_strict(order, default=len(order), return_dtype=pl.Int32).alias("_h"),
        (pl.col("event_id").rank("dense") - 1).cast(pl.Int64).alias("_ev"),
    ).sort("p", "y", "_ev")


def _long(frame: pl.DataFrame, as_of: date, windows: Mapping[str, int | None]) -> pl.DataFrame:
    """One row per (row, window containing its cohort, segment type), null segments dropped."""
    parts: list[pl.DataFrame] = []
    in_past = frame.filter(pl.col("dt") <= as_of)
    for wi, (window, days) in enumerate(windows.items()):
        if days is not None and days < 1:
            raise ValueError(f"build_scoreboard: window {window!r} needs >= 1 day, got {days}")
        sub = in_past if days is None else in_past.filter(pl.col("dt") > as_of - timedelta(days=days))
        for si, segment_type in enumerate(SEGMENT_TYPES):
            parts.append(
                sub.select(
                    pl.lit(wi, dtype=pl.Int32).alias("_wi"),
                    pl.lit(window).alias("window"),
                    "_h",
                    "horizon",
                    pl.lit(si, dtype=pl.Int32).alias("_si"),
                    pl.lit(segment_type).alias("segment_type"),
                    pl.col(f"seg_{segment_type}").alias("segment"),
                    "p",
                    "y",
                    "_ev",
                ).filter(pl.col("segment").is_not_null())
            )
    return pl.concat(parts, how="vertical", rechunk=True)


def _wilson(successes: pl.Expr, n: pl.Expr, z: float = _Z95) -> tuple[pl.Expr, pl.Expr]:
    """Polars form of ``metrics.wilson_interval`` (same formula and clipping)."""
    rate = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    center = (rate + z2 / (2.0 * n)) / denom
    half = z / denom * (rate * (1.0 - rate) / n + z2 / (4.0 * n * n)).sqrt()
    low = pl.min_horizontal(pl.max_horizontal(pl.lit(0.0), center - half), rate)
    high = pl.max_horizontal(pl.min_horizontal(pl.lit(1.0), center + half), rate)
    return low, high


def build_scoreboard(
    cutoffs: pl.DataFrame,
    as_of: date,
    windows: Mapping[str, int | None] = DEFAULT_WINDOWS,
    min_n: int = 30,
    n_bins: int = 10,
    n_boot: int = 200,
    seed: int = 0,
    event_weighting: bool = False,
    eps: float = metrics.DEFAULT_EPS,
) -> ScoreboardResult:
    """Scoreboard and reliability bins of the cutoff forecasts as of ``as_of`` (see the module docstring).

    ``cutoffs`` needs ``dt`` (cohort Date), ``horizon``, ``p_yes`` in [0, 1], ``y`` in {0, 1} and
    ``event_id`` (or ``market_id``; a null event counts as its own event); ``category``,
    ``liquidity_bucket`` and ``volume_usd`` are optional. Invalid rows raise ``ValueError``.
    The same input always gives the same output.
    """
    if n_bins < 1 or n_boot < 1 or min_n < 0:
        raise ValueError(
            f"build_scoreboard: need n_bins >= 1, n_boot >= 1, min_n >= 0; got {n_bins}, {n_boot}, {min_n}"
        )
    frame = _prepare(cutoffs)
    long = _long(frame, as_of, windows)
    if long.height == 0:
        return ScoreboardResult(_empty(SCOREBOARD_SCHEMA), _empty(RELIABILITY_BINS_SCHEMA))

    group = ("_wi", "_h", "_si", "segment")
    weight = (1.0 / pl.len().over([*group, "_ev"])).cast(pl.Float64) if event_weighting else pl.lit(1.0)
    p, y, w = pl.col("p"), pl.col("y"), pl.col("w")
    pc = p.clip(eps, 1.0 - eps)
    long = (
        long.with_columns(
            (pl.struct(*group).rank("dense") - 1).cast(pl.Int64).alias("gid"),
            weight.alias("w"),
        )
        .sort("gid", maintain_order=True)  # stable: (gid, p, y, event) order, whatever the input row order
        .with_columns(
            (pl.col("p").rank("min").over("gid") - 1).cast(pl.Int64).alias("_r"),
            pl.len().over("gid").cast(pl.Int64).alias("_n"),
        )
        .with_columns(((pl.col("_r") * pl.min_horizontal(pl.col("_n"), n_bins)) // pl.col("_n")).alias("_raw"))
        .with_columns((pl.col("_raw").rank("dense").over("gid") - 1).cast(pl.Int64).alias("bin"))
    )

    groups = (
        long.group_by("gid", maintain_order=True)
        .agg(
            pl.col(*_GROUP_LABELS).first(),
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("_ev").n_unique().cast(pl.Int64).alias("n_events"),
            w.sum().alias("_w"),
            (w * (p - y) ** 2).sum().alias("_sq"),
            (w * -(y * pc.log() + (1.0 - y) * (-pc).log1p())).sum().alias("_ll"),
            (w * y).sum().alias("_wy"),
        )
        .with_columns((pl.col("_wy") / pl.col("_w")).alias("_ybar"))
    )
    bins = (
        long.group_by("gid", "bin", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            w.sum().alias("_wk"),
            (w * p).sum().alias("_wp"),
            (w * y).sum().alias("_wyk"),
            p.sum().alias("_sp"),
            y.sum().alias("_sy"),
        )
        .join(groups.select("gid", "n", "_w", "_ybar"), on="gid", how="left", suffix="_g")
        .with_columns(
            (pl.col("_wp") / pl.col("_wk")).alias("p_mean"),
            (pl.col("_wyk") / pl.col("_wk")).alias("y_rate"),
            (pl.col("_wk") / pl.col("_w")).alias("_share"),
        )
    )
    n_k = pl.col("n").cast(pl.Float64)
    gap = pl.col("y_rate") - pl.col("p_mean")
    o_unw = pl.col("_sy") / n_k
    correction = pl.when(n_k > 1.0).then(o_unw * (1.0 - o_unw) / (n_k - 1.0)).otherwise(0.0)
    per_group = bins.group_by("gid").agg(
        (pl.col("_share") * gap.abs()).sum().alias("ece"),
        (pl.col("_share") * gap**2).sum().alias("reliability"),
        (pl.col("_share") * (pl.col("y_rate") - pl.col("_ybar")) ** 2).sum().alias("resolution"),
        (n_k / pl.col("n_g") * ((pl.col("_sp") / n_k - o_unw) ** 2 - correction)).sum().alias("_ece2"),
    )

    fits = _numpy_stats(long, groups, n_boot=n_boot, seed=seed, eps=eps)
    board = (
        groups.join(per_group, on="gid", how="left")
        .join(fits, on="gid", how="left")
        .with_columns(
            pl.lit(as_of, dtype=pl.Date).alias("dt"),
            (pl.col("_sq") / pl.col("_w")).alias("brier"),
            (pl.col("_ll") / pl.col("_w")).alias("log_loss"),
            pl.col("_ece2").clip(lower_bound=0.0).sqrt().alias("ece_debiased"),
            (pl.col("_ybar") * (1.0 - pl.col("_ybar"))).alias("uncertainty"),
            (pl.col("slope") - _Z95 * pl.col("_se_b")).alias("slope_ci_low"),
            (pl.col("slope") + _Z95 * pl.col("_se_b")).alias("slope_ci_high"),
            (pl.col("intercept") - _Z95 * pl.col("_se_a")).alias("intercept_ci_low"),
            (pl.col("intercept") + _Z95 * pl.col("_se_a")).alias("intercept_ci_high"),
            (pl.col("n") < min_n).alias("low_confidence"),
        )
    )
    board = _sorted(board).select(list(SCOREBOARD_SCHEMA)).cast(SCOREBOARD_SCHEMA)

    ci_low, ci_high = _wilson(pl.col("y_rate") * n_k, n_k)
    reliability = bins.join(groups.select("gid", *_GROUP_LABELS), on="gid", how="left").with_columns(
        pl.lit(as_of, dtype=pl.Date).alias("dt"),
        ci_low.alias("y_rate_ci_low"),
        ci_high.alias("y_rate_ci_high"),
    )
    reliability = _sorted(reliability, "bin").select(list(RELIABILITY_BINS_SCHEMA)).cast(RELIABILITY_BINS_SCHEMA)
    return ScoreboardResult(scoreboard=board, reliability_bins=reliability)


def _sorted(frame: pl.DataFrame, *extra: str) -> pl.DataFrame:
    """Deterministic report order: window, horizon, segment type, segment (bucket order), extras."""
    seg_order = pl.lit(0, dtype=pl.Int32)
    for segment_type, labels in _BUCKET_ORDER.items():
        rank = pl.col("segment").replace_strict(
            {label: i for i, label in enumerate(labels)}, default=len(labels), return_dtype=pl.Int32
        )
        seg_order = pl.when(pl.col("segment_type") == segment_type).then(rank).otherwise(seg_order)
    return frame.with_columns(seg_order.alias("_so")).sort("_wi", "_h", "horizon", "_si", "_so", "segment", *extra)


def _numpy_stats(long: pl.DataFrame, groups: pl.DataFrame, n_boot: int, seed: int, eps: float) -> pl.DataFrame:
    """Per group: logistic calibration fit and the event-cluster bootstrap interval of the Brier score."""
    offsets = np.concatenate(([0], np.cumsum(groups["n"].to_numpy())))
    x = long.select(pl.col("p").clip(eps, 1.0 - eps).alias("p"))["p"].to_numpy()
    x = np.log(x) - np.log1p(-x)
    y = long["y"].to_numpy()
    w = long["w"].to_numpy()
    events = (
        long.group_by("gid", "_ev")
        .agg((pl.col("w") * (pl.col("p") - pl.col("y")) ** 2).sum().alias("num"), pl.col("w").sum().alias("den"))
        .sort("gid", "_ev")
    )
    ev_offsets = np.concatenate(([0], np.cumsum(groups["n_events"].to_numpy())))
    num, den = events["num"].to_numpy(), events["den"].to_numpy()
    keys = groups.select("window", "horizon", "segment_type", "segment").rows()
    out: dict[str, list[float]] = {
        k: [] for k in ("slope", "intercept", "_se_b", "_se_a", "brier_ci_low", "brier_ci_high")
    }
    # rows are sorted by (gid, p, y): merge runs of equal (p, y) into one weighted row for the fit
    # (same likelihood, far fewer rows on tick prices)
    gid = long["gid"].to_numpy()
    run = np.ones(x.size, dtype=bool)
    run[1:] = (gid[1:] != gid[:-1]) | (x[1:] != x[:-1]) | (y[1:] != y[:-1])
    starts = np.flatnonzero(run)
    x, y, w = x[starts], y[starts], np.add.reduceat(w, starts)
    offsets = np.searchsorted(starts, offsets)
    for i, key in enumerate(keys):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        b, a, se_b, se_a = metrics.logistic_fit(x[lo:hi], y[lo:hi], w[lo:hi])
        elo, ehi = int(ev_offsets[i]), int(ev_offsets[i + 1])
        ci_low, ci_high = metrics.bootstrap_ratio_ci(
            num[elo:ehi], den[elo:ehi], n_boot=n_boot, seed=metrics.stable_seed(seed, *key)
        )
        for name, value in zip(out, (b, a, se_b, se_a, ci_low, ci_high), strict=True):
            out[name].append(value)
    return pl.DataFrame({"gid": groups["gid"], **out})
