"""On-chain activity (open interest, volume, trades) of every market of the day, hour by hour, from the subgraphs.

``raw/subgraph`` queries the oi and orderbook subgraphs by id in chunks at the block of every hour of the day
(00:00 .. 24:00 UTC, graph-node time travel, `SubgraphClient.blocks_at`), so a backfilled day gets the state the
chain had then, not the crawl time's. Hours after the head (today's partition) are not asked; the head itself is,
as the latest state. Every response lands; a chunk that fails after the client's retries fails the step (nothing
is silently short). Each landed response carries the block it was answered at (``_meta``).

``core.subgraph_hourly`` holds one row per market and instant (``ts`` the hour a block stands for, or the head's
time; ``block_ts`` the block's own timestamp); ``core.subgraph_metrics`` is the day's last instant (the end-of-day
block, or the head), so its meaning is unchanged: the market's activity at the close of dt.
"""

from datetime import UTC, date, datetime

import dagster as dg
import msgspec
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import (
    Progress,
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
SUBGRAPH_HOURLY_KEY = dg.AssetKey(["core", "subgraph_hourly"])
HOUR_S = 3600
HOURLY_SCHEMA = {"dt": pl.Date(), "condition_id": pl.String(), "market_id": pl.String(), "ts": pl.Datetime("us", "UTC"),
                 "block_ts": pl.Datetime("us", "UTC"), "open_interest_usd": pl.Float64(),
                 "volume_usd": pl.Float64(), "trade_count": pl.Int64()}  # fmt: skip


def _tokens(warehouse: DuckDBResource, dt: object) -> pl.DataFrame:
    with warehouse_connection(warehouse) as conn:
        return read_frame(
            conn,
            "SELECT market_id, condition_id, yes_token_id, no_token_id FROM core.markets WHERE dt = ? "
            "AND condition_id IS NOT NULL AND yes_token_id IS NOT NULL AND no_token_id IS NOT NULL ORDER BY market_id",
            [dt],
        )


def hours_of(dt: date) -> list[int]:
    """The 25 instants (unix seconds) of the hourly on-chain state of ``dt``: 00:00 .. 24:00 UTC."""
    start = int(datetime(dt.year, dt.month, dt.day, tzinfo=UTC).timestamp())
    return [start + HOUR_S * k for k in range(25)]


def _raise_failures(report: SubgraphReport, what: str) -> None:
    if report.failures:
        failed = sum(len(f.ids) for f in report.failures)
        raise dg.Failure(
            f"{what}: {len(report.failures)} chunks ({failed} ids) failed; first: {report.failures[0].reason}",
            metadata={"failed_chunks": len(report.failures)},
        )


async def _day_metrics(
    client: SubgraphClient, markets: list[MarketTokens], dt: date, progress: Progress
) -> dict[str, int]:
    """Every hour of ``dt`` up to the head, then the head when the day is not over; all chunks or a failure (raised
    before the landing is published): a short day is never written."""
    try:
        head = await client.block()
        instants = [t for t in hours_of(dt) if t <= head.timestamp]
        blocks = await client.blocks_at(instants)
        for t in instants:
            _raise_failures(await client.metrics(markets, block=blocks[t].number), f"subgraph {dt} at {t}")
            progress.advance(1)
        if len(instants) < 25:
            _raise_failures(await client.metrics(markets), f"subgraph {dt} at the head")
            progress.advance(1)
    finally:
        await client.http.aclose()
    return {"instants": len(instants) + (len(instants) < 25), "head_ts": head.timestamp}


@daily_asset(
    ["raw", "subgraph"],
    group="subgraph",
    description="oi-subgraph and orderbook-subgraph responses for every market of the day at every hour's block, "
    "as received.",
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
        progress = Progress(context.log.info, f"subgraph {dt}", 25, "hours")
        counts, landing = land_day(
            storage.raw_dir,
            SUBGRAPH,
            dt,
            context.run.run_id,
            lambda sink, markets=markets, dt=dt, progress=progress: _day_metrics(
                polymarket.subgraph(raw_sink=sink), markets, dt, progress
            ),
        )
        per_day[dt.isoformat()] = {"markets": len(markets), "pages": landing.pages, **counts}
    return dg.MaterializeResult(metadata={"per_day": dg.MetadataValue.json(per_day)})


def _page_instant(page: dict[str, object], data: dict[str, object]) -> tuple[int, int] | None:
    """(the instant a landed response stands for, its block's timestamp): the hour for a time-travel query, the
    block's own time for a head query; None when the answer names no block."""
    block = ((data.get("_meta") or {}) if isinstance(data, dict) else {}).get("block") or {}  # type: ignore[union-attr]
    if "timestamp" not in block:
        return None
    block_ts = int(block["timestamp"])
    request = page.get("request") or {}
    asked = ((request.get("variables") or {}) if isinstance(request, dict) else {}).get("block")
    return (round(block_ts / HOUR_S) * HOUR_S if asked else block_ts), block_ts


def hourly_rows(pages: list[dict[str, object]], tokens: pl.DataFrame, dt: date) -> pl.DataFrame:
    """``core.subgraph_hourly`` rows of ``dt`` from its landed responses: one per market and instant."""
    oi_rows: dict[tuple[int, int], list[dict[str, str]]] = {}
    book_rows: dict[tuple[int, int], list[dict[str, str]]] = {}
    for page in pages:
        if page["status"] != 200:
            continue
        data = (msgspec.json.decode(page["body"]) or {}).get("data") or {}  # type: ignore[arg-type]
        instant = _page_instant(page, data)
        if instant is None or not ({"marketOpenInterests", "orderbooks"} & data.keys()):
            continue  # block lookups land too: they answer no entity
        oi_rows.setdefault(instant, []).extend(data.get("marketOpenInterests") or [])
        book_rows.setdefault(instant, []).extend(data.get("orderbooks") or [])
    frames = []
    for ts, block_ts in sorted(oi_rows.keys() | book_rows.keys()):
        books = book_rows.get((ts, block_ts), [])
        activity = market_activity(
            tokens,
            pl.DataFrame(oi_rows.get((ts, block_ts), []), schema={"id": pl.String, "amount": pl.String}),
            pl.DataFrame(
                [{k: r[k] for k in ("id", "tradesQuantity", "scaledCollateralVolume")} for r in books],
                schema={"id": pl.String, "tradesQuantity": pl.String, "scaledCollateralVolume": pl.String},
            ),
        )
        frames.append(
            activity.with_columns(
                pl.from_epoch(pl.lit(ts), time_unit="s").dt.replace_time_zone("UTC").alias("ts"),
                pl.from_epoch(pl.lit(block_ts), time_unit="s").dt.replace_time_zone("UTC").alias("block_ts"),
            )
        )
    if not frames:
        return pl.DataFrame(schema=HOURLY_SCHEMA)
    return (
        pl.concat(frames)
        .join(tokens.select("condition_id", "market_id").unique("condition_id", keep="first"), on="condition_id")
        .with_columns(pl.lit(dt).alias("dt"))
        .unique(["condition_id", "ts"], keep="last")
        .select(list(HOURLY_SCHEMA))
        .sort("condition_id", "ts")
    )


@daily_asset(
    SUBGRAPH_HOURLY_KEY,
    group="subgraph",
    description="Open interest, traded volume and trade count per market at every hour of the day (and the head for "
    "today), null where not indexed.",
    deps=[subgraph_raw],
)
def subgraph_hourly(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    frames = {
        dt: hourly_rows(list(read_pages(storage.raw_dir, SUBGRAPH, dt)), _tokens(warehouse, dt), dt)
        for dt in partition_dates(context)
    }
    written = write_days(warehouse, "core.subgraph_hourly", frames)
    last = frames[max(frames)]
    return dg.MaterializeResult(
        metadata={
            "rows": sum(written.values()),
            "rows_per_day": dg.MetadataValue.json(written),
            "instants": last["ts"].n_unique(),
            "preview": preview(last),
        }
    )


@daily_asset(
    SUBGRAPH_METRICS_KEY,
    group="subgraph",
    description="Open interest, traded volume and trade count per market at the close of the day (the end-of-day "
    "block, or the head for today), null where not indexed.",
    deps=[SUBGRAPH_HOURLY_KEY],
)
def subgraph_metrics(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    frames = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            frames[dt] = read_frame(
                conn,
                "SELECT dt, condition_id, market_id, open_interest_usd, volume_usd, trade_count FROM "
                "core.subgraph_hourly WHERE dt = ? QUALIFY ts = max(ts) OVER (PARTITION BY condition_id) "
                "ORDER BY condition_id",
                [dt],
            )
    written = write_days(warehouse, "core.subgraph_metrics", frames)
    return dg.MaterializeResult(
        metadata={
            "rows": sum(written.values()),
            "rows_per_day": dg.MetadataValue.json(written),
            "preview": preview(frames[max(frames)]),
        }
    )
