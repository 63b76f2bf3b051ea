"""Scoreboard builder: every group's numbers equal mca_core.metrics on that group's rows."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from mca_core import metrics as m
from mca_core.cutoffs import HORIZONS
from mca_core.scoreboard import (
    DEFAULT_WINDOWS,
    RELIABILITY_BINS_SCHEMA,
    SCOREBOARD_SCHEMA,
    SEGMENT_TYPES,
    build_scoreboard,
)
from mca_core.segments import liquidity_bucket, tte_bucket, volume_bucket
from mca_resources.settings import Settings

EDGES = Settings().liquidity_edges()

AS_OF = date(2026, 3, 1)
TOL = 1e-9


def make_cutoffs(n_markets: int = 160, days: int = 60, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    horizons = list(HORIZONS)
    cats = ["politics", "sports", "crypto", None]
    rows = []
    for i in range(n_markets):
        event = f"e{rng.integers(0, n_markets // 3)}"
        q = float(rng.beta(0.8, 0.8))
        y = int(rng.uniform() < q)
        dt = AS_OF - timedelta(days=int(rng.integers(-3, days)))  # a few cohorts after as_of
        vol = None if rng.uniform() < 0.05 else float(np.exp(rng.uniform(4, 15)))
        cat = cats[int(rng.integers(0, len(cats)))]
        for h in horizons:
            if rng.uniform() < 0.1:
                continue
            p = float(np.clip(np.round(q + rng.normal(0, 0.15), 2), 0, 1))
            rows.append(
                {
                    "dt": dt,
                    "market_id": f"m{i}",
                    "event_id": event,
                    "horizon": h,
                    "p_yes": p,
                    "y": y,
                    "category": cat,
                    "volume_usd": vol,
                }
            )
    frame = pl.DataFrame(rows, schema_overrides={"y": pl.Int8})
    return frame.with_columns(liquidity_bucket("volume_usd", EDGES))


@pytest.fixture(scope="module")
def cutoffs() -> pl.DataFrame:
    return make_cutoffs()


def group_rows(cutoffs: pl.DataFrame, window: str, horizon: str, segment_type: str, segment: str) -> pl.DataFrame:
    days = DEFAULT_WINDOWS[window]
    frame = cutoffs.filter(pl.col("dt") <= AS_OF, pl.col("horizon") == horizon)
    if days is not None:
        frame = frame.filter(pl.col("dt") > AS_OF - timedelta(days=days))
    seconds = pl.col("horizon").replace_strict(HORIZONS, return_dtype=pl.Int64)
    seg = {
        "all": pl.lit("all"),
        "category": pl.col("category").fill_null("uncategorized"),
        "liquidity_bucket": pl.col("liquidity_bucket"),
        "tte_bucket": tte_bucket(seconds),
        "volume_bucket": volume_bucket("volume_usd"),
    }[segment_type]
    return frame.filter(seg == segment)


def close(a: float, b: float, tol: float = TOL) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=tol, rel=tol)


@pytest.mark.parametrize("event_weighting", [False, True])
def test_every_group_equals_metrics_on_its_rows(cutoffs: pl.DataFrame, event_weighting: bool) -> None:
    result = build_scoreboard(cutoffs, AS_OF, n_boot=50, seed=7, event_weighting=event_weighting)
    board = result.scoreboard
    assert board.height > 100
    assert set(board["segment_type"].unique()) == set(SEGMENT_TYPES)
    for row in board.iter_rows(named=True):
        rows = group_rows(cutoffs, row["window"], row["horizon"], row["segment_type"], row["segment"])
        p = rows["p_yes"].to_numpy()
        y = rows["y"].to_numpy().astype(float)
        events = rows["event_id"].to_numpy()
        w = None
        if event_weighting:
            w = 1.0 / rows.select(pl.len().over("event_id"))["len"].to_numpy()
        assert row["n"] == rows.height
        assert row["n_events"] == rows["event_id"].n_unique()
        assert row["low_confidence"] == (rows.height < 30)
        expected = {
            "brier": m.brier(p, y, w),
            "log_loss": m.log_loss(p, y, w),
            "ece": m.ece(p, y, 10, w),
            "ece_debiased": m.ece_debiased(p, y, 10),
        }
        expected["ece_debiased_ci_low"], expected["ece_debiased_ci_high"] = m.ece_debiased_interval(p, y, 10)
        expected.update(zip(("reliability", "resolution", "uncertainty"), m.murphy(p, y, 10, w), strict=True))
        slope, intercept, se_b, se_a = m.calibration_slope_intercept(p, y, w)
        expected.update(
            slope=slope,
            intercept=intercept,
            slope_ci_low=slope - 1.96 * se_b,
            slope_ci_high=slope + 1.96 * se_b,
            intercept_ci_low=intercept - 1.96 * se_a,
            intercept_ci_high=intercept + 1.96 * se_a,
        )
        expected["brier_ci_low"], expected["brier_ci_high"] = m.brier_bootstrap_ci(p, y, events, 50, 7, w=w)
        for name, value in expected.items():
            # bootstrap replicate sums are float32 in both (summed in different orders)
            tol = 1e-6 if name.startswith("brier_ci") else TOL
            assert close(row[name], value, tol), (name, row, value)


def test_reliability_bins_equal_metrics_bins(cutoffs: pl.DataFrame) -> None:
    result = build_scoreboard(cutoffs, AS_OF, n_boot=10)
    bins = result.reliability_bins
    for key, frame in bins.group_by("window", "horizon", "segment_type", "segment", maintain_order=True):
        window, horizon, segment_type, segment = (str(k) for k in key)
        rows = group_rows(cutoffs, window, horizon, segment_type, segment)
        p = rows["p_yes"].to_numpy()
        y = rows["y"].to_numpy().astype(float)
        ids = m.equal_mass_bins(p, 10)
        assert frame["bin"].to_list() == list(range(int(ids.max()) + 1))
        for b, got in enumerate(frame.iter_rows(named=True)):
            sel = ids == b
            assert got["n"] == int(sel.sum())
            assert close(got["p_mean"], float(p[sel].mean()))
            assert close(got["y_rate"], float(y[sel].mean()))
            low, high = m.wilson_interval(float(y[sel].sum()), float(sel.sum()))
            assert close(got["y_rate_ci_low"], low)
            assert close(got["y_rate_ci_high"], high)
        assert frame["n"].sum() == rows.height
    keys = ["window", "horizon", "segment_type", "segment"]
    assert bins.select(keys).unique().height == result.scoreboard.height


def test_schemas_and_sort_order(cutoffs: pl.DataFrame) -> None:
    result = build_scoreboard(cutoffs, AS_OF, n_boot=10)
    assert result.scoreboard.schema == SCOREBOARD_SCHEMA
    assert result.reliability_bins.schema == RELIABILITY_BINS_SCHEMA
    board = result.scoreboard
    assert (board["dt"] == AS_OF).all()
    windows = list(DEFAULT_WINDOWS)
    order = board.select(
        pl.col("window").replace_strict({w: i for i, w in enumerate(windows)}),
        pl.col("horizon").replace_strict({h: i for i, h in enumerate(HORIZONS)}),
        pl.col("segment_type").replace_strict({s: i for i, s in enumerate(SEGMENT_TYPES)}),
    ).rows()
    assert order == sorted(order)
    liq = board.filter(
        pl.col("window") == "all", pl.col("horizon") == "1d", pl.col("segment_type") == "liquidity_bucket"
    )
    assert liq["segment"].to_list() == ["LOW", "MID", "HIGH"]
    assert board.select(["window", "horizon", "segment_type", "segment"]).is_unique().all()


def test_same_input_same_output_in_any_row_order(cutoffs: pl.DataFrame) -> None:
    first = build_scoreboard(cutoffs, AS_OF, n_boot=30)
    again = build_scoreboard(cutoffs.sample(fraction=1.0, shuffle=True, seed=3), AS_OF, n_boot=30)
    assert first.scoreboard.equals(again.scoreboard)
    assert first.reliability_bins.equals(again.reliability_bins)
    other_seed = build_scoreboard(cutoffs, AS_OF, n_boot=30, seed=1)
    assert not first.scoreboard["brier_ci_low"].equals(other_seed.scoreboard["brier_ci_low"])


def test_windows_select_the_right_cohorts() -> None:
    offsets = {0: 1, 1: 2, 29: 3, 30: 4, 89: 5, 364: 6, 365: 7, -1: 8}  # days before as_of -> rows
    rows = []
    for offset, count in offsets.items():
        for i in range(count):
            rows.append(
                {
                    "dt": AS_OF - timedelta(days=offset),
                    "market_id": f"m{offset}_{i}",
                    "event_id": f"e{offset}",
                    "horizon": "1d",
                    "p_yes": 0.3 + 0.01 * i,
                    "y": i % 2,
                }
            )
    board = build_scoreboard(pl.DataFrame(rows), AS_OF, n_boot=5).scoreboard
    n = dict(board.filter(pl.col("segment_type") == "all").select("window", "n").iter_rows())
    assert n == {"1d": 1, "30d": 1 + 2 + 3, "90d": 1 + 2 + 3 + 4 + 5, "365d": 1 + 2 + 3 + 4 + 5 + 6, "all": 28}
    # optional segment columns missing: no category, no volume -> uncategorized / lowest volume bucket; no
    # liquidity_bucket column -> no liquidity rows (its edges are configuration, the scoreboard never guesses them)
    assert set(board.filter(pl.col("segment_type") == "category")["segment"]) == {"uncategorized"}
    assert board.filter(pl.col("segment_type") == "liquidity_bucket").is_empty()
    assert set(board.filter(pl.col("segment_type") == "volume_bucket")["segment"]) == {"<1k"}
    assert set(board.filter(pl.col("segment_type") == "tte_bucket")["segment"]) == {"1d-1w"}
    custom = build_scoreboard(pl.DataFrame(rows), AS_OF, windows={"7d": 7}, n_boot=5).scoreboard
    assert set(custom["window"]) == {"7d"}
    assert custom.filter(pl.col("segment_type") == "all")["n"].to_list() == [1 + 2]


def test_low_confidence_flag(cutoffs: pl.DataFrame) -> None:
    board = build_scoreboard(cutoffs, AS_OF, n_boot=5, min_n=50).scoreboard
    assert board["low_confidence"].to_list() == (board["n"] < 50).to_list()
    assert board["low_confidence"].any()
    assert not board["low_confidence"].all()


def test_empty_input_gives_empty_frames_with_schema(cutoffs: pl.DataFrame) -> None:
    empty = build_scoreboard(cutoffs.clear(), AS_OF)
    assert empty.scoreboard.height == 0
    assert empty.scoreboard.schema == SCOREBOARD_SCHEMA
    assert empty.reliability_bins.schema == RELIABILITY_BINS_SCHEMA
    future_only = build_scoreboard(cutoffs, date(2000, 1, 1))
    assert future_only.scoreboard.height == 0
    assert future_only.reliability_bins.schema == RELIABILITY_BINS_SCHEMA


def test_invalid_rows_raise(cutoffs: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="p_yes"):
        build_scoreboard(cutoffs.with_columns(pl.lit(1.5).alias("p_yes")), AS_OF)
    with pytest.raises(ValueError, match="lack"):
        build_scoreboard(cutoffs.drop("y"), AS_OF)
    with pytest.raises(ValueError, match="window"):
        build_scoreboard(cutoffs, AS_OF, windows={"0d": 0})
