"""Checks of the realtime bars and of capture quality."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import sql_check
from mca_assets.common import warehouse_connection
from mca_assets.realtime.assets import RT_BARS_KEY
from mca_assets.realtime.coverage import RECENT_RUNS, capture_span, listing, measured_silences, reported_silences
from mca_resources.settings import get_settings

BAR_TABLES = ("rt.bars_1m", "rt.bars_5m")


def _union(select: str) -> str:
    return " UNION ALL ".join(select.format(table=t) for t in BAR_TABLES)


def _ohlc_broken(prefix: str) -> str:
    o, h, lo, c = (f"{prefix}{name}" for name in ("open", "high", "low", "close"))
    return f"{lo} > {o} OR {o} > {h} OR {lo} > {c} OR {c} > {h} OR {lo} > {h}"


GAP_SHARE_WARN = get_settings().rt_gap_share_warn
COVERAGE_WARN = get_settings().rt_coverage_warn
SILENCE_S = get_settings().rt_silence_s


@dg.asset_check(
    asset=RT_BARS_KEY,
    name="capture_continuity",
    description=f"the recent capture runs together cover at least {COVERAGE_WARN:.0%} of their span (first window "
    f"start to last window end); lists the silences between runs (> {SILENCE_S:g} s) and those seen in rt.ticks",
)
def capture_continuity(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse_connection(warehouse) as conn:
        span = capture_span(conn)
        reported = reported_silences(conn, 0.0)
        measured = measured_silences(conn, SILENCE_S)
    span_s = float(span["seconds"] or 0.0)  # type: ignore[arg-type]
    coverage = 1.0 - float(reported["seconds"].sum()) / span_s if span_s > 0 else 1.0
    silences = reported.filter(reported["seconds"] > SILENCE_S)
    return dg.AssetCheckResult(
        passed=coverage >= COVERAGE_WARN,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "runs": int(span["runs"]),  # type: ignore[call-overload]
            "span_seconds": span_s,
            "coverage": coverage,
            "silences": silences.height,
            "silence_seconds": float(silences["seconds"].sum()),
            "longest_silence_s": float(silences["seconds"].max() or 0.0),  # type: ignore[arg-type]
            "silences_in_ticks": measured.height,
            "silence_seconds_in_ticks": float(measured["seconds"].sum()),
            "reported": dg.MetadataValue.text(listing(silences)),
            "in_ticks": dg.MetadataValue.text(listing(measured)),
        },
    )


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
        f"capture runs lost at most {GAP_SHARE_WARN:.0%} of their window to reconnects",
        f"SELECT run_id, gap_share, gaps FROM rt.capture_runs WHERE gap_share > {GAP_SHARE_WARN}",
        severity=dg.AssetCheckSeverity.WARN,
    ),
    sql_check(
        RT_BARS_KEY,
        "capture_coverage",
        f"every recent capture run covered at least {COVERAGE_WARN:.0%} of its window (late start, reconnects and an "
        "early stop all count against it)",
        f"SELECT run_id, window_start, coverage, gaps_json FROM rt.capture_runs "
        f"WHERE {RECENT_RUNS} AND coverage < {COVERAGE_WARN}",
        severity=dg.AssetCheckSeverity.WARN,
    ),
    capture_continuity,
]
