"""``core.market_snapshots``: what each market looked like during the day.

Two sources, marked in ``source``:

- ``clob_history``: every price-history point of the day of every market of the day (hourly by default), with the
  on-chain open interest and cumulative volume of the last hourly block at or before the point
  (``core.subgraph_hourly``, an as-of join, never a later block). Exact for a backfilled day.
- ``gamma_close``: one snapshot at the close of the day for every market still open, from the Gamma crawl (price,
  book, volume, liquidity) with the end-of-day on-chain open interest. For a backfilled day the Gamma fields
  reflect the crawl time: Gamma keeps no history of volume or liquidity (docs/graph.md).

Only rows of the day are read, so a partition never depends on which other days were materialized.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
    written_result,
)
from mca_assets.history.assets import PRICE_HISTORY_KEY
from mca_assets.normalize.assets import MARKETS_KEY
from mca_assets.subgraph.assets import SUBGRAPH_HOURLY_KEY, SUBGRAPH_METRICS_KEY
from mca_resources.warehouse import read_frame

SNAPSHOTS_KEY = dg.AssetKey(["core", "market_snapshots"])

SNAPSHOTS_SQL = """
WITH points AS (
    SELECT h.dt, h.market_id, h.ts, h.p, m.condition_id, m.liquidity_usd, m.end_ts
    FROM core.price_history h
    JOIN core.markets m ON m.dt = $dt AND m.market_id = h.market_id
    WHERE h.dt = $dt AND h.ts >= $dt::TIMESTAMPTZ AND h.ts < ($dt + INTERVAL 1 DAY)::TIMESTAMPTZ
), hourly AS (
    SELECT condition_id, ts, open_interest_usd, volume_usd FROM core.subgraph_hourly WHERE dt = $dt
)
SELECT p.dt, p.market_id, p.ts, 'clob_history' AS source, p.p AS p_yes, NULL::DOUBLE AS best_bid,
       NULL::DOUBLE AS best_ask, o.volume_usd, p.liquidity_usd, o.open_interest_usd, p.end_ts
FROM points p
ASOF LEFT JOIN hourly o ON o.condition_id = p.condition_id AND o.ts <= p.ts
UNION ALL
SELECT m.dt, m.market_id, ($dt + INTERVAL 1 DAY)::TIMESTAMPTZ AS ts, 'gamma_close', m.p_yes, m.best_bid, m.best_ask,
       m.volume_usd, m.liquidity_usd, s.open_interest_usd, m.end_ts
FROM core.markets m
LEFT JOIN core.subgraph_metrics s ON s.dt = $dt AND s.condition_id = m.condition_id
WHERE m.dt = $dt AND NOT m.closed
ORDER BY market_id, ts
"""


@daily_asset(
    SNAPSHOTS_KEY,
    group="snapshots",
    description="The hourly price-history points of every market of the day with the on-chain state of their "
    "hour, and the close-of-day Gamma state of every open market.",
    code_version="2",
    deps=[MARKETS_KEY, PRICE_HISTORY_KEY, SUBGRAPH_HOURLY_KEY, SUBGRAPH_METRICS_KEY],
    check_specs=[non_empty_spec(SNAPSHOTS_KEY, dg.AssetCheckSeverity.ERROR)],
)
def market_snapshots(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    frames = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            frames[dt] = read_frame(conn, SNAPSHOTS_SQL, {"dt": dt}).unique(["market_id", "ts"], keep="first")
    written = write_days(warehouse, "core.market_snapshots", frames)
    last = frames[max(frames)]
    return written_result(
        written,
        dg.AssetCheckSeverity.ERROR,
        by_source=dg.MetadataValue.json(dict(last.group_by("source").len().iter_rows())),
        preview=preview(last),
    )
