"""Recent price paths of the top live markets for the intraday refresh: the capture's 5-minute bars where they
cover a market, a short CLOB history otherwise.

A bar's close is the last mid of its bucket, so its point is stamped at the bucket's end (the instant the close is
as of), or at ``now`` for the bucket still open. A market takes the capture's path only when the capture covers
it now (its last bar at most ``fresh_s`` old) and over enough of the window (``min_points`` bars): a path that
mixes a stale capture with a fresh history would hide the capture's hole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

__all__ = ["LIVE_PATH_SCHEMA", "LivePathRules", "bar_points", "captured_markets"]

BAR = timedelta(minutes=5)

LIVE_PATH_SCHEMA: dict[str, pl.DataType] = {
    "market_id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "p": pl.Float64(),
    "source": pl.String(),
    "refreshed_ts": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True, slots=True)
class LivePathRules:
    """``window``: how far back a path reaches; ``min_points``: fewest bars for the capture to serve a market;
    ``fresh_s``: the oldest a market's last bar may be for the capture to serve it."""

    window: timedelta = timedelta(hours=24)
    min_points: int = 32
    fresh_s: float = 600.0

    def __post_init__(self) -> None:
        if self.window <= BAR or self.min_points < 1 or self.fresh_s <= 0:
            raise ValueError(f"bad live path rules: {self}")


def bar_points(bars: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """(market_id, ts, p) from 5-minute bars (market_id, bucket_start, close): one point per bar with a close that
    began by ``now`` (a later bucket is not yet observable)."""
    now_ = pl.lit(now).cast(pl.Datetime("us", "UTC"))
    return (
        bars.filter(pl.col("close").is_not_null() & pl.col("close").is_not_nan() & (pl.col("bucket_start") <= now_))
        .select(
            "market_id",
            pl.min_horizontal(pl.col("bucket_start") + BAR, now_).alias("ts"),
            pl.col("close").cast(pl.Float64).alias("p"),
        )
        .sort("market_id", "ts")
    )


def captured_markets(points: pl.DataFrame, now: datetime, rules: LivePathRules) -> list[str]:
    """The markets whose bar points cover them now and over enough of the window (sorted)."""
    fresh_from = now - timedelta(seconds=rules.fresh_s)
    covered = (
        points.filter(pl.col("ts") >= now - rules.window)
        .group_by("market_id")
        .agg(pl.len().alias("n"), pl.col("ts").max().alias("last"))
        .filter((pl.col("n") >= rules.min_points) & (pl.col("last") >= fresh_from))
    )
    return sorted(covered["market_id"].to_list())
