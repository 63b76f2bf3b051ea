"""Benchmark and validation of the trust score (issue 14); the figures go to docs/trust.md.

Part 1, speed: ``mca_core.trust.trust_scores`` on ``markets`` synthetic live markets x 24 hourly points (random
walks with pumps, volume bursts, some missing inputs) against the pandas row-wise peer: the same formulas, one
market at a time (``tests/trust_reference.py`` applied through ``DataFrame.groupby(...).apply``), in the same
process. Each side runs in its own spawned child so that its peak RSS (``VmHWM``) is its own; the vectorised side
is timed best of ``--repeats``, the peer once. Both outputs are compared (scores within 1e-9).

Part 2, validation (``--world``): a sandbox world on loopback (``--seed``, ``--world-markets``; the tests use seed
7 and 300 markets, the defaults here are another seed and more markets, i.e. data the defaults were not tuned
on), scored every day of Aug-Oct 2026 as ``tests/trustworld.py`` does, and prints: the AUC of (100 - trust) for
"the market has a pump-and-revert or wash episode that day" (market-clustered bootstrap 95 % interval), the
clarity rules' precision and recall against the truth's clarity flag (Wilson intervals), and the Brier score at
1d of resolved markets by quintile of their trust on the day before resolution (market bootstrap intervals).

Run: .venv/bin/python bench/bench_trust.py [--markets 20000] [--repeats 3] [--world] [--seed 11]
     [--world-markets 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = datetime(2026, 10, 2, tzinfo=UTC)


def synthetic(markets: int, seed: int = 0) -> dict[str, pl.DataFrame]:
    """Markets, 24 hourly points each, clarity and segment records; about 3 % of markets have a pump."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"m{i:06d}" for i in range(markets)])
    hours = 24
    steps = rng.normal(0.0, rng.choice([0.002, 0.01, 0.03], markets)[:, None], (markets, hours))
    p = np.clip(rng.uniform(0.05, 0.95, markets)[:, None] + np.cumsum(steps, axis=1), 0.0, 1.0)
    pumped = rng.random(markets) < 0.03
    bump = np.zeros(hours)
    bump[10:15] = [0.04, 0.08, 0.12, 0.08, 0.04]
    p[pumped] = np.clip(p[pumped] + bump, 0.0, 1.0)
    rate = rng.lognormal(5.0, 1.5, markets)[:, None]
    increments = rate * rng.gamma(2.0, 0.5, (markets, hours))
    increments[pumped, 10:15] += 8 * rate[pumped]
    volume = np.cumsum(increments, axis=1)
    oi = np.maximum(rng.lognormal(7.0, 1.0, markets)[:, None] + np.cumsum(rng.normal(0, 30, (markets, hours)), 1), 0)
    naive = AS_OF.replace(tzinfo=None)
    ts = np.array([naive - timedelta(hours=hours - 1 - h) for h in range(hours)], dtype="datetime64[us]")
    no_volume = rng.random(markets) < 0.05
    hourly = pl.DataFrame(
        {
            "market_id": np.repeat(ids, hours),
            "ts": np.tile(ts, markets),
            "p_yes": np.round(p, 3).ravel(),
            "volume_usd": np.where(no_volume[:, None], np.nan, volume).ravel(),
            "open_interest_usd": oi.ravel(),
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"), pl.col("volume_usd").fill_nan(None))
    categories = np.array(["politics", "sports", "crypto", "economics"])
    buckets = np.array(["LOW", "MID", "HIGH"])
    frame = pl.DataFrame(
        {
            "market_id": ids,
            "category": categories[rng.integers(0, 4, markets)],
            "liquidity_bucket": buckets[rng.integers(0, 3, markets)],
            "volume_24h": np.where(rng.random(markets) < 0.05, np.nan, volume[:, -1] - volume[:, 0]),
            "liquidity_usd": np.where(rng.random(markets) < 0.1, np.nan, rng.lognormal(8, 2, markets)),
            "spread": np.where(rng.random(markets) < 0.1, np.nan, rng.uniform(0.001, 0.2, markets)),
            "end_ts": [AS_OF + timedelta(hours=float(h)) for h in rng.uniform(1, 2000, markets)],
        }
    ).with_columns(pl.col(c).fill_nan(None) for c in ("volume_24h", "liquidity_usd", "spread"))
    clarity = pl.DataFrame(
        {
            "market_id": ids,
            "clarity": np.where(rng.random(markets) < 0.02, np.nan, rng.choice([1.0, 0.7, 0.49], markets)),
            "clarity_reasons": [[] for _ in range(markets)],
        },
        schema_overrides={"clarity_reasons": pl.List(pl.String)},
    ).with_columns(pl.col("clarity").fill_nan(None))
    record = pl.DataFrame(
        [(c, b, int(rng.integers(0, 400)), float(rng.uniform(0.05, 0.3))) for c in categories[:3] for b in buckets],
        schema={"category": pl.String, "liquidity_bucket": pl.String, "n": pl.Int64, "brier": pl.Float64},
        orient="row",
    )
    return {"markets": frame, "hourly": hourly, "clarity": clarity, "record": record}


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _vectorised(markets: int, repeats: int) -> dict[str, Any]:
    from mca_core.trust import trust_scores
    from mca_resources.trust_config import DEFAULT_TRUST_CONFIG

    data = synthetic(markets)
    base = _rss_mib()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = trust_scores(
            data["markets"], data["hourly"], data["clarity"], data["record"], AS_OF, DEFAULT_TRUST_CONFIG
        )
        best = min(best, time.perf_counter() - start)
    return {"seconds": best, "rss_before": base, "peak": _peak_mib(), "scores": out["trust_score"].to_list()}


def _pandas_peer(markets: int) -> dict[str, Any]:
    from mca_resources.trust_config import DEFAULT_TRUST_CONFIG
    from tests.trust_reference import Point, reference_trust

    data = synthetic(markets)
    frames = {name: frame.to_pandas() for name, frame in data.items()}
    base = _rss_mib()
    start = time.perf_counter()
    clarity = frames["clarity"].set_index("market_id")["clarity"]
    records = {(r.category, r.liquidity_bucket): (r.n, r.brier) for r in frames["record"].itertuples()}
    market_rows = frames["markets"].set_index("market_id")

    def one(points) -> float:  # type: ignore[no-untyped-def]
        market_id = points.name
        row = market_rows.loc[market_id]
        market = {name: (None if (value is None or value != value) else value) for name, value in row.items()}
        market["end_ts"] = row["end_ts"].to_pydatetime()
        path = [
            Point(r.ts.to_pydatetime(), r.p_yes, None if r.volume_usd != r.volume_usd else r.volume_usd,
                  None if r.open_interest_usd != r.open_interest_usd else r.open_interest_usd)
            for r in points.itertuples()
        ]  # fmt: skip
        c = clarity.loc[market_id]
        result = reference_trust(
            market,
            path,
            None if c != c else float(c),
            records.get((market["category"], market["liquidity_bucket"])),
            AS_OF,
            DEFAULT_TRUST_CONFIG,
        )
        return float(result["trust_score"])

    scores = frames["hourly"].groupby("market_id", sort=True).apply(one, include_groups=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before": base, "peak": _peak_mib(), "scores": scores.tolist()}


def _in_child(target: str, *args: object) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(globals()[target], args)


def speed(markets: int, repeats: int) -> None:
    fast = _in_child("_vectorised", markets, repeats)
    peer = _in_child("_pandas_peer", markets)
    diff = float(np.max(np.abs(np.array(fast["scores"]) - np.array(peer["scores"]))))
    print(f"trust for {markets:,} markets x 24 hourly points")
    print(
        f"  polars   {fast['seconds']:.3f} s  ({markets / fast['seconds']:,.0f} markets/s)  "
        f"RSS {fast['rss_before']:.0f} MiB -> peak {fast['peak']:.0f} MiB"
    )
    print(
        f"  pandas   {peer['seconds']:.3f} s  ({markets / peer['seconds']:,.0f} markets/s)  "
        f"RSS {peer['rss_before']:.0f} MiB -> peak {peer['peak']:.0f} MiB"
    )
    print(f"  ratio    {peer['seconds'] / fast['seconds']:.1f}x (goal >= 20x); max |score difference| {diff:.2e}")


def validation(seed: int, markets: int) -> None:
    from mca_resources.trust_config import DEFAULT_TRUST_CONFIG
    from tests import trustworld as tw
    from tests.conftest import start_sandbox

    sandbox = start_sandbox(markets=markets, seed=seed)
    try:
        world = tw.read_world(sandbox.base)
    finally:
        sandbox.stop()
    days = [date(2026, 8, 1) + timedelta(days=i) for i in range(92)]
    scores = tw.score_days(world, days, DEFAULT_TRUST_CONFIG)
    auc, positives, negatives = tw.manipulation_auc(world, scores)
    precision, recall = tw.clarity_precision_recall(world)
    print(f"sandbox seed {seed}, {markets} markets, {len(days)} days: {scores.height:,} market-days scored")
    print(f"  manipulation AUC of (100 - trust): {auc}  ({positives} episode days, {negatives:,} others; goal 0.85)")
    print(f"  clarity precision {precision}  recall {recall}  (goal 0.85 each)")
    print("  Brier at 1d by trust quintile on the day before resolution (1 = lowest trust):")
    for q, (n, brier) in enumerate(tw.brier_by_quintile(world, scores), start=1):
        print(f"    Q{q}  n={n:4d}  {brier}")
    print(f"  low-confidence share {scores['low_confidence'].mean():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--world", action="store_true", help="also run the validation on a sandbox world")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--world-markets", type=int, default=2000)
    args = parser.parse_args()
    speed(args.markets, args.repeats)
    if args.world:
        validation(args.seed, args.world_markets)


if __name__ == "__main__":
    main()
