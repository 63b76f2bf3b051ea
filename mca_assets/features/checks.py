"""Checks of ``core.features``."""

from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_assets.features.assets import FEATURES_KEY

checks = [
    keys_unique(FEATURES_KEY, "core.features", ("dt", "market_id", "ts")),
    probabilities_in_range(FEATURES_KEY, "core.features", ("p_yes",)),
    sql_check(
        FEATURES_KEY,
        "bounded",
        "returns lie in [-1, 1], volatility and spread are non-negative, time to expiry is non-negative",
        "SELECT * FROM core.features WHERE abs(ret_1h) > 1 OR abs(ret_1d) > 1 OR vol_24h < 0 OR spread < 0 "
        "OR tte_hours < 0",
    ),
]
