"""Checks of the alerts table: one row per alert_id, known sources and severities, rule alerts with a market."""

from mca_assets.alerts.assets import ALERTS_KEY
from mca_assets.checklib import keys_unique, sql_check

TABLE = "alerts.alerts"

checks = [
    keys_unique(ALERTS_KEY, TABLE, ("alert_id",)),
    sql_check(
        ALERTS_KEY,
        "vocabulary",
        "source in rule/check/drift/run, severity in HIGH/MED/FYI, rule alerts name a market",
        f"SELECT * FROM {TABLE} WHERE source NOT IN ('rule', 'check', 'drift', 'run') "
        "OR severity NOT IN ('HIGH', 'MED', 'FYI') OR (source = 'rule' AND market_id IS NULL) "
        "OR last_seen_ts < first_seen_ts",
    ),
]
