"""``core.markets``: the landed Gamma pages of a day, normalised, one row per market alive during the day."""

from collections import Counter

import dagster as dg
import msgspec
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    partition_dates,
    preview,
    write_days,
    written_result,
)
from mca_assets.ingest.assets import GAMMA_EVENTS, GAMMA_MARKETS, gamma_events_raw, gamma_markets_raw
from mca_core.normalize import normalize_gamma_events, normalize_gamma_markets
from mca_core.records import Market
from mca_core.universe import markets_frame
from mca_resources.dagster_resources import MethodsResource
from mca_resources.dagster_storage import StorageResource
from mca_resources.landing import read_pages

MARKETS_KEY = dg.AssetKey(["core", "markets"])


@daily_asset(
    MARKETS_KEY,
    group="normalize",
    description="Every market open at some moment of the UTC day, normalised from the landed Gamma pages.",
    deps=[gamma_markets_raw, gamma_events_raw],
    check_specs=[non_empty_spec(MARKETS_KEY, dg.AssetCheckSeverity.ERROR)],
)
def markets(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, storage: StorageResource, methods: MethodsResource
) -> dg.MaterializeResult:
    frames = {}
    edges = methods.settings().liquidity_edges()
    rejected: Counter[str] = Counter()
    for dt in partition_dates(context):
        found: dict[str, Market] = {}
        for page in read_pages(storage.raw_dir, GAMMA_MARKETS, dt):
            if page["status"] != 200:
                continue
            batch = normalize_gamma_markets(msgspec.json.decode(page["body"]))
            found.update((m.market_id, m) for m in batch.records)
            rejected.update(r.reason.split(":")[0] for r in batch.rejections)
        event_tags: dict[str, list[str]] = {}
        for page in read_pages(storage.raw_dir, GAMMA_EVENTS, dt):
            if page["status"] != 200:
                continue
            for event in normalize_gamma_events(msgspec.json.decode(page["body"])).records:
                event_tags[event.event_id] = list(event.tags)
        if not found:
            raise dg.Failure(f"no Gamma markets landed for {dt}: materialize raw/gamma_markets for that day first")
        frames[dt] = markets_frame(found.values(), event_tags, dt, edges)
    written = write_days(warehouse, "core.markets", frames)
    last = frames[max(frames)]
    return written_result(
        written,
        dg.AssetCheckSeverity.ERROR,
        rejected_records=dg.MetadataValue.json(dict(rejected)),
        closed=int(last["closed"].sum()),
        by_category=dg.MetadataValue.json(dict(last.group_by("category").len().iter_rows())),
        preview=preview(last.select("market_id", "question", "category", "closed", "p_yes", "volume_usd")),
    )
