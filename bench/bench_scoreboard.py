"""Benchmark: ``build_scoreboard`` against a pandas + scikit-learn reference computing the same numbers.

Usage: ``.venv/bin/python bench/bench_scoreboard.py [rows]`` (default 1,000,000 resolved rows).

Synthetic ``core.cutoff_snapshots`` rows: ~rows/5 markets in ~rows/15 events, 5 horizons, 8
categories, log-uniform volume, cohorts over 400 days, prices on a 0.001 tick. Both sides compute
every (window, horizon, segment_type, segment) group with ``n_boot`` = 200; the reference uses
a pandas groupby for brier/log loss/counts, sklearn ``brier_score_loss``/``log_loss``, an
unpenalised sklearn ``LogisticRegression`` for slope/intercept, numpy equal-mass bins for ECE/Murphy
and an event Poisson bootstrap per group (the weight table of every event is built once, from the
specification in ``mca_core.metrics.poisson_weights`` reimplemented here, and gathered per group).
The builder runs three times first (the first run is reported as "cold", the best of the other two as "warm"),
then the reference once (~40 s, long enough to be its own warm-up). The script prints rows/s of both, the ratios,
and the largest absolute differences between the two outputs.

Then the BLAS-threads figure (issue 12): the builder with BLAS capped at 1 thread (what the code location sets,
``MCA_BLAS_THREADS``) and at 2, each quiet and with another process spinning on one core, best of two each.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss

from mca_core.cutoffs import HORIZONS
from mca_core.scoreboard import DEFAULT_WINDOWS, build_scoreboard
from mca_core.segments import liquidity_bucket, tte_bucket, volume_bucket
from mca_resources.settings import Settings
from mca_resources.threads import limit_blas_threads

EDGES = Settings().liquidity_edges()

AS_OF = date(2026, 2, 4)
N_BOOT = 200
SEED = 0
CATEGORIES = ["politics", "sports", "crypto", "pop-culture", "science", "economics", "world", "tech"]


def synth(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n_markets = max(1, rows // 5)
    horizons = np.array(list(HORIZONS))
    market = np.repeat(np.arange(n_markets), 5)[:rows]
    h = np.tile(np.arange(5), n_markets)[:rows]
    event = rng.integers(0, max(1, n_markets // 3), n_markets)
    truth = rng.beta(0.7, 0.7, n_markets)
    y = (rng.uniform(size=n_markets) < truth).astype(np.int8)
    day = rng.integers(0, 400, n_markets)
    volume = np.exp(rng.uniform(3.0, 16.0, n_markets))
    cat = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), n_markets)]
    p = np.round(np.clip(truth[market] + rng.normal(0.0, 0.2, rows) / (1 + h), 0.0, 1.0), 3)
    return pl.DataFrame(
        {
            "_day": day[market],
            "market_id": market,
            "event_id": event[market],
            "horizon": horizons[h],
            "p_yes": p,
            "y": y[market],
            "category": cat[market],
            "volume_usd": volume[market],
        }
    ).select(
        (pl.lit(AS_OF) - pl.duration(days=pl.col("_day"))).cast(pl.Date).alias("dt"),
        pl.col("market_id").cast(pl.String),
        pl.col("event_id").cast(pl.String),
        "horizon",
        "p_yes",
        "y",
        "category",
        liquidity_bucket("volume_usd", EDGES),
        "volume_usd",
    )


def reference(frame: pl.DataFrame) -> pd.DataFrame:
    """The same scoreboard with pandas groupby + sklearn + numpy; no code shared with the builder."""
    df = frame.with_columns(
        volume_bucket("volume_usd"),
        tte_bucket(pl.col("horizon").replace_strict(HORIZONS, return_dtype=pl.Int64)),
    ).to_pandas()
    events = sorted(df["event_id"].astype(str).unique())
    weights = pd.DataFrame(_ref_poisson(events), index=events)
    df["all"] = "all"
    df["category"] = df["category"].fillna("uncategorized")
    out = []
    for window, days in DEFAULT_WINDOWS.items():
        mask = df["dt"] <= pd.Timestamp(AS_OF)
        if days is not None:
            mask &= df["dt"] > pd.Timestamp(AS_OF - timedelta(days=days))
        sub = df[mask]
        for segment_type in ("all", "category", "liquidity_bucket", "tte_bucket", "volume_bucket"):
            for (horizon, segment), g in sub.groupby(["horizon", segment_type], sort=True):
                out.append(
                    {"window": window, "horizon": horizon, "segment_type": segment_type, "segment": segment}
                    | _reference_group(g, weights)
                )
    return pd.DataFrame(out)


_CDF = np.cumsum([np.exp(-1.0) / math.factorial(i) for i in range(24)])
_U64 = np.uint64


def _mix(x: np.ndarray) -> np.ndarray:
    z = x + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _ref_poisson(events: list[str]) -> np.ndarray:
    keys = np.array(
        [
            int.from_bytes(hashlib.blake2b(f"cluster\x1f{e}".encode(), digest_size=8).digest(), "big") >> 1
            for e in events
        ],
        dtype=np.uint64,
    )
    streams = _mix(_U64(SEED) ^ np.arange(N_BOOT, dtype=np.uint64) * _U64(0x9E3779B97F4A7C15))
    u = (_mix(keys[:, None] ^ streams[None, :]) >> _U64(11)).astype(float) * 2.0**-53
    return np.searchsorted(_CDF, u, side="right").astype(float)


def _reference_group(g: pd.DataFrame, weights: pd.DataFrame) -> dict[str, float]:
    p = g["p_yes"].to_numpy()
    y = g["y"].to_numpy().astype(float)
    n = len(p)
    row: dict[str, float] = {"n": n, "brier": brier_score_loss(y, p)}
    row["log_loss"] = log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])
    # equal-mass bins, ties kept together (same definition as metrics.equal_mass_bins)
    k = min(10, n)
    rank = pd.Series(p).rank(method="min").to_numpy().astype(np.int64) - 1
    bins = pd.Series((rank * k) // n).rank(method="dense").to_numpy().astype(np.int64) - 1
    tab = (
        pd.DataFrame({"b": bins, "p": p, "y": y}).groupby("b").agg(nk=("p", "size"), pb=("p", "mean"), ob=("y", "mean"))
    )
    share = tab["nk"] / n
    ybar = y.mean()
    row["ece"] = float((share * (tab["ob"] - tab["pb"]).abs()).sum())
    row["reliability"] = float((share * (tab["pb"] - tab["ob"]) ** 2).sum())
    row["resolution"] = float((share * (tab["ob"] - ybar) ** 2).sum())
    row["uncertainty"] = ybar * (1 - ybar)
    corr = np.where(tab["nk"] > 1, tab["ob"] * (1 - tab["ob"]) / (tab["nk"] - 1).clip(lower=1), 0.0)
    row["ece_debiased"] = float(np.sqrt(max(0.0, float((share * ((tab["pb"] - tab["ob"]) ** 2 - corr)).sum()))))
    x = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    row["slope"] = row["intercept"] = np.nan
    if 0 < y.sum() < n and x.min() < x.max():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr = LogisticRegression(C=np.inf, max_iter=200).fit(x[:, None], y)
        row["slope"], row["intercept"] = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    # event bootstrap: each event enters each replicate k ~ Poisson(1) times (counter-based, as specified in
    # mca_core.metrics.poisson_weights, reimplemented here)
    ev = g.assign(sq=(g["p_yes"] - g["y"]) ** 2).groupby("event_id", sort=True)["sq"].agg(["sum", "size"])
    k = weights.loc[ev.index.astype(str)].to_numpy()
    top, bottom = ev["sum"].to_numpy() @ k, ev["size"].to_numpy().astype(float) @ k
    row["brier_ci_low"], row["brier_ci_high"] = np.quantile(top / bottom, [0.025, 0.975])
    return row


def _spin(stop: float) -> None:
    while time.perf_counter() < stop:
        pass


def blas_threads_figure(frame: pl.DataFrame) -> None:
    """Best of two builder runs per (BLAS threads, another process busy or not)."""
    import multiprocessing

    for threads in (1, 2):
        limit_blas_threads(threads)
        for loaded in (False, True):
            hog = None
            if loaded:
                hog = multiprocessing.get_context("spawn").Process(target=_spin, args=(time.perf_counter() + 600,))
                hog.start()
            try:
                best = math.inf
                for _ in range(2):
                    t0 = time.perf_counter()
                    build_scoreboard(frame, AS_OF, n_boot=N_BOOT, seed=SEED)
                    best = min(best, time.perf_counter() - t0)
            finally:
                if hog is not None:
                    hog.terminate()
                    hog.join()
            state = "one core busy" if loaded else "quiet"
            print(f"BLAS threads {threads}, {state:13s}: {best:6.2f} s")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    limit_blas_threads(Settings().blas_threads)  # as in a run
    frame = synth(rows)
    build_scoreboard(frame.head(2000), AS_OF, n_boot=N_BOOT)  # warm-up
    # ours first (the reference leaves BLAS/OpenMP worker threads spinning that slow a multithreaded run after it):
    # the first full-size run (cold: page faults of ~1 GB of fresh arrays) and the best of two more (warm)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = build_scoreboard(frame, AS_OF, n_boot=N_BOOT, seed=SEED)
        times.append(time.perf_counter() - t0)
    cold, ours = times[0], min(times[1:])
    t0 = time.perf_counter()
    ref = reference(frame)
    theirs = time.perf_counter() - t0

    keys = ["window", "horizon", "segment_type", "segment"]
    joined = result.scoreboard.to_pandas().merge(ref, on=keys, suffixes=("", "_ref"), validate="one_to_one")
    print(
        f"rows: {rows:,}  groups: {result.scoreboard.height} (reference {len(ref)})"
        f"  bins: {result.reliability_bins.height}"
    )
    print(f"build_scoreboard : {ours:8.2f} s  {rows / ours:12,.0f} rows/s (warm; first run {cold:.2f} s)")
    print(f"pandas+sklearn   : {theirs:8.2f} s  {rows / theirs:12,.0f} rows/s")
    print(f"ratio            : {theirs / ours:8.1f}x warm, {theirs / cold:.1f}x first run (goal >= 10x)")
    assert len(joined) == result.scoreboard.height == len(ref), "group sets differ"
    assert (joined["n"] == joined["n_ref"]).all(), "counts differ"
    for name in (
        "brier",
        "log_loss",
        "ece",
        "ece_debiased",
        "reliability",
        "resolution",
        "uncertainty",
        "slope",
        "intercept",
        "brier_ci_low",
        "brier_ci_high",
    ):
        a, b = joined[name].to_numpy(dtype=float), joined[f"{name}_ref"].to_numpy(dtype=float)
        # tiny / separated groups: sklearn returns huge unconverged coefficients where we return NaN
        both = np.isfinite(a) & np.isfinite(b) & ~joined["low_confidence"].to_numpy()
        nan_mismatch = int((np.isfinite(a) != np.isfinite(b)).sum())
        diff = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
        print(f"  max |diff| {name:14s} {diff:.3e}  (NaN mismatches: {nan_mismatch})")
    blas_threads_figure(frame)


if __name__ == "__main__":
    main()
