"""The band backtest: no look-ahead, metrics equal a slow reference, conformal reaches its target out of sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mca_core.backtest import BacktestConfig, backtest, raw_bands
from mca_core.baselines import BASELINES

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def random_paths(markets: int, steps: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(markets):
        x = np.cumsum(rng.normal(0, 0.15, steps)) + rng.normal()
        p = 1 / (1 + np.exp(-x))
        rows += [(str(m), ("LOW", "MID", "HIGH")[m % 3], T0 + timedelta(hours=i), float(v)) for i, v in enumerate(p)]
    return pl.DataFrame(rows, schema=["market_id", "segment", "ts", "p"], orient="row")


def test_bands_use_only_the_history_before_their_origin() -> None:
    paths = random_paths(3, steps=120)
    config = BacktestConfig(origin_every=30)
    bands = raw_bands(paths, config)
    for row in bands.filter(pl.col("step") == 1).iter_rows(named=True):
        history = paths.filter((pl.col("market_id") == row["market_id"]) & (pl.col("ts") <= row["origin_ts"]))
        expected = BASELINES[row["method"]](history["p"].to_numpy(), config.horizon, (0.1, 0.5, 0.9))
        assert (row["q10"], row["q50"], row["q90"]) == pytest.approx(tuple(expected[:, 0]), abs=1e-12)
        assert row["ts"] > row["origin_ts"]


def test_metrics_equal_a_slow_reference() -> None:
    result = backtest(random_paths(12, steps=200), T0)
    row = result.metrics.filter(
        (pl.col("method") == "ewma") & (pl.col("band_calibration") == "raw") & (pl.col("segment") == "LOW")
    ).row(0, named=True)
    rows = result.bands.filter(
        (pl.col("method") == "ewma") & (pl.col("band_calibration") == "raw") & (pl.col("segment") == "LOW")
    ).iter_rows(named=True)
    covered = widths = winkler = pin = 0.0
    n = 0
    for r in rows:
        y, lo, mid, hi = r["y"], r["q10"], r["q50"], r["q90"]
        n += 1
        covered += lo <= y <= hi
        widths += hi - lo
        winkler += (hi - lo) + (2 / 0.2) * max(lo - y, 0) + (2 / 0.2) * max(y - hi, 0)
        for tau, q in ((0.1, lo), (0.5, mid), (0.9, hi)):
            pin += tau * (y - q) if y >= q else (1 - tau) * (q - y)
    assert row["n"] == n
    assert row["coverage"] == pytest.approx(covered / n, abs=1e-12)
    assert row["mean_width"] == pytest.approx(widths / n, abs=1e-12)
    assert row["winkler"] == pytest.approx(winkler / n, abs=1e-12)
    assert row["pinball"] == pytest.approx(pin / n / 3, abs=1e-12)


def test_conformal_bands_reach_the_target_out_of_sample_in_every_bucket() -> None:
    result = backtest(random_paths(1200, steps=160), T0)
    conformal = result.metrics.filter((pl.col("band_calibration") == "conformal") & (pl.col("method") == "ewma"))
    assert conformal.height == 4  # all + three buckets
    for row in conformal.iter_rows(named=True):
        assert row["n"] >= 500
        assert abs(row["coverage"] - 0.8) <= 0.03, row
    raw = result.metrics.filter((pl.col("band_calibration") == "raw") & (pl.col("segment_type") == "all"))
    assert raw.height == 3  # raw coverage is reported beside the conformal one, for every method


def test_calibration_and_evaluation_hold_disjoint_markets_chosen_by_a_stable_hash() -> None:
    paths = random_paths(40, steps=120)
    result = backtest(paths, T0)
    evaluated = set(result.bands["market_id"].unique())
    assert 10 <= len(evaluated) <= 30  # about half of the 40 markets are held out
    calibrated = sum(state.pooled.n for state in result.states.values()) // 3
    held_out_rows = result.bands.filter(pl.col("band_calibration") == "raw").height // 3
    assert calibrated + held_out_rows == raw_bands(paths, BacktestConfig()).height // 3  # every band used once
    assert set(backtest(paths.reverse(), T0).bands["market_id"].unique()) == evaluated  # order does not matter
    assert set(result.states) == {"ewma", "kalman", "rolling_quantile"}


def test_no_paths_give_empty_outputs() -> None:
    empty = pl.DataFrame(schema={"market_id": pl.String, "segment": pl.String, "ts": pl.Datetime("us", "UTC"),
                                 "p": pl.Float64})  # fmt: skip
    result = backtest(empty, T0)
    assert result.bands.is_empty()
    assert result.metrics.is_empty()


def test_aci_option_tracks_the_target_and_uses_only_thresholds_known_at_each_origin() -> None:
    paths = random_paths(300, steps=160)
    split = backtest(paths, T0)
    aci = backtest(paths, T0, BacktestConfig(conformal="aci", aci_gamma=0.01))
    assert {state.method for state in aci.states.values()} == {"aci"}
    overall = aci.metrics.filter((pl.col("band_calibration") == "conformal") & (pl.col("segment_type") == "all"))
    for row in overall.iter_rows(named=True):
        assert abs(row["coverage"] - 0.8) <= 0.03, row
    # raw bands are the same whichever option calibrates them
    raw = pl.col("band_calibration") == "raw"
    assert (
        aci.bands.filter(raw)
        .sort("method", "market_id", "origin_ts", "step")
        .equals(split.bands.filter(raw).sort("method", "market_id", "origin_ts", "step"))
    )
    # the first held-out origin of a bucket uses the threshold of the calibration scores alone
    first = aci.bands.filter(~raw & (pl.col("method") == "ewma")).sort("origin_ts").row(0, named=True)
    assert first["q10"] <= first["q50"] <= first["q90"]
    with pytest.raises(ValueError, match="conformal"):
        BacktestConfig(conformal="online")  # type: ignore[arg-type]
