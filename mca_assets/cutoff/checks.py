"""Checks of ``core.cutoff_snapshots``."""

from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_assets.cutoff.assets import CUTOFFS_KEY

checks = [
    keys_unique(CUTOFFS_KEY, "core.cutoff_snapshots", ("dt", "market_id", "horizon")),
    probabilities_in_range(CUTOFFS_KEY, "core.cutoff_snapshots", ("p_yes",)),
    sql_check(
        CUTOFFS_KEY,
        "never_after_cutoff",
        "the forecast price was observed at or before its cutoff (cutoff_ts >= snapshot_ts)",
        "SELECT market_id, horizon, cutoff_ts, snapshot_ts FROM core.cutoff_snapshots WHERE snapshot_ts > cutoff_ts "
        "OR staleness_seconds <> epoch(cutoff_ts) - epoch(snapshot_ts)",
        blocking=True,
    ),
    sql_check(
        CUTOFFS_KEY,
        "outcome_is_binary",
        "y is 0 or 1 and horizons are 1h, 4h, 1d, 1w, 1m",
        "SELECT market_id, horizon, y FROM core.cutoff_snapshots WHERE y NOT IN (0, 1) "
        "OR horizon NOT IN ('1h', '4h', '1d', '1w', '1m')",
        blocking=True,
    ),
]
