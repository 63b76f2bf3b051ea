"""Price paths of each day's cohort from CLOB ``/prices-history`` (YES token, hourly by default).

``raw/price_history`` fetches, for every market resolving on the day, its history over the longest horizon (30
days) plus a margin before resolution, in windows the server accepts, and lands every page as received.
``core.price_history`` parses the landed pages (unique per market and timestamp).
"""

from collections import Counter
from datetime import date

import dagster as dg
import msgspec
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    land_day,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
    written_result,
)
from mca_assets.labels.assets import RESOLUTIONS_KEY
from mca_core.normalize import normalize_price_history_batch
from mca_resources.clob import ClobClient
from mca_resources.dagster_resources import PolymarketResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.landing import read_pages
from mca_resources.warehouse import read_frame

PRICE_HISTORY = "price_history"
PRICE_HISTORY_KEY = dg.AssetKey(["core", "price_history"])
LOOKBACK_S = 32 * 86_400  # the longest horizon (30 days) plus staleness margin


class HistoryConfig(dg.Config):  # type: ignore[misc]
    fidelity_min: int = 60


def _cohort_tokens(warehouse: DuckDBResource, dt: date) -> pl.DataFrame:
    with warehouse_connection(warehouse) as conn:
        return read_frame(
            conn,
            "SELECT r.market_id, r.yes_token_id, r.resolved_ts, m.created_ts, m.start_ts FROM core.resolutions r "
            "JOIN core.markets m ON m.dt = r.dt AND m.market_id = r.market_id "
            "WHERE r.dt = ? AND r.label IN ('RESOLVED_TRUE', 'RESOLVED_FALSE') AND r.yes_token_id IS NOT NULL "
            "ORDER BY r.market_id",
            [dt],
        )


async def _fetch(client: ClobClient, cohort: pl.DataFrame, fidelity_min: int) -> int:
    points = 0
    try:
        for row in cohort.iter_rows(named=True):
            end = int(row["resolved_ts"].timestamp())
            began = row["start_ts"] or row["created_ts"]
            start = max(end - LOOKBACK_S, int(began.timestamp()) if began else end - LOOKBACK_S)
            history = await client.prices_history(row["yes_token_id"], start, end, fidelity_min=fidelity_min)
            points += len(history.points)
    finally:
        await client.http.aclose()
    return points


@daily_asset(
    ["raw", "price_history"],
    group="history",
    description="CLOB /prices-history pages of the day's resolved cohort (YES token, 32 days back), as received.",
    deps=[RESOLUTIONS_KEY],
    network=True,
)
def price_history_raw(
    context: dg.AssetExecutionContext,
    config: HistoryConfig,
    polymarket: PolymarketResource,
    storage: StorageResource,
    warehouse: DuckDBResource,
) -> dg.MaterializeResult:
    per_day = {}
    for dt in partition_dates(context):
        cohort = _cohort_tokens(warehouse, dt)  # read, then close the warehouse before any network call
        points, landing = land_day(
            storage.raw_dir,
            PRICE_HISTORY,
            dt,
            context.run.run_id,
            lambda sink, cohort=cohort: _fetch(polymarket.clob(raw_sink=sink), cohort, config.fidelity_min),
        )
        per_day[dt.isoformat()] = {"markets": cohort.height, "pages": landing.pages, "points": points}
        context.log.info(f"price history {dt}: {cohort.height} markets, {landing.pages} pages, {points} points")
    return dg.MaterializeResult(metadata={"per_day": dg.MetadataValue.json(per_day)})


HISTORY_SCHEMA = {"dt": pl.Date(), "market_id": pl.String(), "token_id": pl.String(), "ts": pl.Datetime("us", "UTC"),
                  "p": pl.Float64()}  # fmt: skip


@daily_asset(
    PRICE_HISTORY_KEY,
    group="history",
    description="YES price paths of the day's cohort, unique per (market_id, ts), from the landed pages.",
    deps=[price_history_raw],
    check_specs=[non_empty_spec(PRICE_HISTORY_KEY, dg.AssetCheckSeverity.WARN)],
)
def price_history(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    frames = {}
    rejected: Counter[str] = Counter()
    for dt in partition_dates(context):
        cohort = _cohort_tokens(warehouse, dt)
        token_market = dict(zip(cohort["yes_token_id"], cohort["market_id"], strict=True))
        rows = []
        for page in read_pages(storage.raw_dir, PRICE_HISTORY, dt):
            token = str(page["params"].get("market"))
            if page["status"] != 200 or token not in token_market:
                continue
            batch = normalize_price_history_batch(msgspec.json.decode(page["body"]), token_id=token)
            rejected.update(r.reason for r in batch.rejections)
            rows.extend((dt, token_market[token], token, point.ts, point.p) for point in batch.records)
        frame = pl.DataFrame(rows, schema=HISTORY_SCHEMA, orient="row") if rows else pl.DataFrame(schema=HISTORY_SCHEMA)
        frames[dt] = frame.unique(["market_id", "ts"], keep="last").sort("market_id", "ts")
    written = write_days(warehouse, "core.price_history", frames)
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        rejected_points=dg.MetadataValue.json(dict(rejected)),
        preview=preview(frames[max(frames)]),
    )
