"""Checks of ``core.market_snapshots``."""

from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_assets.snapshots.assets import SNAPSHOTS_KEY

checks = [
    keys_unique(SNAPSHOTS_KEY, "core.market_snapshots", ("dt", "market_id", "ts")),
    probabilities_in_range(SNAPSHOTS_KEY, "core.market_snapshots", ("p_yes", "best_bid", "best_ask")),
    sql_check(
        SNAPSHOTS_KEY,
        "inside_its_day",
        "a snapshot of day dt is taken within [dt, dt + 1 day]",
        "SELECT market_id, dt, ts FROM core.market_snapshots WHERE ts < dt::TIMESTAMPTZ "
        "OR ts > (dt + INTERVAL 1 DAY)::TIMESTAMPTZ",
    ),
]
