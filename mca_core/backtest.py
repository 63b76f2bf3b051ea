"""Forecast-band backtest on resolved markets' price paths: raw baseline bands, then conformal bands.

For each market's hourly YES path, at origins every ``origin_every`` steps (after ``min_history`` points), each
baseline forecasts the next ``horizon`` steps; the realised prices are the targets. Origins are split in time: the
earlier ``calibration_share`` of origin times calibrates a Mondrian split conformal per (method, liquidity
bucket) with a pooled fallback, and the later origins are the held-out evaluation, reported both raw and
conformal. So the conformal coverage reported is out of sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from mca_core.baselines import BASELINES
from mca_core.conformal import ConformalState, MondrianConformal, bands_scores
from mca_core.intervals import interval_summary

UTC_TS = pl.Datetime("us", "UTC")

BAND_SCHEMA: dict[str, pl.DataType] = {
    "market_id": pl.String(),
    "segment": pl.String(),
    "method": pl.String(),
    "origin_ts": UTC_TS,
    "step": pl.Int32(),
    "ts": UTC_TS,
    "y": pl.Float64(),
    "q10": pl.Float64(),
    "q50": pl.Float64(),
    "q90": pl.Float64(),
}
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class BacktestConfig:
    horizon: int = 6
    min_history: int = 32
    origin_every: int = 24
    methods: Sequence[str] = ("ewma", "kalman", "rolling_quantile")
    calibration_share: float = 0.5
    alpha: float = 0.2  # nominal coverage 0.8 between q10 and q90


@dataclass
class BacktestResult:
    """Raw and conformal bands of the evaluation origins, the fitted states, and the interval metrics."""

    bands: pl.DataFrame  # BAND_SCHEMA + band_calibration ("raw" | "conformal")
    states: dict[str, ConformalState] = field(default_factory=dict)  # per method
    metrics: pl.DataFrame = field(default_factory=pl.DataFrame)


def raw_bands(paths: pl.DataFrame, config: BacktestConfig) -> pl.DataFrame:
    """Baseline bands at every origin of every path (``paths``: market_id, segment, ts, p; sorted or not)."""
    rows: list[tuple[object, ...]] = []
    for (market_id, segment), path in paths.sort("ts").group_by(["market_id", "segment"], maintain_order=True):
        ts = path["ts"].to_list()
        p = path["p"].to_numpy()
        last_origin = len(p) - config.horizon
        for origin in range(config.min_history, last_origin + 1, config.origin_every):
            history, target = p[:origin], p[origin : origin + config.horizon]
            for method in config.methods:
                band = BASELINES[method](history, config.horizon, QUANTILES)
                for step in range(config.horizon):
                    rows.append(
                        (market_id, segment, method, ts[origin - 1], step + 1, ts[origin + step], float(target[step]),
                         float(band[0, step]), float(band[1, step]), float(band[2, step]))
                    )  # fmt: skip
    return pl.DataFrame(rows, schema=BAND_SCHEMA, orient="row") if rows else pl.DataFrame(schema=BAND_SCHEMA)


def _matrix(frame: pl.DataFrame) -> np.ndarray:
    return frame.select("q10", "q50", "q90").to_numpy().T


def backtest(paths: pl.DataFrame, fitted_at: datetime, config: BacktestConfig | None = None) -> BacktestResult:
    """Raw bands everywhere, conformal calibration on the early origins, evaluation on the late ones."""
    config = config or BacktestConfig()
    bands = raw_bands(paths, config)
    if bands.is_empty():
        empty = bands.with_columns(pl.lit("raw").alias("band_calibration"))
        return BacktestResult(empty, {}, interval_metrics(empty))
    cut = bands["origin_ts"].quantile(config.calibration_share, interpolation="lower")
    calibration = bands.filter(pl.col("origin_ts") <= cut)
    evaluation = bands.filter(pl.col("origin_ts") > cut)
    states: dict[str, ConformalState] = {}
    adjusted: list[pl.DataFrame] = []
    for method in config.methods:
        cal = calibration.filter(pl.col("method") == method)
        ev = evaluation.filter(pl.col("method") == method)
        scores = bands_scores(cal["y"].to_numpy(), _matrix(cal))
        state = MondrianConformal(alpha=config.alpha).fit(scores, cal["segment"].to_numpy(), fitted_at)
        states[method] = state
        for (segment,), part in ev.group_by(["segment"], maintain_order=True):
            q = state.apply(_matrix(part), str(segment))
            adjusted.append(part.with_columns(pl.Series("q10", q[0]), pl.Series("q50", q[1]), pl.Series("q90", q[2])))
    conformal = pl.concat(adjusted) if adjusted else evaluation.clear()
    result = pl.concat(
        [
            evaluation.with_columns(pl.lit("raw").alias("band_calibration")),
            conformal.with_columns(pl.lit("conformal").alias("band_calibration")),
        ]
    ).sort("method", "band_calibration", "market_id", "origin_ts", "step")
    return BacktestResult(result, states, interval_metrics(result))


METRIC_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "band_calibration": pl.String(),
    "segment_type": pl.String(),
    "segment": pl.String(),
    "nominal": pl.Float64(),
    "n": pl.Int64(),
    "coverage": pl.Float64(),
    "mean_width": pl.Float64(),
    "winkler": pl.Float64(),
    "pinball": pl.Float64(),
    "crps": pl.Float64(),
}


def interval_metrics(bands: pl.DataFrame) -> pl.DataFrame:
    """Coverage, width, Winkler, mean pinball and CRPS of the 80 % band, overall and per liquidity bucket."""
    rows = []
    for keys, part in bands.group_by(["method", "band_calibration"], maintain_order=True):
        method, calibration = str(keys[0]), str(keys[1])
        groups = [("all", "all", part)] + [
            ("liquidity_bucket", str(seg[0]), sub) for seg, sub in part.group_by(["segment"], maintain_order=True)
        ]
        for segment_type, segment, rows_ in groups:
            s = interval_summary(rows_["y"].to_numpy(), _matrix(rows_), QUANTILES, nominals=(0.8,))
            pinball = float(np.mean([s[f"pinball_{tau:g}"] for tau in QUANTILES]))
            rows.append(
                (method, calibration, segment_type, segment, 0.8, int(s["n"]), s["coverage_80"], s["width_80"],
                 s["winkler_80"], pinball, s["crps"])
            )  # fmt: skip
    frame = pl.DataFrame(rows, schema=METRIC_SCHEMA, orient="row") if rows else pl.DataFrame(schema=METRIC_SCHEMA)
    return frame.sort("method", "band_calibration", "segment_type", "segment")
