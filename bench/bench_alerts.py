"""Benchmark: ``mca_core.alerts.evaluate_rules`` (Polars) vs the pandas row-wise peer (``alerts_reference``).

Synthetic world (numpy, seeded): ``markets`` live markets × ``points`` five-minute prices (a random walk with
jumps), a forecast issue every 5 minutes with six hourly steps per market, hourly structure signals and one
trust row per market. Times ``evaluate_rules`` on all of it (best of ``--repeats``) and the pandas peer (one
run) on the first ``--pandas-markets`` markets, checks both give the same alert ids there, and prints points/s
of both and their ratio at equal size (goal >= 20x).

Run: .venv/bin/python bench/bench_alerts.py [--markets 20000] [--points 288] [--pandas-markets 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
from alerts_reference import reference_alerts

from mca_core.alert_params import AlertConfig
from mca_core.alerts import evaluate_rules

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def world(markets: int, points: int, seed: int = 1) -> tuple[pl.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"m{i:05d}" for i in range(markets)])
    step = np.timedelta64(5, "m")
    grid = np.datetime64(T0.replace(tzinfo=None), "us") + np.arange(points) * step
    moves = rng.normal(0, 0.01, (markets, points)) + (rng.random((markets, points)) < 0.002) * rng.normal(0, 0.15)
    p = np.clip(0.5 + np.cumsum(moves, axis=1), 0.01, 0.99)
    pts = pl.DataFrame({"market_id": np.repeat(ids, points), "ts": np.tile(grid, markets), "p_yes": p.ravel()})
    pts = pts.with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    lag = np.concatenate([p[:, :1], p[:, :-1]], axis=1)  # the band is centred on the price before the issue
    width = rng.uniform(0.03, 0.08, (markets, 1)) * np.ones((1, points))
    issues = pts.select(
        "market_id", pl.col("ts").alias("as_of_ts"), pl.Series("level", lag.ravel()), pl.Series("w", width.ravel())
    )
    bands = pl.concat(
        [
            issues.select(
                "market_id", "as_of_ts", (pl.col("as_of_ts") + timedelta(hours=k)).alias("ts"),
                (pl.col("level") - pl.col("w") * np.sqrt(k)).alias("q10"), pl.col("level").alias("q50"),
                (pl.col("level") + pl.col("w") * np.sqrt(k)).alias("q90"),
            )
            for k in range(1, 7)
        ]
    )  # fmt: skip
    hourly = pts.filter(pl.col("ts").dt.minute() == 0).select("market_id", "ts")
    structure = hourly.with_columns(
        pl.Series("oi_change", rng.normal(0, 0.12, hourly.height)),
        pl.Series("volume_velocity", rng.exponential(1.0, hourly.height)),
    )
    trust = pl.DataFrame({
        "market_id": ids, "dt": date(2026, 5, 31), "trust_score": rng.uniform(40, 100, markets),
        "clarity": rng.uniform(0.4, 1.0, markets), "low_confidence": rng.random(markets) < 0.2,
    })  # fmt: skip
    return pts, bands, structure, trust


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=288)
    parser.add_argument("--pandas-markets", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pts, bands, structure, trust = world(args.markets, args.points)
    config = AlertConfig()
    best = float("inf")
    for _ in range(args.repeats):
        started = time.perf_counter()
        alerts = evaluate_rules(pts, bands, structure, trust, config)
        best = min(best, time.perf_counter() - started)
    print(f"polars: {pts.height:,} points, {bands.height:,} band rows -> {alerts.height:,} alerts in {best:.2f} s "
          f"({pts.height / best:,.0f} points/s)")  # fmt: skip
    sample = pl.Series([f"m{i:05d}" for i in range(min(args.pandas_markets, args.markets))])
    frames = [f.filter(pl.col("market_id").is_in(sample.implode())) for f in (pts, bands, structure, trust)]
    started = time.perf_counter()
    ours = evaluate_rules(*frames, config)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    ref = reference_alerts(*(f.to_pandas() for f in frames), config)
    ref_s = time.perf_counter() - started
    same = ours["alert_id"].to_list() == ref["alert_id"].tolist()
    n = frames[0].height
    print(f"sample of {sample.len()} markets ({n:,} points): polars {ours_s:.3f} s, pandas row-wise {ref_s:.2f} s, "
          f"same alerts: {same} ({ours.height})")  # fmt: skip
    print(f"ratio at equal size: {ref_s / ours_s:.0f}x; polars on all points vs pandas per point: "
          f"{(ref_s / n) / (best / pts.height):.0f}x (goal >= 20x)")  # fmt: skip


if __name__ == "__main__":
    main()
