"""Checks of ``core.subgraph_metrics``."""

from mca_assets.checklib import keys_unique, sql_check
from mca_assets.subgraph.assets import SUBGRAPH_METRICS_KEY

checks = [
    keys_unique(SUBGRAPH_METRICS_KEY, "core.subgraph_metrics", ("dt", "condition_id")),
    sql_check(
        SUBGRAPH_METRICS_KEY,
        "non_negative",
        "open interest, volume and trade counts are never negative",
        "SELECT * FROM core.subgraph_metrics WHERE open_interest_usd < 0 OR volume_usd < 0 OR trade_count < 0",
    ),
]
