"""Ticks -> time bars (1m, 5m) per asset, keyed (asset_id, bucket_start).

A bar holds two price series side by side, because most minutes of a thin market have quotes but no trade:

- **mid bar** ``open, high, low, close``: OHLC of the mid price ``(best_bid + best_ask) / 2`` observed at every
  tick that carries both (``book`` top of book, new-schema ``price_change``, ``best_bid_ask``), in tick order
  (``mca_core.ticks.TICK_ORDER``); ``n_mid`` observations. Null when the bucket saw no two-sided quote.
- **trade bar** ``trade_open, trade_high, trade_low, trade_close`` of ``last_trade_price`` prices, ``volume``
  (shares), ``volume_usd`` (sum of price x size), ``vwap`` and ``trade_count``; prices null and
  volume/trade_count 0 when the bucket had no trade.
- ``realized_vol``: sqrt of the sum of squared log returns between consecutive mid observations inside the bucket
  (not annualised; 0 with fewer than two mids, null without any); ``n_ticks``: ticks in the bucket.

``bucket_start`` is the UTC start of the bucket (``ts`` truncated to the bar width) and ``dt`` its UTC date, so a
bar never straddles a day. A bar depends only on the ticks inside its bucket: rebuilding any set of buckets from
the stored ticks gives the same rows.
"""

from __future__ import annotations

import polars as pl

from mca_core.ticks import TICK_ORDER

__all__ = ["BAR_COLUMNS", "BAR_WIDTHS", "build_bars"]

#: Bar widths the platform stores (``rt.bars_1m``, ``rt.bars_5m``) as Polars durations.
BAR_WIDTHS = {"1m": "1m", "5m": "5m"}

#: The columns of ``rt.bars_1m`` / ``rt.bars_5m`` in table order.
BAR_COLUMNS = (
    "dt", "asset_id", "bucket_start", "open", "high", "low", "close", "volume", "trade_count",
    "trade_open", "trade_high", "trade_low", "trade_close", "vwap", "volume_usd", "realized_vol", "n_mid", "n_ticks",
)  # fmt: skip

_KEY = ("asset_id", "bucket_start")


def build_bars(ticks: pl.DataFrame, width: str) -> pl.DataFrame:
    """Bars of ``width`` (a Polars duration, e.g. "1m") from tick rows (``rt.ticks`` columns), sorted by key.

    Only numeric columns are sorted, into (asset, ``TICK_ORDER``) order with the asset as a 64-bit hash of its id
    (two of a few thousand ids colliding: probability below 1e-12), and a return is taken between adjacent mid rows
    of the same asset and bucket instead of in a window over a string key: the same result, several times faster on
    millions of ticks. The order is two cheap sorts, not one on four keys (3x slower): by ``TICK_ORDER`` (ticks
    arrive nearly in that order), then a stable sort by asset.
    """
    asset_hash = pl.col("asset_id").hash()
    bucketed = ticks.select(
        *TICK_ORDER, "price", "size", "best_bid", "best_ask",
        asset_hash=asset_hash,
        bucket_start=pl.col("ts").dt.truncate(width),
        is_trade=pl.col("event_type") == "last_trade_price",
    ).sort(*TICK_ORDER).sort("asset_hash", maintain_order=True)  # fmt: skip
    groups = ("asset_hash", "bucket_start")
    same_group = (pl.col("asset_hash") == pl.col("asset_hash").shift(1)) & (
        pl.col("bucket_start") == pl.col("bucket_start").shift(1)
    )
    log_mid = pl.col("mid").log()
    mids = (
        bucketed.filter(pl.col("best_bid").is_not_null() & pl.col("best_ask").is_not_null())
        .with_columns(mid=(pl.col("best_bid") + pl.col("best_ask")) / 2.0)
        .with_columns(ret=pl.when(same_group).then(log_mid - log_mid.shift(1)))
        .group_by(groups, maintain_order=True)
        .agg(
            open=pl.col("mid").first(),
            high=pl.col("mid").max(),
            low=pl.col("mid").min(),
            close=pl.col("mid").last(),
            realized_vol=(pl.col("ret") ** 2).sum().sqrt(),
            n_mid=pl.len(),
        )
    )
    price = pl.col("price")
    size = pl.col("size")
    trades = (
        bucketed.filter(pl.col("is_trade"))
        .group_by(groups, maintain_order=True)
        .agg(
            trade_open=price.first(),
            trade_high=price.max(),
            trade_low=price.min(),
            trade_close=price.last(),
            volume=size.sum(),
            volume_usd=(price * size).sum(),
            trade_count=pl.len(),
        )
    )
    counts = bucketed.group_by(groups, maintain_order=True).agg(n_ticks=pl.len())
    names = ticks.select(pl.col("asset_id").unique()).with_columns(asset_hash=asset_hash)
    return (
        counts.join(names, on="asset_hash", how="left")
        .join(mids, on=groups, how="left")
        .join(trades, on=groups, how="left")
        .with_columns(
            dt=pl.col("bucket_start").dt.date(),
            volume=pl.col("volume").fill_null(0.0),
            volume_usd=pl.col("volume_usd").fill_null(0.0),
            trade_count=pl.col("trade_count").fill_null(0).cast(pl.Int64),
            n_mid=pl.col("n_mid").fill_null(0).cast(pl.Int64),
            n_ticks=pl.col("n_ticks").cast(pl.Int64),
        )
        .with_columns(vwap=pl.when(pl.col("volume") > 0).then(pl.col("volume_usd") / pl.col("volume")))
        .select(BAR_COLUMNS)
        .sort(_KEY)
    )
