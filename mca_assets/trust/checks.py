"""Checks of ``trust.trust_scores``."""

import dagster as dg

from mca_assets.checklib import keys_unique, sql_check
from mca_assets.trust.assets import TRUST_KEY
from mca_core.trust import COMPONENTS
from mca_resources.settings import get_settings

#: a day with a larger share of low-confidence rows is a WARN (MCA_TRUST_LOW_CONFIDENCE_WARN)
LOW_CONFIDENCE_WARN = get_settings().trust_low_confidence_warn
_OUTSIDE = " OR ".join(f"NOT ({name} BETWEEN 0 AND 1)" for name in COMPONENTS)

checks = [
    keys_unique(TRUST_KEY, "trust.trust_scores", ("dt", "market_id")),
    sql_check(
        TRUST_KEY,
        "score_in_range",
        "trust_score lies in [0, 100]",
        "SELECT dt, market_id, trust_score FROM trust.trust_scores WHERE NOT (trust_score BETWEEN 0 AND 100)",
        blocking=True,
    ),
    sql_check(
        TRUST_KEY,
        "components_in_range",
        f"every component ({', '.join(COMPONENTS)}) lies in [0, 1]",
        f"SELECT * FROM trust.trust_scores WHERE {_OUTSIDE}",
        blocking=True,
    ),
    sql_check(
        TRUST_KEY,
        "low_confidence_share",
        f"at most {LOW_CONFIDENCE_WARN:.0%} of a day's rows are low-confidence (WARN: inputs are missing)",
        "SELECT dt, avg(low_confidence::INTEGER) AS share, count(*) AS n FROM trust.trust_scores GROUP BY dt "
        f"HAVING avg(low_confidence::INTEGER) > {LOW_CONFIDENCE_WARN}",
        severity=dg.AssetCheckSeverity.WARN,
        days_of="trust.trust_scores",
    ),
    sql_check(
        TRUST_KEY,
        "every_market_with_a_path_scored",
        "every market with an hourly path point in core.market_snapshots of the day has a trust row",
        "SELECT DISTINCT s.dt, s.market_id FROM core.market_snapshots s WHERE s.source = 'clob_history' "
        "AND s.dt IN (SELECT DISTINCT dt FROM trust.trust_scores) "
        "AND NOT EXISTS (SELECT 1 FROM trust.trust_scores t WHERE t.dt = s.dt AND t.market_id = s.market_id)",
        days_of="trust.trust_scores",
    ),
]
