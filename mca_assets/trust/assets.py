"""``trust.trust_scores``: the 0-100 trust score of every market of the day, its components and reasons.

Read per day, from the warehouse only: the day's ``core.markets`` (texts, liquidity, spread, end date), the day's
hourly ``core.market_snapshots`` points (``clob_history``: price, on-chain cumulative volume and open interest),
and the 1d-horizon ``core.cutoff_snapshots`` of the 90 days before dt for the segment record (what the
scoreboard of dt - 1 is built from: never the day itself). The score is as of the end of dt. Formulas and defaults
in ``mca_core.trust`` and docs/trust.md; the config (``MCA_TRUST_CONFIG_FILE``) goes into the metadata.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import msgspec
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import non_empty_spec
from mca_assets.common import (
    daily_asset,
    every_day,
    partition_dates,
    preview,
    warehouse_connection,
    write_days,
    written_result,
)
from mca_assets.cutoff.assets import CUTOFFS_KEY
from mca_assets.normalize.assets import MARKETS_KEY
from mca_assets.snapshots.assets import SNAPSHOTS_KEY
from mca_core.clarity import scorer_for
from mca_core.trust import COMPONENTS, segment_records, trust_scores
from mca_core.trust_params import TrustConfig
from mca_resources.dagster_resources import TrustResource
from mca_resources.warehouse import read_frame

TRUST_KEY = dg.AssetKey(["trust", "trust_scores"])
#: the horizon and window of the segment record (docs/trust.md)
RECORD_HORIZON, RECORD_DAYS = "1d", 90
#: rows of the lowest-trust table in the metadata
LOWEST_SHOWN = 15

MARKETS_SQL = """
SELECT market_id, category, liquidity_bucket, volume_24h, liquidity_usd, spread, end_ts, question, description,
       resolution_source
FROM core.markets WHERE dt = ? ORDER BY market_id
"""
POINTS_SQL = """
SELECT market_id, ts, p_yes, volume_usd, open_interest_usd
FROM core.market_snapshots WHERE dt = ? AND source = 'clob_history' ORDER BY market_id, ts
"""
RECORD_SQL = """
SELECT category, liquidity_bucket, p_yes, y FROM core.cutoff_snapshots
WHERE dt BETWEEN ? AND ? AND horizon = ?
"""


def score_day(conn: duckdb.DuckDBPyConnection, dt: date, config: TrustConfig) -> pl.DataFrame:
    """The rows of ``trust.trust_scores`` for ``dt`` (sorted by market_id)."""
    markets = read_frame(conn, MARKETS_SQL, [dt])
    points = read_frame(conn, POINTS_SQL, [dt])
    resolved = read_frame(conn, RECORD_SQL, [dt - timedelta(days=RECORD_DAYS), dt - timedelta(days=1), RECORD_HORIZON])
    clarity = scorer_for(config.clarity_scorer).score(
        markets.select("market_id", "question", "description", "resolution_source")
    )
    as_of = datetime(dt.year, dt.month, dt.day, tzinfo=UTC) + timedelta(days=1)
    scored = trust_scores(markets, points, clarity, segment_records(resolved), as_of, config)
    reasons = pl.col("low_confidence_reasons")
    return scored.join(clarity.select("market_id", "clarity_reasons"), on="market_id", how="left").select(
        pl.lit(dt).alias("dt"),
        "market_id",
        "trust_score",
        "formula_version",
        "low_confidence",
        pl.when(reasons.list.len() > 0).then(reasons.list.join(",")).alias("low_confidence_reason"),
        *COMPONENTS,
        "manipulation_signal",
        "weakest_component",
        pl.col("clarity_reasons").fill_null([]),
    )


def _distribution(frame: pl.DataFrame) -> dg.MetadataValue:
    """Markets per 10-point band of the score, as a markdown bar table."""
    counts = dict(
        frame.group_by((pl.col("trust_score") // 10).clip(0, 9).cast(pl.Int64).alias("band")).len().iter_rows()
    )
    top = max(counts.values(), default=1)
    lines = ["| trust | markets | |", "|---|---|---|"]
    for band in range(10):
        n = counts.get(band, 0)
        lines.append(f"| {band * 10}-{band * 10 + 10} | {n} | {'█' * round(30 * n / top)} |")
    return dg.MetadataValue.md("\n".join(lines))


@daily_asset(
    TRUST_KEY,
    group="trust",
    description="Trust score 0-100 of every market of the day with its six components, its weakest component, the "
    "strongest manipulation signal, clarity reasons and low-confidence reasons.",
    deps=[MARKETS_KEY, SNAPSHOTS_KEY, every_day(CUTOFFS_KEY)],  # the segment record: 90 days
    owners=["team:research"],
    check_specs=[non_empty_spec(TRUST_KEY, dg.AssetCheckSeverity.WARN)],
)
def trust_scores_asset(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, trust: TrustResource
) -> dg.MaterializeResult:
    config = trust.config()
    frames = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            frames[dt] = score_day(conn, dt, config)
    written = write_days(warehouse, "trust.trust_scores", frames)
    last = frames[max(frames)]
    lowest = last.sort("trust_score", "market_id").head(LOWEST_SHOWN)
    return written_result(
        written,
        dg.AssetCheckSeverity.WARN,
        formula_version=config.formula_version,
        trust_config=dg.MetadataValue.json(msgspec.to_builtins(config)),
        config_file=trust.config_file or "(defaults)",
        low_confidence_share=float(last["low_confidence"].mean() or 0.0) if last.height else 0.0,
        score_distribution=_distribution(last),
        lowest_trust=preview(
            lowest.select(
                "market_id", "trust_score", "weakest_component", "manipulation_signal", "low_confidence_reason"
            ),
            rows=LOWEST_SHOWN,
        ),
        median_score=float(last["trust_score"].median() or 0.0) if last.height else 0.0,
    )
