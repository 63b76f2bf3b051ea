"""``core.market_snapshots``: what each market looked like during the day.

Two sources, marked in ``source``: every price-history point of the day for the day's own cohort
(``clob_history``; only the day's cohort, so a partition never depends on which other days were materialized),
and one snapshot at the close of the day for every market still open, from the Gamma crawl with on-chain open
interest (``gamma_close``). For a backfilled day the Gamma close reflects the crawl time.
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
from mca_assets.subgraph.assets import SUBGRAPH_METRICS_KEY
from mca_resources.warehouse import read_frame

SNAPSHOTS_KEY = dg.AssetKey(["core", "market_snapshots"])

SNAPSHOTS_SQL = """
SELECT h.dt, h.market_id, h.ts, 'clob_history' AS source, h.p AS p_yes, NULL::DOUBLE AS best_bid,
       NULL::DOUBLE AS best_ask, m.volume_usd, m.liquidity_usd, s.open_interest_usd, m.end_ts
FROM core.price_history h
JOIN core.markets m ON m.dt = $dt AND m.market_id = h.market_id
LEFT JOIN core.subgraph_metrics s ON s.dt = $dt AND s.condition_id = m.condition_id
WHERE h.dt = $dt AND h.ts >= $dt::TIMESTAMPTZ AND h.ts < ($dt + INTERVAL 1 DAY)::TIMESTAMPTZ
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
    description="Price-history points of the day and the close-of-day state of every open market.",
    deps=[MARKETS_KEY, PRICE_HISTORY_KEY, SUBGRAPH_METRICS_KEY],
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
