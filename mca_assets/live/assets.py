"""``core.live_paths``: the recent path of each of the top-N live markets (by 24 h volume), every refresh.

A market's path over the last ``window_hours`` comes from the capture's 5-minute bars (``rt.bars_5m`` of its YES
token) when the capture covers it now and over enough of the window (`mca_core.live_paths`), else from the CLOB's
``/prices-history`` at 5-minute fidelity over the same window (20 tokens per batch request where the upstream has
it). Each refresh replaces the refreshed markets' rows (key ``(market_id, ts)``) and drops rows older than
``retention_hours``, so the table is a rolling window the forecaster reads. Not partitioned: it is the present.
"""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import Progress, intraday_asset, preview, warehouse_connection
from mca_assets.normalize.assets import MARKETS_KEY
from mca_core.live_paths import LIVE_PATH_SCHEMA, LivePathRules, bar_points, captured_markets
from mca_resources.clob import ClobClient
from mca_resources.dagster_resources import PolymarketResource
from mca_resources.warehouse import read_frame, upsert_rows

LIVE_PATHS_KEY = dg.AssetKey(["core", "live_paths"])

#: the top-N open markets of the latest crawled day, by 24 h volume
TOP_LIVE_SQL = """
SELECT market_id, yes_token_id, liquidity_bucket FROM core.markets
WHERE dt = (SELECT max(dt) FROM core.markets) AND NOT closed AND yes_token_id IS NOT NULL
ORDER BY volume_24h DESC NULLS LAST, volume_usd DESC NULLS LAST, market_id LIMIT ?
"""
BARS_SQL = """
SELECT t.market_id, b.bucket_start, b.close
FROM rt.bars_5m b JOIN (SELECT unnest(?::VARCHAR[]) AS market_id, unnest(?::VARCHAR[]) AS asset_id) t
  ON t.asset_id = b.asset_id
WHERE b.bucket_start >= ?
"""


class LivePathsConfig(dg.Config):  # type: ignore[misc]
    top_n: int = 200
    window_hours: float = 24.0
    fidelity_min: int = 5  # of the CLOB fallback
    min_bars: int = 32  # fewest capture bars in the window for the capture to serve a market
    fresh_s: float = 600.0  # the oldest a market's last capture bar may be for the capture to serve it
    retention_hours: float = 48.0


async def _histories(client: ClobClient, tokens: list[str], start: datetime, end: datetime, fidelity: int,
                     progress: Progress) -> pl.DataFrame:  # fmt: skip
    try:
        found = await client.prices_histories(tokens, start, end, fidelity_min=fidelity, on_done=progress.advance)
    finally:
        await client.http.aclose()
    rows = [(token, point.ts, point.p) for token, history in found.items() for point in history.points]
    return pl.DataFrame(rows, schema={"token": pl.String, "ts": pl.Datetime("us", "UTC"), "p": pl.Float64},
                        orient="row")  # fmt: skip


@intraday_asset(
    LIVE_PATHS_KEY,
    deps=[MARKETS_KEY],
    owners=["team:data"],
    description="The last day's 5-minute path of each top-N live market: capture bars where they cover it, CLOB "
    "price history otherwise.",
)
def live_paths(
    context: dg.AssetExecutionContext, config: LivePathsConfig, warehouse: DuckDBResource,
    polymarket: PolymarketResource,
) -> dg.MaterializeResult:  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    rules = LivePathRules(timedelta(hours=config.window_hours), config.min_bars, config.fresh_s)
    start = now - rules.window
    with warehouse_connection(warehouse) as conn:
        top = read_frame(conn, TOP_LIVE_SQL, [config.top_n])
        bars = read_frame(conn, BARS_SQL, [top["market_id"].to_list(), top["yes_token_id"].to_list(), start])
    points = bar_points(bars, now)
    captured = set(captured_markets(points, now, rules))
    rest = top.filter(~pl.col("market_id").is_in(list(captured)))
    progress = Progress(context.log.info, "live paths from the CLOB", rest.height, "markets")
    history = asyncio.run(
        _histories(polymarket.clob(), rest["yes_token_id"].to_list(), start, now, config.fidelity_min, progress)
    )
    from_clob = history.join(rest.select("market_id", pl.col("yes_token_id").alias("token")), on="token").select(
        "market_id", "ts", "p", pl.lit("clob.prices_history").alias("source")
    )
    from_bars = points.filter(pl.col("market_id").is_in(list(captured)) & (pl.col("ts") >= start)).with_columns(
        pl.lit("rt.bars_5m").alias("source")
    )
    frame = (
        pl.concat([from_bars, from_clob])
        .filter(pl.col("ts") <= now)
        .unique(["market_id", "ts"], keep="first")
        .with_columns(pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("refreshed_ts"))
        .select(list(LIVE_PATH_SCHEMA))
        .sort("market_id", "ts")
    )
    with warehouse_connection(warehouse) as conn:
        written = upsert_rows(conn, "core.live_paths", "market_id", frame)
        conn.execute("DELETE FROM core.live_paths WHERE ts < ?", [now - timedelta(hours=config.retention_hours)])
    with_path = set(frame["market_id"].unique().to_list())
    missing = sorted(set(top["market_id"].to_list()) - with_path)
    by_source = Counter(dict(frame.group_by("source").agg(pl.col("market_id").n_unique()).iter_rows()))
    context.log.info(f"live paths: {len(with_path)}/{top.height} markets, by source {dict(by_source)}")
    return dg.MaterializeResult(
        metadata={
            "rows": written,
            "refreshed_ts": now.isoformat(),
            "top_n": top.height,
            "markets_with_path": len(with_path),
            "markets_by_source": dg.MetadataValue.json(dict(by_source)),
            "markets_without_path": dg.MetadataValue.json(missing[:50]),
            "preview": preview(frame),
        }
    )
