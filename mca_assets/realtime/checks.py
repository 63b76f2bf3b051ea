"""Checks of the realtime bars and of capture quality."""

import dagster as dg

from mca_assets.checklib import sql_check
from mca_assets.realtime.assets import RT_BARS_KEY
from mca_resources.settings import get_settings

BAR_TABLES = ("rt.bars_1m", "rt.bars_5m")


def _union(select: str) -> str:
    return " UNION ALL ".join(select.format(table=t) for t in BAR_TABLES)


def _ohlc_broken(prefix: str) -> str:
    o, h, lo, c = (f"{prefix}{name}" for name in ("open", "high", "low", "close"))
    return f"{lo} > {o} OR {o} > {h} OR {lo} > {c} OR {c} > {h} OR {lo} > {h}"


GAP_SHARE_WARN = get_settings().rt_gap_share_warn

checks = [
    sql_check(
        RT_BARS_KEY,
        "keys_unique",
        "(asset_id, bucket_start) identifies one bar in rt.bars_1m and in rt.bars_5m",
        _union("SELECT '{table}' AS tbl, asset_id, bucket_start, count(*) AS n FROM {table} GROUP BY ALL HAVING n > 1"),
        blocking=True,
    ),
    sql_check(
        RT_BARS_KEY,
        "ohlc_consistent",
        "low <= open, close <= high for the mid bar and the trade bar",
        _union(
            "SELECT '{table}' AS tbl, asset_id, bucket_start, open, high, low, close FROM {table} "
            f"WHERE {_ohlc_broken('')} OR {_ohlc_broken('trade_')}"
        ),
    ),
    sql_check(
        RT_BARS_KEY,
        "inside_its_day",
        "every bar of day dt starts within [dt, dt + 1 day) UTC",
        _union(
            "SELECT '{table}' AS tbl, asset_id, dt, bucket_start FROM {table} "
            "WHERE bucket_start < timezone('UTC', dt::TIMESTAMP) "
            "OR bucket_start >= timezone('UTC', (dt + INTERVAL 1 DAY)::TIMESTAMP)"
        ),
    ),
    sql_check(
        RT_BARS_KEY,
        "capture_gap_share",
        f"capture runs spent at most {GAP_SHARE_WARN:.0%} of their window disconnected",
        f"SELECT run_id, gap_share, gaps FROM rt.capture_runs WHERE gap_share > {GAP_SHARE_WARN}",
        severity=dg.AssetCheckSeverity.WARN,
    ),
]
