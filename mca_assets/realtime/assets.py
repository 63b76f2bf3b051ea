"""``rt.bars_1m`` and ``rt.bars_5m`` rebuilt for a UTC day from that day's ``rt.ticks``.

The capture runs (``mca_sensors``) write bars as they load; this asset recomputes a day from the stored ticks with
the same ``mca_core.bars.build_bars``, so re-materializing is idempotent and equals what the captures wrote (a bar
depends only on the ticks in its bucket). Use it after a backfill of ticks or a change of the bar definition.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.common import daily_asset, partition_dates, preview, warehouse_connection, write_days
from mca_core.bars import build_bars
from mca_resources.warehouse import read_frame

RT_BARS_KEY = dg.AssetKey(["rt", "bars"])

TICKS_OF_DAY_SQL = "SELECT * FROM rt.ticks WHERE dt = $dt"


@daily_asset(
    RT_BARS_KEY,
    group="realtime",
    description="1-minute and 5-minute bars (mid and trade OHLC, volume, realized volatility) from the day's ticks.",
)
def rt_bars(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    bars_1m, bars_5m = {}, {}
    with warehouse_connection(warehouse) as conn:
        for dt in partition_dates(context):
            ticks = read_frame(conn, TICKS_OF_DAY_SQL, {"dt": dt})
            bars_1m[dt] = build_bars(ticks, "1m")
            bars_5m[dt] = build_bars(ticks, "5m")
    written_1m = write_days(warehouse, "rt.bars_1m", bars_1m)
    written_5m = write_days(warehouse, "rt.bars_5m", bars_5m)
    last = bars_1m[max(bars_1m)]
    return dg.MaterializeResult(
        metadata={
            "rows_1m": sum(written_1m.values()),
            "rows_5m": sum(written_5m.values()),
            "rows_per_day_1m": dg.MetadataValue.json(written_1m),
            "assets": last["asset_id"].n_unique(),
            "preview": preview(last),
        }
    )
