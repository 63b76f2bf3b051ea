"""Checks of the scoreboard and the reliability bins."""

from mca_assets.calibration.assets import BINS_KEY, SCOREBOARD_KEY
from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check

checks = [
    keys_unique(SCOREBOARD_KEY, "calib.scoreboard", ("dt", '"window"', "horizon", "segment_type", "segment")),
    sql_check(
        SCOREBOARD_KEY,
        "metrics_in_range",
        "Brier in [0, 1] inside its interval, log loss and ECEs non-negative, Murphy terms in [0, 1], "
        "n_events <= n, low_confidence exactly when n < 30",
        "SELECT * FROM calib.scoreboard WHERE NOT (brier BETWEEN 0 AND 1) OR brier < brier_ci_low - 1e-12 "
        "OR brier > brier_ci_high + 1e-12 OR log_loss < 0 OR ece < 0 OR ece_debiased < 0 "
        "OR NOT (reliability BETWEEN 0 AND 1) OR NOT (resolution BETWEEN 0 AND 1) "
        "OR NOT (uncertainty BETWEEN 0 AND 0.25) "
        "OR n_events > n OR low_confidence <> (n < 30)",
        blocking=True,
    ),
    keys_unique(BINS_KEY, "calib.reliability_bins", ("dt", '"window"', "horizon", "segment_type", "segment", "bin")),
    probabilities_in_range(BINS_KEY, "calib.reliability_bins", ("p_mean", "y_rate", "y_rate_ci_low", "y_rate_ci_high")),
    sql_check(
        BINS_KEY,
        "wilson_contains_rate",
        "every bin's observed rate lies inside its Wilson interval",
        "SELECT * FROM calib.reliability_bins WHERE y_rate < y_rate_ci_low - 1e-12 OR y_rate > y_rate_ci_high + 1e-12",
    ),
]
