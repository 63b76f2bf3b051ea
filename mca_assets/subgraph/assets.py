"""On-chain activity (open interest, volume, trades) of every market of the day, from the subgraphs.

``raw/subgraph`` queries the oi and orderbook subgraphs by id in chunks and lands every response; a chunk that
fails after the client's retries fails the step (nothing is silently short). ``core.subgraph_metrics`` rebuilds
the rows from the landed responses with `mca_core.onchain.market_activity`.
"""

import dagster as dg
import msgspec
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import (
    daily_asset,
    land_day,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
)
from mca_assets.normalize.assets import MARKETS_KEY
from mca_core.onchain import market_activity
from mca_resources.dagster_resources import PolymarketResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.landing import read_pages
from mca_resources.subgraph import MarketTokens, SubgraphClient, SubgraphReport
from mca_resources.warehouse import read_frame

SUBGRAPH = "subgraph"
SUBGRAPH_METRICS_KEY = dg.AssetKey(["core", "subgraph_metrics"])


def _tokens(warehouse: DuckDBResource, dt: object) -> pl.DataFrame:
    with warehouse_connection(warehouse) as conn:
        return read_frame(
            conn,
            "SELECT market_id, condition_id, yes_token_id, no_token_id FROM core.markets WHERE dt = ? "
            "AND condition_id IS NOT NULL AND yes_token_id IS NOT NULL AND no_token_id IS NOT NULL ORDER BY market_id",
            [dt],
        )


async def _metrics(client: SubgraphClient, markets: list[MarketTokens], what: str) -> SubgraphReport:
    """All chunks or a failure (raised before the landing is published): a short day is never written."""
    try:
        report = await client.metrics(markets)
    finally:
        await client.http.aclose()
    if report.failures:
        failed = sum(len(f.ids) for f in report.failures)
        raise dg.Failure(
            f"{what}: {len(report.failures)} chunks ({failed} ids) failed; first: {report.failures[0].reason}",
            metadata={"failed_chunks": len(report.failures)},
        )
    return report


@daily_asset(
    ["raw", "subgraph"],
    group="subgraph",
    description="oi-subgraph and orderbook-subgraph responses for every market of the day, as received.",
    deps=[MARKETS_KEY],
    network=True,
)
def subgraph_raw(
    context: dg.AssetExecutionContext,
    polymarket: PolymarketResource,
    storage: StorageResource,
    warehouse: DuckDBResource,
) -> dg.MaterializeResult:
    per_day = {}
    for dt in partition_dates(context):
        tokens = _tokens(warehouse, dt)
        markets = [MarketTokens(r[1], r[2], r[3]) for r in tokens.iter_rows()]
        _, landing = land_day(
            storage.raw_dir,
            SUBGRAPH,
            dt,
            context.run.run_id,
            lambda sink, markets=markets, dt=dt: _metrics(
                polymarket.subgraph(raw_sink=sink), markets, f"subgraph {dt}"
            ),
        )
        per_day[dt.isoformat()] = {"markets": len(markets), "pages": landing.pages}
    return dg.MaterializeResult(metadata={"per_day": dg.MetadataValue.json(per_day)})


@daily_asset(
    SUBGRAPH_METRICS_KEY,
    group="subgraph",
    description="Open interest, traded volume and trade count per market of the day (null where not indexed).",
    deps=[subgraph_raw],
)
def subgraph_metrics(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    frames = {}
    for dt in partition_dates(context):
        oi_rows: list[dict[str, str]] = []
        book_rows: list[dict[str, str]] = []
        for page in read_pages(storage.raw_dir, SUBGRAPH, dt):
            if page["status"] != 200:
                continue
            data = (msgspec.json.decode(page["body"]) or {}).get("data") or {}
            oi_rows += data.get("marketOpenInterests") or []
            book_rows += data.get("orderbooks") or []
        tokens = _tokens(warehouse, dt)
        activity = market_activity(
            tokens,
            pl.DataFrame(oi_rows, schema={"id": pl.String, "amount": pl.String}),
            pl.DataFrame(
                [{k: r[k] for k in ("id", "tradesQuantity", "scaledCollateralVolume")} for r in book_rows],
                schema={"id": pl.String, "tradesQuantity": pl.String, "scaledCollateralVolume": pl.String},
            ),
        )
        frames[dt] = (
            activity.join(tokens.select("condition_id", "market_id"), on="condition_id", how="left")
            .unique("condition_id", keep="first")
            .with_columns(pl.lit(dt).alias("dt"))
            .sort("condition_id")
        )
    written = write_days(warehouse, "core.subgraph_metrics", frames)
    return dg.MaterializeResult(
        metadata={
            "rows": sum(written.values()),
            "rows_per_day": dg.MetadataValue.json(written),
            "preview": preview(frames[max(frames)]),
        }
    )
