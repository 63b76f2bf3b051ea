"""Checks of the forecast bands: keys unique, probabilities in [0, 1], quantiles monotone."""

from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_assets.forecasts.assets import FORECAST_BANDS_KEY

TABLE = "serving.forecast_bands"

checks = [
    keys_unique(FORECAST_BANDS_KEY, TABLE, ("as_of_ts", "market_id", "step")),
    probabilities_in_range(FORECAST_BANDS_KEY, TABLE, ("q10", "q50", "q90")),
    sql_check(
        FORECAST_BANDS_KEY,
        "quantiles_monotone",
        "q10 <= q50 <= q90 on every row",
        f"SELECT * FROM {TABLE} WHERE NOT (q10 <= q50 AND q50 <= q90)",
        blocking=True,
    ),
]
