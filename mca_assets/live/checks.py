"""Checks of ``core.live_paths``: keys, prices, and bands for every market of the latest refresh long enough to
forecast."""

import dagster as dg

from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_assets.forecasts.assets import FORECAST_BANDS_KEY
from mca_assets.live.assets import LIVE_PATHS_KEY
from mca_resources.settings import get_settings

checks = [
    keys_unique(LIVE_PATHS_KEY, "core.live_paths", ("market_id", "ts")),
    probabilities_in_range(LIVE_PATHS_KEY, "core.live_paths", ("p",)),
    sql_check(
        FORECAST_BANDS_KEY,
        "bands_for_the_refreshed_markets",
        "every market of the latest refresh of core.live_paths with at least the forecaster's minimum of points has "
        "bands as of the latest forecast run (WARN)",
        f"""
        SELECT l.market_id, count(*) AS points FROM core.live_paths l
        WHERE l.refreshed_ts = (SELECT max(refreshed_ts) FROM core.live_paths)
        GROUP BY l.market_id HAVING count(*) >= {get_settings().tsfm_min_points}
           AND l.market_id NOT IN (SELECT market_id FROM serving.forecast_bands
                                   WHERE as_of_ts = (SELECT max(as_of_ts) FROM serving.forecast_bands))
        """,
        severity=dg.AssetCheckSeverity.WARN,
    ),
]
