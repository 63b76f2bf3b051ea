"""``calib.scoreboard`` and ``calib.reliability_bins``: how far prices read as probabilities, as of each day.

The partition ``dt`` is the as-of day: windows 1d, 30d, 90d, 365d and all cover the resolution cohorts up to and
including ``dt`` (`mca_core.scoreboard`). Each materialization carries the reliability diagram of the 90-day
window, one curve per horizon, as an SVG image in its metadata.
"""

import base64

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.common import BACKFILL, WRITER_POOL, every_day, partition_dates, preview, warehouse_connection
from mca_assets.cutoff.assets import CUTOFFS_KEY
from mca_assets.partitions import daily_partitions
from mca_core.cutoffs import HORIZONS
from mca_core.diagrams import Curve, reliability_svg
from mca_core.scoreboard import build_scoreboard
from mca_resources.warehouse import read_frame, replace_partition

SCOREBOARD_KEY = dg.AssetKey(["calib", "scoreboard"])
BINS_KEY = dg.AssetKey(["calib", "reliability_bins"])
DIAGRAM_WINDOW = "90d"


def diagram(bins: pl.DataFrame, title: str) -> str:
    """The reliability diagram of one window, segment "all", one curve per horizon, as SVG."""
    curves = []
    chosen = bins.filter((pl.col("window") == DIAGRAM_WINDOW) & (pl.col("segment_type") == "all"))
    for horizon in HORIZONS:
        rows = chosen.filter(pl.col("horizon") == horizon).sort("bin")
        if rows.height:
            curves.append(
                Curve(horizon, rows["p_mean"].to_list(), rows["y_rate"].to_list(),
                      rows["y_rate_ci_low"].to_list(), rows["y_rate_ci_high"].to_list())
            )  # fmt: skip
    return reliability_svg(curves, title)


def _image_md(svg: str) -> dg.MetadataValue:
    encoded = base64.b64encode(svg.encode()).decode()
    return dg.MetadataValue.md(f"![reliability diagram](data:image/svg+xml;base64,{encoded})")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(SCOREBOARD_KEY, deps=[every_day(CUTOFFS_KEY)],
                     group_name="calibration", kinds={"duckdb", "polars"},
                     owners=["team:research"], description="Brier (bootstrap interval over events), log loss, ECE, "
                     "debiased ECE, Murphy decomposition, logistic slope/intercept by window, horizon, segment."),
        dg.AssetSpec(BINS_KEY, deps=[every_day(CUTOFFS_KEY)], group_name="calibration", kinds={"duckdb", "polars"},
                     owners=["team:research"], description="Reliability diagram points with Wilson intervals."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL,
    pool=WRITER_POOL,
    code_version="1",
)  # fmt: skip
def scoreboard(context: dg.AssetExecutionContext, warehouse: DuckDBResource):  # type: ignore[no-untyped-def]
    rows = {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            cutoffs = read_frame(conn, "SELECT * FROM core.cutoff_snapshots WHERE dt <= ?", [dt])
            result = build_scoreboard(cutoffs, as_of=dt)
            rows[dt] = (
                replace_partition(conn, "calib.scoreboard", dt, result.scoreboard),
                replace_partition(conn, "calib.reliability_bins", dt, result.reliability_bins),
            )
    last = max(rows)
    headline = result.scoreboard.filter((pl.col("window") == "all") & (pl.col("segment_type") == "all"))
    yield dg.MaterializeResult(
        asset_key=SCOREBOARD_KEY,
        metadata={
            "rows": sum(r[0] for r in rows.values()),
            "as_of": str(last),
            "headline": preview(headline.select("horizon", "n", "brier", "log_loss", "ece", "slope", "intercept")),
            "reliability_diagram": _image_md(
                diagram(result.reliability_bins, f"reliability, {DIAGRAM_WINDOW} to {last}")
            ),
        },
    )
    yield dg.MaterializeResult(asset_key=BINS_KEY, metadata={"rows": sum(r[1] for r in rows.values())})
