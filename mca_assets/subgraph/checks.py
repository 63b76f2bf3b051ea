"""Checks of ``core.subgraph_hourly`` and ``core.subgraph_metrics``."""

from mca_assets.checklib import keys_unique, sql_check
from mca_assets.subgraph.assets import SUBGRAPH_HOURLY_KEY, SUBGRAPH_METRICS_KEY

checks = [
    keys_unique(SUBGRAPH_METRICS_KEY, "core.subgraph_metrics", ("dt", "condition_id")),
    keys_unique(SUBGRAPH_HOURLY_KEY, "core.subgraph_hourly", ("dt", "condition_id", "ts")),
    sql_check(
        SUBGRAPH_METRICS_KEY,
        "non_negative",
        "open interest, volume and trade counts are never negative",
        "SELECT * FROM core.subgraph_metrics WHERE open_interest_usd < 0 OR volume_usd < 0 OR trade_count < 0",
    ),
    sql_check(
        SUBGRAPH_HOURLY_KEY,
        "counters_never_decrease",
        "cumulative volume and trade counts never fall from one hour to the next, and no block is later than the "
        "instant it stands for by more than a minute",
        """
        SELECT * FROM (
            SELECT *, lag(volume_usd) OVER w AS prev_volume, lag(trade_count) OVER w AS prev_trades
            FROM core.subgraph_hourly WINDOW w AS (PARTITION BY dt, condition_id ORDER BY ts)
        ) WHERE volume_usd < prev_volume OR trade_count < prev_trades OR block_ts > ts + INTERVAL 1 MINUTE
        """,
        days_of="core.subgraph_hourly",
    ),
]
