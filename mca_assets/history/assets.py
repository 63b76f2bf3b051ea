"""Price paths of the day from CLOB price history (YES token, hourly by default): every market, and the cohort's past.

``raw/price_history`` fetches, for dt:

- the **day's path** of every market of ``core.markets`` (dt): the YES token's history over [dt, dt + 1 day), so a
  backfilled day's live markets get the path the CLOB recorded that day, not the crawl time's state;
- the **look-back** of the day's resolved cohort: 32 days before dt (the longest horizon, 30 days, plus a staleness
  margin), so any day's cutoffs are computable from its own partition alone.

Both go 20 tokens per ``/batch-prices-history`` request where the upstream has it (one ``/prices-history`` per
token otherwise), in windows the server accepts, paced at the published limit (1,000 requests per 10 s) by the
client, with progress in the run log; every page lands as received.

``core.price_history`` (key ``(dt, market_id, ts)``) parses the landed pages: the day's points of every market,
and the cohort's look-back from its start to its resolution. A market that resolves on dt was live on the days
before, so its look-back repeats points those days' partitions hold too; each partition is self-contained on
purpose, and the ``same_price_across_days`` check holds the repeats equal.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import msgspec
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    Progress,
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
from mca_resources.clob import ClobClient, split_batch_page
from mca_resources.dagster_resources import PolymarketResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.landing import read_pages
from mca_resources.warehouse import read_frame

PRICE_HISTORY = "price_history"
PRICE_HISTORY_KEY = dg.AssetKey(["core", "price_history"])
LOOKBACK = timedelta(days=32)  # the longest horizon (30 days) plus staleness margin


class HistoryConfig(dg.Config):  # type: ignore[misc]
    fidelity_min: int = 60  # minutes between points (Polymarket's `fidelity`)


#: The day's markets with their YES token; ``resolved_ts`` set for the resolved cohort (which gets the look-back).
DAY_TOKENS_SQL = """
SELECT m.market_id, m.yes_token_id, r.resolved_ts, coalesce(m.start_ts, m.created_ts) AS began
FROM core.markets m
LEFT JOIN core.resolutions r
  ON r.dt = m.dt AND r.market_id = m.market_id AND r.label IN ('RESOLVED_TRUE', 'RESOLVED_FALSE')
WHERE m.dt = ? AND m.yes_token_id IS NOT NULL
ORDER BY m.market_id
"""


def _day_bounds(dt: date) -> tuple[int, int]:
    start = int(datetime(dt.year, dt.month, dt.day, tzinfo=UTC).timestamp())
    return start, start + 86_400


def _day_tokens(warehouse: DuckDBResource, dt: date) -> pl.DataFrame:
    with warehouse_connection(warehouse) as conn:
        return read_frame(conn, DAY_TOKENS_SQL, [dt])


async def _fetch(
    client: ClobClient, markets: pl.DataFrame, dt: date, fidelity_min: int, progress: Progress
) -> dict[str, int]:
    """The day's window of every token, then the cohort's look-back; returns points fetched per window kind."""
    day_start, day_end = _day_bounds(dt)
    cohort = markets.filter(pl.col("resolved_ts").is_not_null())["yes_token_id"].to_list()
    try:
        day = await client.prices_histories(
            markets["yes_token_id"].to_list(),
            day_start,
            day_end - 1,
            fidelity_min=fidelity_min,
            on_done=progress.advance,
        )
        back = await client.prices_histories(
            cohort, day_start - int(LOOKBACK.total_seconds()), day_start - 1, fidelity_min=fidelity_min
        )
    finally:
        await client.http.aclose()
    return {
        "day_points": sum(len(h.points) for h in day.values()),
        "lookback_points": sum(len(h.points) for h in back.values()),
    }


@daily_asset(
    ["raw", "price_history"],
    group="history",
    description="CLOB price-history pages: the day's path of every market of the day, and the resolved cohort's "
    "32-day look-back (YES tokens), as received.",
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
        markets = _day_tokens(warehouse, dt)  # read, then close the warehouse before any network call
        progress = Progress(context.log.info, f"price history {dt}", markets.height, "markets")
        counts, landing = land_day(
            storage.raw_dir,
            PRICE_HISTORY,
            dt,
            context.run.run_id,
            lambda sink, markets=markets, dt=dt, progress=progress: _fetch(
                polymarket.clob(raw_sink=sink), markets, dt, config.fidelity_min, progress
            ),
        )
        per_day[dt.isoformat()] = {
            "markets": markets.height,
            "cohort": int(markets["resolved_ts"].is_not_null().sum()),
            "pages": landing.pages,
            **counts,
        }
        context.log.info(f"price history {dt}: {per_day[dt.isoformat()]}")
    return dg.MaterializeResult(metadata={"per_day": dg.MetadataValue.json(per_day)})


HISTORY_SCHEMA = {"dt": pl.Date(), "market_id": pl.String(), "token_id": pl.String(), "ts": pl.Datetime("us", "UTC"),
                  "p": pl.Float64()}  # fmt: skip


def _page_points(page: dict[str, object]) -> list[tuple[str, object]]:
    """(token, one token's body) for each token a landed page answers, single or batch."""
    if page["source"] == "clob.batch_prices_history":
        request = page.get("request") or {}
        tokens = request.get("markets", []) if isinstance(request, dict) else []
        body = msgspec.json.decode(page["body"])  # type: ignore[arg-type]
        return [(str(token), split_batch_page(body, str(token))) for token in tokens]
    params = page["params"]
    return [(str(params.get("market")), msgspec.json.decode(page["body"]))]  # type: ignore[union-attr,arg-type]


def day_rows(pages: list[dict[str, object]], markets: pl.DataFrame, dt: date) -> tuple[pl.DataFrame, Counter[str]]:
    """``core.price_history`` rows of ``dt`` from its landed pages: each market's points of the day, and for the
    cohort its look-back from its start (or 32 days) to its resolution; unique per (market_id, ts)."""
    token_market = dict(zip(markets["yes_token_id"], markets["market_id"], strict=True))
    rejected: Counter[str] = Counter()
    rows = []
    for page in pages:
        if page["status"] != 200:
            continue
        for token, body in _page_points(page):
            if token not in token_market:
                continue
            batch = normalize_price_history_batch(body, token_id=token)  # type: ignore[arg-type]
            rejected.update(r.reason for r in batch.rejections)
            rows.extend((dt, token_market[token], token, point.ts, point.p) for point in batch.records)
    frame = pl.DataFrame(rows, schema=HISTORY_SCHEMA, orient="row") if rows else pl.DataFrame(schema=HISTORY_SCHEMA)
    day_start = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    window = markets.select(
        "market_id",
        pl.when(pl.col("resolved_ts").is_null())
        .then(pl.lit(day_start))
        .otherwise(pl.max_horizontal(pl.lit(day_start - LOOKBACK), pl.col("began").fill_null(day_start - LOOKBACK)))
        .alias("_from"),
        pl.coalesce(pl.col("resolved_ts"), pl.lit(day_start + timedelta(days=1) - timedelta(microseconds=1))).alias(
            "_to"
        ),
    )
    kept = (
        frame.join(window, on="market_id")
        .filter((pl.col("ts") >= pl.col("_from")) & (pl.col("ts") <= pl.col("_to")))
        .drop("_from", "_to")
        .unique(["market_id", "ts"], keep="last")
        .sort("market_id", "ts")
    )
    return kept, rejected


@daily_asset(
    PRICE_HISTORY_KEY,
    group="history",
    description="YES price paths: the day's points of every market of the day and the cohort's look-back, unique "
    "per (dt, market_id, ts), from the landed pages.",
    deps=[price_history_raw],
    check_specs=[non_empty_spec(PRICE_HISTORY_KEY, dg.AssetCheckSeverity.WARN)],
    code_version="2",
)
def price_history(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource
) -> dg.MaterializeResult:
    frames = {}
    rejected: Counter[str] = Counter()
    with_path = {}
    for dt in partition_dates(context):
        markets = _day_tokens(warehouse, dt)
        frames[dt], rejected_today = day_rows(list(read_pages(storage.raw_dir, PRICE_HISTORY, dt)), markets, dt)
        rejected.update(rejected_today)
        with_path[dt.isoformat()] = {"markets": markets.height, "with_points": frames[dt]["market_id"].n_unique()}
    written = write_days(warehouse, "core.price_history", frames)
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        markets_with_points=dg.MetadataValue.json(with_path),
        rejected_points=dg.MetadataValue.json(dict(rejected)),
        preview=preview(frames[max(frames)]),
    )
