"""On-chain activity per market from subgraph entities: open interest, traded volume, trade count.

Open interest is keyed by condition id (USDC with 6 decimals); volume and trades are per outcome token and are
summed over the market's two tokens. A market with no entity at all gets nulls, not zeros: "not indexed" is not
"no activity".
"""

from __future__ import annotations

import polars as pl

USDC_DECIMALS = 1_000_000

ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "condition_id": pl.String(),
    "open_interest_usd": pl.Float64(),
    "volume_usd": pl.Float64(),
    "trade_count": pl.Int64(),
}


def market_activity(markets: pl.DataFrame, open_interest: pl.DataFrame, orderbooks: pl.DataFrame) -> pl.DataFrame:
    """One row per market of ``markets`` (condition_id, yes_token_id, no_token_id), sorted by condition_id.

    ``open_interest`` has ``id`` (condition id) and ``amount`` (BigInt string); ``orderbooks`` has ``id`` (token
    id), ``tradesQuantity`` (BigInt string) and ``scaledCollateralVolume`` (BigDecimal string).
    """
    oi = open_interest.select(
        pl.col("id").alias("condition_id"),
        (pl.col("amount").cast(pl.Float64) / USDC_DECIMALS).alias("open_interest_usd"),
    ).unique("condition_id", keep="last")
    books = orderbooks.select(
        pl.col("id").alias("token_id"),
        pl.col("scaledCollateralVolume").cast(pl.Float64).alias("volume_usd"),
        pl.col("tradesQuantity").cast(pl.Int64).alias("trade_count"),
    ).unique("token_id", keep="last")
    tokens = markets.select("condition_id", pl.concat_list("yes_token_id", "no_token_id").alias("token_id")).explode(
        "token_id"
    )
    per_market = (
        tokens.join(books, on="token_id", how="inner")
        .group_by("condition_id")
        .agg(pl.col("volume_usd").sum(), pl.col("trade_count").sum())
    )
    return (
        markets.select("condition_id")
        .unique()
        .join(oi, on="condition_id", how="left")
        .join(per_market, on="condition_id", how="left")
        .select([pl.col(c).cast(t) for c, t in ACTIVITY_SCHEMA.items()])
        .sort("condition_id")
    )
