"""The market universe of a day: normalised Gamma markets as the rows of ``core.markets``.

A market belongs to day ``dt`` when it was open at some moment of that UTC day: it started (or was created)
before the day ended, and it had not resolved before the day began. Resolution time is ``closed_ts`` when
present, else ``end_ts`` (DESIGN.md §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import msgspec
import polars as pl

from mca_core.records import Market
from mca_core.segments import LiquidityEdges, category_expr, liquidity_bucket

UTC_TS = pl.Datetime("us", "UTC")

#: The columns of ``core.markets`` in order, with their types.
MARKET_SCHEMA: dict[str, pl.DataType] = {
    "dt": pl.Date(),
    "market_id": pl.String(),
    "condition_id": pl.String(),
    "event_id": pl.String(),
    "question": pl.String(),
    "slug": pl.String(),
    "category": pl.String(),
    "yes_token_id": pl.String(),
    "no_token_id": pl.String(),
    "start_ts": UTC_TS,
    "end_ts": UTC_TS,
    "closed_ts": UTC_TS,
    "created_ts": UTC_TS,
    "closed": pl.Boolean(),
    "active": pl.Boolean(),
    "neg_risk": pl.Boolean(),
    "p_yes": pl.Float64(),
    "outcome_prices": pl.List(pl.Float64()),
    "uma_resolution_status": pl.String(),
    "volume_usd": pl.Float64(),
    "volume_24h": pl.Float64(),
    "liquidity_usd": pl.Float64(),
    "best_bid": pl.Float64(),
    "best_ask": pl.Float64(),
    "spread": pl.Float64(),
    "liquidity_bucket": pl.String(),
    "description": pl.String(),
    "resolution_source": pl.String(),
}

_RAW_FIELDS = [name for name in MARKET_SCHEMA if name not in ("dt", "category", "liquidity_bucket")]


def markets_frame(
    markets: Iterable[Market], event_tags: Mapping[str, Sequence[str]], dt: date, liquidity: LiquidityEdges
) -> pl.DataFrame:
    """``core.markets`` rows of ``dt``: one per market alive during the day (unique by market_id, sorted)."""
    rows = []
    for market in markets:
        record = msgspec.structs.asdict(market)
        row = {name: record.get(name) for name in _RAW_FIELDS}
        row["market_tags"] = list(market.tags)
        row["event_tags"] = list(event_tags.get(market.event_id or "", ()))
        row["raw_category"] = market.category
        rows.append(row)
    schema = {name: MARKET_SCHEMA[name] for name in _RAW_FIELDS}
    schema |= {"market_tags": pl.List(pl.String()), "event_tags": pl.List(pl.String()), "raw_category": pl.String()}
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    start = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    began = pl.coalesce("start_ts", "created_ts")
    resolved = pl.coalesce("closed_ts", "end_ts")
    alive = (began.is_null() | (began < end)) & (~pl.col("closed") | resolved.is_null() | (resolved >= start))
    return (
        frame.filter(alive)
        .unique("market_id", keep="last", maintain_order=True)
        .with_columns(
            pl.lit(dt).alias("dt"),
            category_expr(pl.col("raw_category"), pl.col("market_tags"), pl.col("event_tags")).alias("category"),
            liquidity_bucket(pl.col("volume_usd"), liquidity).alias("liquidity_bucket"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in MARKET_SCHEMA.items()])
        .sort("market_id")
    )
