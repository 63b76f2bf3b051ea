"""Checks of the scoreboard, the reliability bins and the interval backtest."""

import dagster as dg

from mca_assets.calibration.assets import BINS_KEY, SCOREBOARD_KEY
from mca_assets.calibration.drift import DRIFT_KEY
from mca_assets.calibration.intervals import BANDS_KEY, CONFORMAL_STATE_KEY, INTERVAL_METRICS_KEY
from mca_assets.checklib import keys_unique, probabilities_in_range, sql_check
from mca_resources.settings import get_settings

#: markets a coverage must come from to be judged (the drift detector's rule, MCA_DRIFT_COVERAGE_MIN_MARKETS)
MIN_MARKETS = get_settings().drift_coverage_min_markets

checks = [
    keys_unique(SCOREBOARD_KEY, "calib.scoreboard", ("dt", '"window"', "horizon", "segment_type", "segment")),
    sql_check(
        SCOREBOARD_KEY,
        "metrics_in_range",
        "Brier in [0, 1] inside its interval (float32 bootstrap sums: 1e-6 slack), log loss and ECEs non-negative, "
        "the debiased ECE inside its interval, Murphy terms in [0, 1], n_events <= n, low_confidence exactly when "
        "n < 30",
        "SELECT * FROM calib.scoreboard WHERE NOT (brier BETWEEN 0 AND 1) OR brier < brier_ci_low - 1e-6 "
        "OR brier > brier_ci_high + 1e-6 OR log_loss < 0 OR ece < 0 OR ece_debiased < 0 "
        "OR NOT (ece_debiased BETWEEN ece_debiased_ci_low AND ece_debiased_ci_high) "
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

interval_checks = [
    keys_unique(BANDS_KEY, "calib.forecast_bands",
                ("dt", "method", "band_calibration", "market_id", "origin_ts", "step")),
    sql_check(
        BANDS_KEY,
        "bands_ordered_in_unit_interval",
        "0 <= q10 <= q50 <= q90 <= 1 and each band forecasts after its origin",
        "SELECT * FROM calib.forecast_bands WHERE NOT (0 <= q10 AND q10 <= q50 AND q50 <= q90 AND q90 <= 1) "
        "OR ts <= origin_ts",
        blocking=True,
    ),
    keys_unique(INTERVAL_METRICS_KEY, "calib.interval_metrics",
                ("dt", "method", "band_calibration", "segment_type", "segment", "nominal")),
    probabilities_in_range(INTERVAL_METRICS_KEY, "calib.interval_metrics", ("coverage", "mean_width")),
    sql_check(
        INTERVAL_METRICS_KEY,
        "coverage_near_target",
        "held-out conformal coverage of the 80 % band within 0.05 of target, beyond its sampling error (1.96 "
        f"market-clustered standard errors), where n >= 200 from >= {MIN_MARKETS} markets (WARN: recalibrate)",
        "SELECT * FROM calib.interval_metrics WHERE band_calibration = 'conformal' AND n >= 200 "
        f"AND n_markets >= {MIN_MARKETS} "
        "AND abs(coverage - nominal) > 0.05 + 1.96 * coalesce(coverage_se, 'inf'::DOUBLE)",
        severity=dg.AssetCheckSeverity.WARN,
        days_of="calib.interval_metrics",
    ),
    keys_unique(CONFORMAL_STATE_KEY, "calib.conformal_state", ("dt", "method", "segment")),
]  # fmt: skip
checks += interval_checks

checks.append(
    sql_check(
        DRIFT_KEY,
        "no_drift",
        "no drift detector fired on the days the run wrote (WARN: calibration is moving, see calib.drift)",
        "SELECT * FROM calib.drift WHERE fired",
        severity=dg.AssetCheckSeverity.WARN,
        days_of="calib.drift",
    )
)
