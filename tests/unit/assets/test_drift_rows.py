"""Drift rows of a day: a base-rate shift and a coverage collapse fire; stable data does not."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from mca_assets.calibration.drift import drift_rows
from mca_resources.settings import Settings

THRESHOLDS = Settings().drift_thresholds()

AS_OF = date(2026, 10, 31)


def cutoffs(base_rates: list[float], seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    per_window = 90 // len(base_rates)
    for w, rate in enumerate(base_rates):
        for d in range(per_window):
            day = AS_OF - timedelta(days=89 - (w * per_window + d))
            for m in range(20):
                p = float(rng.uniform(0.05, 0.95))
                rows.append((day, f"{day}-{m}", "1d", p, int(rng.random() < rate)))
    return pl.DataFrame(rows, schema=["dt", "market_id", "horizon", "p_yes", "y"], orient="row")


def bands(coverage: float, n: int = 400, markets: int = 40) -> pl.DataFrame:
    """``n`` band points spread over ``markets`` (point i belongs to market i % markets), ``coverage`` inside."""
    inside = np.arange(n) < coverage * n
    y = np.where(inside, 0.5, 0.95)
    market = [f"m{i % markets}" for i in range(n)]
    return pl.DataFrame({"method": ["ewma"] * n, "market_id": market, "y": y, "q10": [0.4] * n, "q90": [0.6] * n})


def fired(frame: pl.DataFrame) -> set[tuple[str, str]]:
    return {(r["scope"], r["detector"]) for r in frame.filter(pl.col("fired")).iter_rows(named=True)}


def test_stable_world_fires_nothing() -> None:
    frame = drift_rows(cutoffs([0.5, 0.5, 0.5]), bands(0.8), AS_OF, THRESHOLDS)
    assert ("1d", "base_rate_swing") in {(r["scope"], r["detector"]) for r in frame.iter_rows(named=True)}
    assert fired(frame) == set()


def test_base_rate_shift_and_coverage_collapse_fire() -> None:
    frame = drift_rows(cutoffs([0.1, 0.5, 0.9]), bands(0.5), AS_OF, THRESHOLDS)
    assert ("1d", "base_rate_swing") in fired(frame)
    assert ("bands:ewma", "coverage") in fired(frame)


def test_thin_horizons_are_not_judged() -> None:
    frame = drift_rows(cutoffs([0.5]).head(300), bands(0.8).head(0), AS_OF, THRESHOLDS)
    assert frame.is_empty()


def test_a_coverage_shortfall_on_few_markets_is_not_drift() -> None:
    """400 points at 0.6 coverage, but from 5 markets: the market-clustered error is too wide to call it drift."""
    few = bands(0.6, markets=5).with_columns(
        market_id=pl.format("m{}", (pl.int_range(pl.len()) * 5 // pl.len()).cast(pl.String))
    )
    assert ("bands:ewma", "coverage") not in fired(drift_rows(cutoffs([0.5]), few, AS_OF, THRESHOLDS))
    assert ("bands:ewma", "coverage") in fired(drift_rows(cutoffs([0.5]), bands(0.6), AS_OF, THRESHOLDS))
