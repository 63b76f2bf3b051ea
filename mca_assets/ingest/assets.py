"""Raw landing of Gamma markets and events, as received, one partition per UTC day.

The day's universe is every market open at some moment of the day: the closed markets whose ``endDate`` is on
or after the day (a market resolves at or before its end date, so these include every market resolving on the
day, even early), and the markets still open, in both cases started before the day ended. Normalisation keeps
exactly the markets alive during the day; the raw pages keep everything the crawl saw.
"""

from datetime import date, timedelta

import dagster as dg

from mca_assets.common import daily_asset, land_day, partition_dates
from mca_resources.dagster_resources import PolymarketResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.gamma import GammaClient, GammaFilters

GAMMA_MARKETS = "gamma_markets"
GAMMA_EVENTS = "gamma_events"


def day_filters(dt: date, kind: str) -> list[GammaFilters]:
    """The two crawls that together cover every market or event open during ``dt`` (markets with their tags)."""
    started_by = (dt + timedelta(days=1)).isoformat()
    tags = True if kind == GAMMA_MARKETS else None
    return [
        GammaFilters(closed=True, end_date_min=dt.isoformat(), start_date_max=started_by, include_tag=tags),
        GammaFilters(closed=False, start_date_max=started_by, include_tag=tags),
    ]


async def _crawl(client: GammaClient, kind: str, dt: date) -> tuple[int, int, int]:
    records = rejected = pages = 0
    try:
        for filters in day_filters(dt, kind):
            crawl = await (client.markets(filters) if kind == GAMMA_MARKETS else client.events(filters))
            records += len(crawl.records)
            rejected += len(crawl.rejections)
            pages += crawl.stats.pages
    finally:
        await client.http.aclose()
    return records, rejected, pages


def _land(
    context: dg.AssetExecutionContext, polymarket: PolymarketResource, storage: StorageResource, kind: str
) -> dg.MaterializeResult:
    per_day: dict[str, dict[str, int]] = {}
    for dt in partition_dates(context):
        (records, rejected, pages), landing = land_day(
            storage.raw_dir,
            kind,
            dt,
            context.run.run_id,
            lambda sink, dt=dt: _crawl(polymarket.gamma(raw_sink=sink), kind, dt),
        )
        per_day[dt.isoformat()] = {"records": records, "rejected": rejected, "pages": pages, "bytes": landing.bytes}
        context.log.info(f"{kind} {dt}: {records} records ({rejected} rejected) in {pages} pages")
    total = {k: sum(d[k] for d in per_day.values()) for k in ("records", "rejected", "pages", "bytes")}
    return dg.MaterializeResult(metadata={**total, "per_day": dg.MetadataValue.json(per_day)})


@daily_asset(
    ["raw", "gamma_markets"],
    group="ingest",
    description="Gamma markets open during the day, every keyset page as received (data/raw/gamma_markets).",
    network=True,
)
def gamma_markets_raw(
    context: dg.AssetExecutionContext, polymarket: PolymarketResource, storage: StorageResource
) -> dg.MaterializeResult:
    return _land(context, polymarket, storage, GAMMA_MARKETS)


@daily_asset(
    ["raw", "gamma_events"],
    group="ingest",
    description="Gamma events open during the day with their nested markets and tags, as received.",
    network=True,
)
def gamma_events_raw(
    context: dg.AssetExecutionContext, polymarket: PolymarketResource, storage: StorageResource
) -> dg.MaterializeResult:
    return _land(context, polymarket, storage, GAMMA_EVENTS)
