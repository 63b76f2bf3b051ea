"""Checks of ``core.price_history``: keys, prices, live points inside their day, the day's path coverage, and equal
prices where a cohort's look-back repeats an earlier day's points."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.checklib import keys_unique, probabilities_in_range, scoped, sql_check
from mca_assets.common import warehouse_connection
from mca_assets.history.assets import PRICE_HISTORY_KEY

#: below this share of the day's markets (open two hours or more) with a path, the coverage check warns
MIN_PATH_SHARE = 0.99

#: markets of a day open for at least two hours of it, and whether the day's partition has a point for them
COVERAGE_SQL = """
SELECT m.dt, m.market_id, EXISTS (
    SELECT 1 FROM core.price_history h WHERE h.dt = m.dt AND h.market_id = m.market_id
      AND h.ts >= m.dt::TIMESTAMPTZ AND h.ts < (m.dt + INTERVAL 1 DAY)::TIMESTAMPTZ
) AS has_path
FROM core.markets m
WHERE m.yes_token_id IS NOT NULL
  AND least(coalesce(m.closed_ts, m.end_ts, (m.dt + INTERVAL 1 DAY)::TIMESTAMPTZ), (m.dt + INTERVAL 1 DAY)::TIMESTAMPTZ)
      - greatest(coalesce(m.start_ts, m.created_ts, m.dt::TIMESTAMPTZ), m.dt::TIMESTAMPTZ) >= INTERVAL 2 HOUR
"""


@dg.asset_check(
    asset=PRICE_HISTORY_KEY,
    name="day_paths_cover_the_markets",
    description=f"at least {MIN_PATH_SHARE:.0%} of the markets open two hours or more of the day have a path that "
    "day (WARN, with the missing ids)",
)
def day_paths_cover_the_markets(
    context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource
) -> dg.AssetCheckResult:
    sql, params, judged = scoped(context, COVERAGE_SQL, "core.price_history")
    with warehouse_connection(warehouse) as conn:
        total, covered = conn.execute(f"SELECT count(*), count(*) FILTER (has_path) FROM ({sql})", params).fetchone()  # type: ignore[misc]
        missing = [
            r[0] for r in conn.execute(f"SELECT market_id FROM ({sql}) WHERE NOT has_path LIMIT 50", params).fetchall()
        ]
    share = covered / total if total else 1.0
    return dg.AssetCheckResult(
        passed=share >= MIN_PATH_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"judged": judged, "markets": total, "with_path": covered, "share": round(share, 4),
                  "missing_market_ids": dg.MetadataValue.json(missing)},
    )  # fmt: skip


checks = [
    keys_unique(PRICE_HISTORY_KEY, "core.price_history", ("dt", "market_id", "ts")),
    probabilities_in_range(PRICE_HISTORY_KEY, "core.price_history", ("p",)),
    sql_check(
        PRICE_HISTORY_KEY,
        "live_points_inside_their_day",
        "a market that did not resolve on dt has points of dt only in dt's partition (no look-ahead, no stray day)",
        "SELECT h.* FROM core.price_history h WHERE NOT EXISTS (SELECT 1 FROM core.resolutions r WHERE r.dt = h.dt "
        "AND r.market_id = h.market_id) AND (h.ts < h.dt::TIMESTAMPTZ OR h.ts >= (h.dt + INTERVAL 1 DAY)::TIMESTAMPTZ)",
        days_of="core.price_history",
    ),
    sql_check(
        PRICE_HISTORY_KEY,
        "same_price_across_days",
        "a point repeated by a cohort's look-back has the price the earlier day's partition holds",
        "SELECT max(dt) AS dt, market_id, ts, min(p) AS low, max(p) AS high FROM core.price_history "
        "GROUP BY market_id, ts HAVING max(p) - min(p) > 1e-9",
        severity=dg.AssetCheckSeverity.WARN,
        days_of="core.price_history",
    ),
    day_paths_cover_the_markets,
]
