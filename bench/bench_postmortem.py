"""Benchmark: 1,000 postmortems with charts, the chart rendering timed apart.

Usage: ``.venv/bin/python bench/bench_postmortem.py [reports]`` (default 1,000).

A synthetic cohort day: ``reports`` resolved markets (a third confidently wrong), each with 768 hourly prices
(32 days, what the graph fetches), five cutoffs, daily volume/open-interest snapshots, a trust history of 7 days
and two alerts; the scoreboard has the day's segments. ``max_others`` is set so every market gets a report.
Timed: the markdown of every report (`build_reports`), the charts with one reused figure per process
(`render_svgs`, 1 and 2 processes), and the atomic file writes (`publish_day`). Peer, same run: a fresh
matplotlib figure per chart (`path_svg`, the straightforward way) on the first 100 charts, as a ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from mca_assets.postmortem.files import publish_day
from mca_core.cutoffs import HORIZONS
from mca_core.postmortem import DayInputs, PostmortemConfig, build_reports
from mca_core.postmortem_chart import path_svg, render_svgs

DT = date(2026, 9, 10)
UTC_US = pl.Datetime("us", "UTC")


def synthetic_day(n: int, seed: int = 7) -> DayInputs:
    rng = np.random.default_rng(seed)
    ids = [f"m{i:05d}" for i in range(n)]
    resolved = [datetime(2026, 9, 10, 1, tzinfo=UTC) + timedelta(minutes=int(m)) for m in rng.integers(0, 1380, n)]
    y = rng.integers(0, 2, n)
    hours = 768
    steps = rng.normal(0, 0.02, (n, hours)).cumsum(axis=1)
    p = np.clip(0.5 + steps, 0.01, 0.99).round(3)
    path = pl.DataFrame({
        "market_id": np.repeat(ids, hours),
        "ts": [r - timedelta(hours=hours - h) for r in resolved for h in range(hours)],
        "p": p.ravel(),
    }, schema_overrides={"ts": UTC_US})  # fmt: skip
    resolutions = pl.DataFrame({
        "dt": DT, "market_id": ids, "event_id": [f"e{i // 3}" for i in range(n)], "resolved_ts": resolved,
        "label": np.where(y == 1, "RESOLVED_TRUE", "RESOLVED_FALSE"), "y": y, "category": "politics",
        "liquidity_bucket": "HIGH", "volume_usd": rng.lognormal(10, 2, n),
    }, schema_overrides={"resolved_ts": UTC_US})  # fmt: skip
    cutoffs = (
        resolutions.select("market_id", "resolved_ts", "y")
        .join(pl.DataFrame({"horizon": list(HORIZONS), "seconds": list(HORIZONS.values())}), how="cross")
        .with_columns((pl.col("resolved_ts") - pl.duration(seconds=pl.col("seconds"))).alias("cutoff_ts"))
        .sort("cutoff_ts")
        .join_asof(path.sort("ts"), left_on="cutoff_ts", right_on="ts", by="market_id", strategy="backward")
        .with_columns(
            pl.lit(DT).alias("dt"),
            pl.col("p").alias("p_yes"),
            pl.col("ts").alias("snapshot_ts"),
            (pl.col("cutoff_ts") - pl.col("ts")).dt.total_seconds().alias("staleness_seconds"),
        )
        .drop_nulls("p_yes")
        .select("dt", "market_id", "horizon", "cutoff_ts", "snapshot_ts", "p_yes", "staleness_seconds", "y")
    )
    # make a third confidently wrong at 1d
    wrong = {m for i, m in enumerate(ids) if i % 3 == 0}
    cutoffs = cutoffs.with_columns(
        pl.when(pl.col("market_id").is_in(wrong) & (pl.col("horizon") == "1d")).then(0.95 - 0.9 * pl.col("y"))
        .otherwise(pl.col("p_yes")).alias("p_yes")
    )  # fmt: skip
    days = range(8)
    snapshots = pl.DataFrame({
        "market_id": np.repeat(ids, len(days)),
        "ts": [datetime(2026, 9, 10, tzinfo=UTC) - timedelta(days=d) for _ in ids for d in days],
        "volume_usd": rng.lognormal(9, 1, n * len(days)), "open_interest_usd": rng.lognormal(8, 1, n * len(days)),
    }, schema_overrides={"ts": UTC_US}).sort("market_id", "ts")  # fmt: skip
    trust = pl.DataFrame({
        "dt": [DT - timedelta(days=d) for _ in ids for d in range(7)], "market_id": np.repeat(ids, 7),
        "trust_score": rng.uniform(30, 90, n * 7), "low_confidence": False,
        **{c: rng.uniform(0, 1, n * 7) for c in ("liquidity", "stability", "clarity", "manipulation",
                                                 "time_to_expiry", "track_record")},
        "clarity_reasons": [["no_time_zone"]] * (n * 7),
    })  # fmt: skip
    alerts = pl.DataFrame({
        "alert_id": [f"a{i}" for i in range(2 * n)], "dt": DT, "market_id": np.repeat(ids, 2),
        "ts": [r - timedelta(hours=h) for r in resolved for h in (30, 3)], "source": "rule", "severity": "MED",
        "reason_codes": [["BAND_BREACH"]] * (2 * n), "evidence": "{}", "message": "price outside band",
    }, schema_overrides={"ts": UTC_US})  # fmt: skip
    scoreboard = pl.DataFrame(
        [(DT, "90d", h, st, seg, 400, 300, 0.12, 0.1, 0.14, 0.4, 0.02, 0.95, 0.0, False)
         for h in HORIZONS for st, seg in (("all", "all"), ("category", "politics"), ("liquidity_bucket", "HIGH"))],
        schema=["dt", "window", "horizon", "segment_type", "segment", "n", "n_events", "brier", "brier_ci_low",
                "brier_ci_high", "log_loss", "ece", "slope", "intercept", "low_confidence"], orient="row",
    )  # fmt: skip
    markets = resolutions.select("market_id", "event_id", pl.format("Will {} happen?", "market_id").alias("question"),
                                 pl.lit(True).alias("neg_risk"), pl.lit(0.0).alias("p_yes"), "label")  # fmt: skip
    return DayInputs(dt=DT, resolutions=resolutions, cutoffs=cutoffs, markets=markets, path=path,
                     snapshots=snapshots, features=None, scoreboard=scoreboard, bands=None, trust=trust,
                     alerts=alerts)  # fmt: skip


def main(n: int) -> None:
    inputs = synthetic_day(n)
    config = PostmortemConfig(max_others=n)
    t0 = time.perf_counter()
    reports = build_reports(inputs, config)
    t_md = time.perf_counter() - t0
    charts = [r.chart for r in reports if r.chart is not None]
    t0 = time.perf_counter()
    svgs = render_svgs(charts)
    t_chart1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    svgs2 = render_svgs(charts, workers=2)
    t_chart2 = time.perf_counter() - t0
    assert svgs == svgs2
    peer = charts[:100]
    t0 = time.perf_counter()
    for chart in peer:
        path_svg(chart)
    t_peer = (time.perf_counter() - t0) / len(peer)
    files = {f"{r.stem}.svg": s.encode() for r, s in zip(reports, svgs, strict=True)}
    files |= {f"{r.stem}.md": r.markdown.encode() for r in reports}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        publish_day(Path(tmp), DT, files)
        t_write = time.perf_counter() - t0
    wrong = sum(r.reason == "confidently_wrong" for r in reports)
    print(f"{len(reports)} reports ({wrong} confidently wrong), {len(charts)} charts")
    print(f"markdown (build_reports):        {t_md:7.2f} s  ({1000 * t_md / len(reports):.1f} ms/report)")
    print(f"charts, 1 process (reused fig):  {t_chart1:7.2f} s  ({1000 * t_chart1 / len(charts):.1f} ms/chart)")
    print(f"charts, 2 processes:             {t_chart2:7.2f} s")
    print(f"peer: fresh figure per chart:    {1000 * t_peer:7.1f} ms/chart  "
          f"(reused figure is {t_peer / (t_chart1 / len(charts)):.2f}x faster)")  # fmt: skip
    print(f"atomic file writes:              {t_write:7.2f} s")
    print(f"total, 1 process:                {t_md + t_chart1 + t_write:7.2f} s")
    print(f"total, charts on 2 processes:    {t_md + t_chart2 + t_write:7.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
