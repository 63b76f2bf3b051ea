"""Benchmark: mca_core.features.build_features (Polars) vs a plain pandas implementation.

Generates ``rows`` synthetic market snapshots with numpy (``rows / points`` markets, ``points``
roughly hourly observations each, a clipped random-walk YES price, one-sided books, cumulative
volume, open interest and end dates with some values missing), presented in the table's key
order (dt, market_id, ts) unless ``--order`` says otherwise. Then, in the same process:

1. times ``build_features`` on all rows (best of ``--repeats``) and reports resident memory
   before and the peak RSS after (``resource.getrusage``);
2. times ``build_features`` (best of ``--repeats``) and the pandas peer (one run) on a sample of
   whole markets with ``--pandas-rows`` rows (default: all rows; the peer needs ~45 s at 10M),
   and checks that both give the same output there (keys, nulls and buckets identical, floats
   within 1e-8 + 1e-9 |x|);
3. prints rows/s for both, the ratio at equal size (goal >= 10x), and the pandas time
   extrapolated linearly to all rows when the peer ran on a sample (stated in the output; pandas
   grows faster than linearly, so the extrapolation flatters it).

The pandas peer computes the same definitions the ordinary pandas way: sort, groupby-shift,
``merge_asof(..., by="market_id")`` for the 1 h / 24 h look-backs and ``groupby().rolling("24h")``
for the volatility window.

Run: .venv/bin/python bench/bench_features.py [rows] [--points N] [--pandas-rows N] [--repeats R]
     [--order key|market|shuffled] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from mca_core.features import FEATURE_COLUMNS, FeatureConfig, build_features
from mca_resources.settings import Settings

CONFIG = FeatureConfig(liquidity=Settings().liquidity_edges())

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
HOUR_US = 3_600_000_000


# ------------------------------------------------------------------------------------ data


def make_snapshots(rows: int, points: int, seed: int, order: str) -> pl.DataFrame:
    """``rows // points`` markets x ``points`` observations (rows rounded down to whole markets).

    Columns are built one at a time and put in the requested order with one numpy permutation,
    so that generating the input does not set the process's peak memory.
    """
    rng = np.random.default_rng(seed)
    n_markets = max(rows // points, 1)
    shape = (n_markets, points)
    start = START_US + rng.integers(0, 30 * 24, n_markets) * HOUR_US
    jitter = rng.integers(0, 20 * 60 * 1_000_000, shape)  # up to 20 min late: hourly but irregular
    ts = start[:, None] + np.arange(points)[None, :] * HOUR_US + jitter
    ts += np.cumsum(rng.random(shape) < 0.05, axis=1) * HOUR_US  # a missed hour now and then
    del jitter
    day = ts // (24 * HOUR_US)
    market = np.repeat(np.arange(n_markets), points)
    if order == "key":  # (dt, market_id, ts): ids below are fixed-width, so string order = index order
        permutation = np.lexsort((ts.ravel(), market, day.ravel()))
    elif order == "shuffled":
        permutation = rng.permutation(n_markets * points)
    else:  # "market": (market_id, ts), as generated
        permutation = np.arange(n_markets * points)

    columns: dict[str, pl.Series] = {}

    def put(name: str, values: np.ndarray[Any, Any], dtype: pl.DataType | type[pl.DataType] | None = None) -> None:
        series = pl.Series(name, values.ravel()[permutation], nan_to_null=True)
        columns[name] = series.cast(dtype) if dtype is not None else series

    put("dt", day, pl.Date)
    put("market_id", market, pl.String)
    columns["market_id"] = ("1" + columns["market_id"].str.zfill(8)).alias("market_id")
    put("ts", ts, pl.Datetime("us", "UTC"))
    p = np.clip(rng.uniform(0.05, 0.95, (n_markets, 1)) + np.cumsum(rng.normal(0, 0.01, shape), axis=1), 0.001, 0.999)
    put("p_yes", p)
    half_spread = rng.uniform(0.0, 0.02, shape)
    put("best_bid", np.where(rng.random(shape) < 0.1, np.nan, np.clip(p - half_spread, 0.0, 1.0)))
    put("best_ask", np.where(rng.random(shape) < 0.1, np.nan, np.clip(p + half_spread, 0.0, 1.0)))
    del p, half_spread
    scale = rng.lognormal(6.0, 2.0, (n_markets, 1))
    volume = np.cumsum(rng.exponential(1.0, shape) * scale, axis=1)
    put("volume_usd", np.where(rng.random(shape) < 0.02, np.nan, volume))
    del volume
    oi = np.abs(scale * 10 + np.cumsum(rng.normal(0, 1.0, shape) * scale, axis=1))
    put("open_interest_usd", np.where(rng.random(shape) < 0.05, np.nan, oi))
    del oi
    put("liquidity_usd", np.where(rng.random(shape) < 0.05, np.nan, rng.lognormal(8.0, 1.5, shape)))
    end = np.broadcast_to(ts[:, -1:] + rng.integers(-48, 24 * 30, (n_markets, 1)) * HOUR_US, shape)
    ended = np.where(rng.random((n_markets, 1)) < 0.1, np.nan, end.astype("float64"))
    put("end_ts", ended)
    columns["end_ts"] = columns["end_ts"].cast(pl.Int64).cast(pl.Datetime("us", "UTC"))
    return pl.DataFrame(columns)


def whole_market_sample(frame: pl.DataFrame, rows: int, points: int) -> pl.DataFrame:
    """The rows of the first ``rows // points`` markets (features need whole market histories)."""
    keep = frame.get_column("market_id").unique().sort().head(max(rows // points, 1))
    return frame.filter(pl.col("market_id").is_in(keep.implode()))


# ------------------------------------------------------------------------------------ pandas peer


def pandas_features(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The definitions of ``mca_core.features`` written the ordinary pandas way."""
    df = snapshots.sort_values(["market_id", "ts"], kind="stable").reset_index(drop=True)
    by_market = df.groupby("market_id", sort=False)

    # vol_24h: std of the steps with both ends in (ts - 24 h, ts]; each step sits at its start time,
    # so they are the steps in the open window (ts - 24 h, ts).
    df["next_step"] = by_market["p_yes"].shift(-1) - df["p_yes"]
    rolled = (
        df.set_index("ts")
        .groupby("market_id", sort=True)["next_step"]
        .rolling("24h", closed="neither", min_periods=2)
        .std()
    )
    df["vol_24h"] = rolled.to_numpy()  # groups sorted by market_id, rows by ts: same order as df

    df["row"] = np.arange(len(df))
    right = df[["market_id", "ts", "p_yes", "volume_usd", "open_interest_usd"]].rename(columns={"ts": "ts_before"})
    right = right.sort_values("ts_before", kind="stable")
    for lag, suffix in ((pd.Timedelta(hours=1), "1h"), (pd.Timedelta(hours=24), "1d")):
        left = df[["row", "market_id", "ts"]].assign(target=df["ts"] - lag).sort_values("target", kind="stable")
        found = pd.merge_asof(
            left,
            right,
            left_on="target",
            right_on="ts_before",
            by="market_id",
            direction="backward",
            allow_exact_matches=True,
            suffixes=("", "_before"),
        ).sort_values("row")
        df[f"p_{suffix}"] = found["p_yes"].to_numpy()
        if suffix == "1d":
            df["volume_1d"] = found["volume_usd"].to_numpy()
            df["oi_1d"] = found["open_interest_usd"].to_numpy()

    out = df[["dt", "market_id", "ts", "p_yes"]].copy()
    out["ret_1h"] = df["p_yes"] - df["p_1h"]
    out["ret_1d"] = df["p_yes"] - df["p_1d"]
    out["vol_24h"] = df["vol_24h"]
    out["volume_velocity"] = (df["volume_usd"] - df["volume_1d"]) / np.maximum(df["volume_1d"], 1.0)
    out["oi_change"] = (df["open_interest_usd"] - df["oi_1d"]) / np.maximum(df["oi_1d"], 1.0)
    out["tte_hours"] = ((df["end_ts"] - df["ts"]).dt.total_seconds() / 3600.0).clip(lower=0.0)
    volume = df["volume_usd"].fillna(0.0)
    out["liquidity_bucket"] = np.select([volume < 10_000, volume < 100_000], ["LOW", "MID"], "HIGH")
    spread = df["best_ask"] - df["best_bid"]
    out["spread"] = spread.where(spread >= 0)
    out["liquidity_usd"] = df["liquidity_usd"]
    return out.sort_values(["dt", "market_id", "ts"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------ checks


def compare(polars_out: pl.DataFrame, pandas_out: pd.DataFrame) -> dict[str, float]:
    """Largest absolute difference per float column; raises when keys, nulls or values disagree.

    Values must agree within 1e-8 + 1e-9 * |value|: pandas' rolling std updates its sums as the
    window slides and drifts by up to ~1e-9, while Polars' ``rolling_std_by`` matches an exact
    two-pass standard deviation to ~1e-17 on these data.
    """
    peer = pl.from_pandas(pandas_out).with_columns(
        pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.col("dt").cast(pl.Date)
    )
    assert polars_out.columns == peer.columns == list(FEATURE_COLUMNS), (polars_out.columns, peer.columns)
    assert polars_out.select("dt", "market_id", "ts").equals(peer.select("dt", "market_id", "ts")), "keys differ"
    assert polars_out["liquidity_bucket"].equals(peer["liquidity_bucket"]), "liquidity_bucket differs"
    worst: dict[str, float] = {}
    for name in FEATURE_COLUMNS:
        if polars_out.schema[name] != pl.Float64:
            continue
        ours, theirs = polars_out[name], peer[name].fill_nan(None)
        assert ours.is_null().equals(theirs.is_null()), f"{name}: nulls differ"
        diff = (ours - theirs).abs()
        largest = diff.max()
        worst[name] = float(largest) if isinstance(largest, float) else 0.0
        too_far = int((diff > 1e-8 + 1e-9 * theirs.abs()).sum())
        assert too_far == 0, f"{name}: {too_far} values differ, largest by {worst[name]}"
    return worst


# ------------------------------------------------------------------------------------ timing


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def current_rss_mb() -> float | None:
    """Resident set size now (MiB), where /proc is available."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--points", type=int, default=1_000, help="observations per market")
    parser.add_argument("--pandas-rows", type=int, default=None, help="run the pandas peer on this many rows")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--order", choices=("key", "market", "shuffled"), default="key")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    snapshots = make_snapshots(args.rows, args.points, args.seed, args.order)
    n = snapshots.height
    print(f"generated {n:,} rows ({n // args.points:,} markets x {args.points}) in {time.perf_counter() - t0:.1f} s")

    gc.collect()
    resident, peak_before = current_rss_mb(), peak_rss_mb()
    polars_s, _ = best_time(lambda: build_features(snapshots, CONFIG), args.repeats)
    polars_peak = peak_rss_mb()
    best = f"best of {args.repeats}"
    print(f"polars  build_features   {n:>12,} rows  {polars_s:8.2f} s  {n / polars_s:>13,.0f} rows/s  ({best})")
    print(
        f"RSS: {resident or float('nan'):,.0f} MiB resident with the input frame before the run; peak "
        f"{peak_before:,.0f} MiB after generating it; peak {polars_peak:,.0f} MiB after build_features"
    )

    sample = snapshots if args.pandas_rows is None else whole_market_sample(snapshots, args.pandas_rows, args.points)
    m = sample.height
    sample_pd = sample.to_pandas()
    polars_sample_s, polars_sample_out = best_time(lambda: build_features(sample, CONFIG), args.repeats)
    pandas_s, pandas_out = best_time(lambda: pandas_features(sample_pd), 1)
    sample_rate = m / polars_sample_s
    print(f"polars  build_features   {m:>12,} rows  {polars_sample_s:8.2f} s  {sample_rate:>13,.0f} rows/s  ({best})")
    print(f"pandas  peer             {m:>12,} rows  {pandas_s:8.2f} s  {m / pandas_s:>13,.0f} rows/s  (one run)")
    worst = compare(polars_sample_out, pandas_out)
    column, largest = max(worst.items(), key=lambda item: item[1])
    print(
        f"check: all {m:,} rows agree (keys, nulls and buckets identical; floats within 1e-8 + 1e-9|x|); "
        f"largest difference {largest:.1e} in {column}"
    )
    print(f"ratio polars/pandas at {m:,} rows: {pandas_s / polars_sample_s:.1f}x (goal >= 10x)")
    if m < n:
        pandas_full_s = pandas_s * n / m
        print(
            f"pandas at {n:,} rows EXTRAPOLATED linearly from its {m:,}-row run: {pandas_full_s:.1f} s; "
            f"ratio vs the measured polars run at {n:,} rows: {pandas_full_s / polars_s:.1f}x"
        )
    print(f"peak RSS of the whole process (pandas peer included): {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
