"""How well rule alerts find known episodes: precision, recall and the delay from an episode's start to its first
alert, for scoring alerts against a world whose episodes are known (the sandbox's ``/_truth/episodes``).

An alert is right when it falls inside an episode of its own market, ``[start_ts, end_ts + tolerance_s]`` (the
tolerance lets the next observation after a short episode count: an hourly point cannot be inside a 15-minute
pump). An episode is found when at least one alert is inside it; its delay is its first such alert's time minus its
start. Times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["AlertQuality", "alert_quality"]


@dataclass(frozen=True, slots=True)
class AlertQuality:
    """The scores and what they count (``None`` when there is nothing to divide by)."""

    alerts: int
    alerts_right: int
    episodes: int
    episodes_found: int
    precision: float | None
    recall: float | None
    median_delay_s: float | None


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def alert_quality(alerts: pl.DataFrame, episodes: pl.DataFrame, tolerance_s: int = 0) -> AlertQuality:
    """Scores ``alerts`` (``market_id, ts``) against ``episodes`` (``episode_id, market_id, start_ts, end_ts``)."""
    marked = alerts.select(pl.col("market_id").cast(pl.String), pl.col("ts").cast(pl.Int64)).with_row_index("_a")
    spans = episodes.select(
        pl.col("episode_id").cast(pl.String),
        pl.col("market_id").cast(pl.String),
        pl.col("start_ts").cast(pl.Int64),
        (pl.col("end_ts").cast(pl.Int64) + tolerance_s).alias("_until"),
    )
    inside = marked.join(spans, on="market_id").filter(pl.col("ts").is_between("start_ts", "_until"))
    first = inside.group_by("episode_id").agg((pl.col("ts").min() - pl.col("start_ts").first()).alias("delay"))
    right = inside["_a"].n_unique()
    return AlertQuality(
        alerts=marked.height,
        alerts_right=right,
        episodes=spans.height,
        episodes_found=first.height,
        precision=_ratio(right, marked.height),
        recall=_ratio(first.height, spans.height),
        median_delay_s=float(first["delay"].median()) if first.height else None,  # type: ignore[arg-type]
    )
