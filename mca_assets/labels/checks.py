"""Checks of ``core.resolutions``."""

from mca_assets.checklib import keys_unique, sql_check
from mca_assets.labels.assets import RESOLUTIONS_KEY

checks = [
    keys_unique(RESOLUTIONS_KEY, "core.resolutions", ("dt", "market_id")),
    sql_check(
        RESOLUTIONS_KEY,
        "label_vocabulary",
        "labels are RESOLVED_TRUE, RESOLVED_FALSE, VOID or UNRESOLVED; y is 1/0 exactly for RESOLVED_*",
        "SELECT market_id, label, y FROM core.resolutions WHERE label NOT IN "
        "('RESOLVED_TRUE', 'RESOLVED_FALSE', 'VOID', 'UNRESOLVED') "
        "OR (label = 'RESOLVED_TRUE' AND y IS DISTINCT FROM 1) OR (label = 'RESOLVED_FALSE' AND y IS DISTINCT FROM 0) "
        "OR (label IN ('VOID', 'UNRESOLVED') AND y IS NOT NULL)",
        blocking=True,
    ),
    sql_check(
        RESOLUTIONS_KEY,
        "resolved_on_its_day",
        "every market of partition dt resolved on the UTC day dt",
        "SELECT market_id, dt, resolved_ts FROM core.resolutions "
        "WHERE CAST(timezone('UTC', resolved_ts) AS DATE) <> dt",
        blocking=True,
    ),
]
