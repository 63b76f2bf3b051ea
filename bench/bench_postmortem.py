"""Benchmark: 1,000 postmortems with charts, the chart rendering timed apart.

Usage: ``.venv/bin/python bench/bench_postmortem.py [reports]`` (default 1,000).

A synthetic cohort day: ``reports`` resolved markets (a third confidently wrong), each with 768 hourly prices
(32 days, what the graph fetches), five cutoffs, daily volume/open-interest snapshots, a trust history of 7 days
and two alerts; the scoreboard has the day's segments. ``max_others`` is set so every market gets a report.
Timed: the markdown of every report (`build_reports`), the charts (`render_svgs`: the static figure drawn once
per process, each chart's artists alone; 1 and 2 processes), and the atomic file writes (`publish_day`). Peers,
same run, on the first 100 charts: the whole reused figure drawn per chart (`PathChartRenderer.full_svg`, the
previous way) and a fresh figure per chart (`path_svg`, the straightforward way), as ratios.

The machine is shared, so each phase prints its CPU seconds (this process and its pool workers) beside the wall
time, and the load average before and after: on a busy box wall time measures the neighbours as much as the code.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl

from mca_assets.postmortem.files import publish_day
from mca_core.cutoffs import HORIZONS
from mca_core.postmortem import DayInputs, PostmortemConfig, build_reports
from mca_core.postmortem_chart import PathChartRenderer, path_svg, render_svgs

DT = date(2026, 9, 10)
T = TypeVar("T")
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
        .join_asof(
            path.sort("ts"),
            left_on="cutoff_ts",
            right_on="ts",
            by="market_id",
            strategy="backward",
            check_sortedness=False,
        )
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
    components = ("liquidity", "stability", "clarity", "manipulation", "time_to_expiry", "track_record")
    values = rng.uniform(0, 1, (len(components), n * 7))
    effective = np.where(np.array(components)[:, None] == "manipulation", 1 - values, values)
    trust = pl.DataFrame({
        "dt": [DT - timedelta(days=d) for _ in ids for d in range(7)], "market_id": np.repeat(ids, 7),
        "trust_score": rng.uniform(30, 90, n * 7), "low_confidence": False,
        **dict(zip(components, values, strict=True)),
        "weakest_component": np.array(components)[effective.argmin(axis=0)],
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


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    """``work()``, its wall seconds and the CPU seconds of this process and of the children it waited for."""

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    result = work()
    return result, time.perf_counter() - wall, cpu() - used


def main(n: int) -> None:
    load_before = os.getloadavg()
    inputs = synthetic_day(n)
    config = PostmortemConfig(max_others=n)
    reports, t_md, c_md = timed(lambda: build_reports(inputs, config))
    charts = [r.chart for r in reports if r.chart is not None]
    svgs, t_chart1, c_chart1 = timed(lambda: render_svgs(charts, workers=1))
    svgs2, t_chart2, c_chart2 = timed(lambda: render_svgs(charts, workers=2))
    assert svgs == svgs2
    peer = charts[:100]
    renderer = PathChartRenderer()
    full, _, c_full = timed(lambda: [renderer.full_svg(chart) for chart in peer])
    fresh, _, c_fresh = timed(lambda: [path_svg(chart) for chart in peer])
    assert full == fresh == svgs[: len(peer)]
    files = {f"{r.stem}.svg": s.encode() for r, s in zip(reports, svgs, strict=True)}
    files |= {f"{r.stem}.md": r.markdown.encode() for r in reports}
    with tempfile.TemporaryDirectory() as tmp:
        _, t_write, c_write = timed(lambda: publish_day(Path(tmp), DT, files))
    per_chart = 1000 * c_chart1 / len(charts)
    wrong = sum(r.reason == "confidently_wrong" for r in reports)
    print(f"{len(reports)} reports ({wrong} confidently wrong), {len(charts)} charts, {os.cpu_count()} cores")
    print(f"load average before: {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f}")
    print("phase                              wall s    CPU s")
    per_report = 1000 * c_md / len(reports)
    print(f"markdown (build_reports):         {t_md:7.2f}  {c_md:7.2f}  ({per_report:.1f} ms CPU/report)")
    print(f"charts, 1 process:                {t_chart1:7.2f}  {c_chart1:7.2f}  ({per_chart:.1f} ms CPU/chart)")
    print(f"charts, 2 processes:              {t_chart2:7.2f}  {c_chart2:7.2f}")
    print(f"atomic file writes:               {t_write:7.2f}  {c_write:7.2f}")
    print(f"total, charts in 1 process:       {t_md + t_chart1 + t_write:7.2f}  {c_md + c_chart1 + c_write:7.2f}")
    print(f"total, charts on 2 processes:     {t_md + t_chart2 + t_write:7.2f}  {c_md + c_chart2 + c_write:7.2f}")
    print(f"peer: whole reused figure drawn:  {10 * c_full:7.1f} ms CPU/chart (static-once is "
          f"{10 * c_full / per_chart:.2f}x less CPU)")  # fmt: skip
    print(f"peer: fresh figure per chart:     {10 * c_fresh:7.1f} ms CPU/chart ({10 * c_fresh / per_chart:.2f}x)")
    load_after = os.getloadavg()
    print(f"load average after:  {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
