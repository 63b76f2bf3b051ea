"""The day's inputs reshaped for the reports, one Polars pass per input across every market of the cohort.

A report reads a few rows of each input per market. Filtering and sorting each input per market cost about 80
Polars calls per report (14 ms); here every derived table (largest moves with their volume context, the weakest
trust component's value per day, the alerts before resolution, the chart coordinates) is computed for all markets at
once and handed out as plain rows grouped by market, which the section formatters only print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import groupby
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from mca_core.trust import COMPONENTS

#: components where a high value is bad (the trust score uses 1 - value, `mca_core.trust`)
INVERTED_COMPONENTS: Final = ("manipulation",)
MOVE_COLUMNS: Final = ("ts", "p_start", "p", "change", "volume_start", "volume_end", "oi_start", "oi_end")
_US_PER_HOUR: Final = 3_600_000_000


def rows_by(frame: pl.DataFrame, columns: Sequence[str], key: str = "market_id") -> dict[str, list[tuple[object, ...]]]:
    """``key`` value -> the rows of ``columns``, in the frame's order (sorted by ``key`` first)."""
    rows = frame.select(pl.col(key).alias("_key"), *columns).iter_rows()
    return {str(value): [row[1:] for row in group] for value, group in groupby(rows, key=lambda r: r[0])}


def chart_coordinates(
    path: pl.DataFrame, resolutions: pl.DataFrame
) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """market_id -> (hours relative to resolution, YES price), in time order, for every market with a path."""
    hours = (pl.col("ts") - pl.col("resolved_ts")).dt.total_microseconds().cast(pl.Float64) / 1e6 / 3600
    ordered = (
        path.join(resolutions.select("market_id", "resolved_ts"), on="market_id")
        .sort("market_id", "ts", maintain_order=True)
        .select("market_id", hours.alias("x"), pl.col("p").cast(pl.Float64))
    )
    x, p = ordered["x"].to_numpy(), ordered["p"].to_numpy()
    runs = ordered["market_id"].rle()
    ends = np.cumsum(runs.struct.field("len").to_numpy())
    starts = ends - runs.struct.field("len").to_numpy()
    return {str(m): (x[a:b], p[a:b]) for m, a, b in zip(runs.struct.field("value"), starts, ends, strict=True)}


def path_spans(path: pl.DataFrame) -> dict[str, tuple[object, ...]]:
    """market_id -> (points, first ts, last ts) of its price path."""
    ts = pl.col("ts")
    spans = path.group_by("market_id").agg(pl.len(), ts.min().alias("first"), ts.max().alias("last"))
    return {str(row[0]): row[1:] for row in spans.iter_rows()}


def largest_moves(path: pl.DataFrame, snapshots: pl.DataFrame | None, window_hours: int, count: int) -> pl.DataFrame:
    """Per market, the largest ``window_hours`` moves of the path, one per UTC day (the day's largest), largest
    first, with volume and open interest at the last snapshot at or before the move's start and end
    (``MOVE_COLUMNS``, null without a snapshot)."""
    ordered = path.select("market_id", "ts", "p").sort("ts")
    earlier = ordered.rename({"ts": "start_ts", "p": "p_start"})
    size = pl.col("change").abs()
    moves = (
        ordered.with_columns((pl.col("ts") - timedelta(hours=window_hours)).alias("start_ts"))
        .sort("start_ts")
        .join_asof(earlier, on="start_ts", by="market_id", strategy="backward", check_sortedness=False)
        .drop_nulls("p_start")
        .with_columns((pl.col("p") - pl.col("p_start")).alias("change"), pl.col("ts").dt.date().alias("_day"))
        .sort(["market_id", size, "ts"], descending=[False, True, False], maintain_order=True)
        .unique(["market_id", "_day"], keep="first", maintain_order=True)
        .filter(pl.int_range(pl.len()).over("market_id") < count)
    )
    context = pl.DataFrame(schema={"market_id": pl.String, "snap_ts": pl.Datetime("us", "UTC"),
                                   "volume_usd": pl.Float64, "open_interest_usd": pl.Float64})  # fmt: skip
    if snapshots is not None:
        context = snapshots.select("market_id", pl.col("ts").alias("snap_ts"), "volume_usd", "open_interest_usd")
    context = context.sort("snap_ts")

    def at(column: str, suffix: str) -> pl.DataFrame:
        keyed = moves.select("market_id", pl.col(column).alias("snap_ts"), pl.col("ts").alias("_move")).sort("snap_ts")
        found = keyed.join_asof(context, on="snap_ts", by="market_id", strategy="backward", check_sortedness=False)
        return found.select("market_id", "_move", pl.col("volume_usd").alias(f"volume_{suffix}"),
                            pl.col("open_interest_usd").alias(f"oi_{suffix}"))  # fmt: skip

    keys = {"left_on": ["market_id", "ts"], "right_on": ["market_id", "_move"]}
    joined = moves.join(at("start_ts", "start"), **keys).join(at("ts", "end"), **keys)  # type: ignore[arg-type]
    return joined.sort(["market_id", size, "ts"], descending=[False, True, False]).select("market_id", *MOVE_COLUMNS)


def weakest_values(trust: pl.DataFrame) -> pl.DataFrame:
    """Trust rows with ``weakest_value``: the trust stage's ``weakest_component`` as it enters the score (``1 - M``
    for the manipulation suspicion M); null where the stage named none or the table has no such column."""
    if "weakest_component" not in trust.columns:
        trust = trust.with_columns(pl.lit(None, pl.String).alias("weakest_component"))
    weakest = pl.col("weakest_component")
    values = [pl.when(weakest == c).then(1.0 - pl.col(c) if c in INVERTED_COMPONENTS else pl.col(c)).cast(pl.Float64)
              for c in COMPONENTS if c in trust.columns]  # fmt: skip
    value = pl.coalesce(values) if values else pl.lit(None, pl.Float64)
    return trust.with_columns(value.alias("weakest_value"))
