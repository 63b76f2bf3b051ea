"""Check builders shared by every stage: each check is one SQL count of violating rows, with a sample.

Integrity checks (keys, ranges) read the whole table (Dagster's partitioned checks are a preview in 1.13), so a
bad row anywhere fails them; the metadata names the violating rows. Quality checks (coverage, drift) judge the
days the run wrote (``days_of``): a past day's WARN must not fail every later run, and a backfill of old days
judges each day once. Severity is chosen per check: ERROR and blocking where bad data would spread downstream,
WARN where a human should look.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.common import warehouse_connection

#: run tags Dagster sets on a partitioned run (a single day, or a range as one run)
_PARTITION_TAG = "dagster/partition"
_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_days(context: dg.AssetCheckExecutionContext) -> tuple[date, date] | None:
    """The first and last day the check's run materializes, or None outside a partitioned run."""
    tags = context.run.tags
    if _PARTITION_TAG in tags:
        day = date.fromisoformat(tags[_PARTITION_TAG])
        return day, day
    if all(tag in tags for tag in _RANGE_TAGS):
        return date.fromisoformat(tags[_RANGE_TAGS[0]]), date.fromisoformat(tags[_RANGE_TAGS[1]])
    return None


def scoped(context: dg.AssetCheckExecutionContext, sql: str, days_of: str) -> tuple[str, list[object], str]:
    """``sql`` (rows with a ``dt``) cut to the days the run wrote, else to the latest day of ``days_of``; with the
    parameters and a description of what is judged, for the check's metadata."""
    days = run_days(context)
    if days is None:
        return f"SELECT * FROM ({sql}) WHERE dt = (SELECT max(dt) FROM {days_of})", [], "the latest day"
    return f"SELECT * FROM ({sql}) WHERE dt BETWEEN ? AND ?", list(days), f"{days[0]} .. {days[1]}"


def _violations(warehouse: DuckDBResource, sql: str, params: list[object]) -> tuple[int, list[tuple[object, ...]]]:
    with warehouse_connection(warehouse) as conn:
        count = conn.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]  # type: ignore[index]
        sample = conn.execute(f"SELECT * FROM ({sql}) LIMIT 5", params).fetchall() if count else []
    return int(count), sample


def sql_check(
    asset: dg.AssetKey,
    name: str,
    description: str,
    violations_sql: str,
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    blocking: bool = False,
    days_of: str | None = None,
) -> dg.AssetChecksDefinition:
    """A check that passes when ``violations_sql`` returns no row.

    ``days_of`` (a table): only the rows of the days the run wrote count (the SQL's rows need a ``dt``); outside a
    partitioned run, the latest day of that table.
    """

    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource) -> dg.AssetCheckResult:
        sql, params, judged = (
            (violations_sql, [], "every day") if days_of is None else scoped(context, violations_sql, days_of)
        )
        count, sample = _violations(warehouse, sql, params)
        return dg.AssetCheckResult(
            passed=count == 0,
            severity=severity,
            metadata={
                "violations": count,
                "judged": judged,
                "sample": dg.MetadataValue.text("\n".join(map(repr, sample))),
            },
        )

    return _check


def keys_unique(asset: dg.AssetKey, table: str, keys: Sequence[str], blocking: bool = True) -> dg.AssetChecksDefinition:
    cols = ", ".join(keys)
    return sql_check(
        asset,
        "keys_unique",
        f"({cols}) identifies one row of {table}",
        f"SELECT {cols}, count(*) AS n FROM {table} GROUP BY ALL HAVING count(*) > 1",
        blocking=blocking,
    )


def probabilities_in_range(
    asset: dg.AssetKey, table: str, columns: Sequence[str], blocking: bool = True
) -> dg.AssetChecksDefinition:
    bad = " OR ".join(f"({c} IS NOT NULL AND NOT ({c} BETWEEN 0 AND 1))" for c in columns)
    return sql_check(
        asset,
        "probabilities_in_range",
        f"{', '.join(columns)} of {table} lie in [0, 1]",
        f"SELECT * FROM {table} WHERE {bad}",
        blocking=blocking,
    )


NON_EMPTY = "partition_non_empty"


def non_empty_spec(asset: dg.AssetKey, severity: dg.AssetCheckSeverity) -> dg.AssetCheckSpec:
    """A check evaluated inside the asset (it knows which days it wrote): every day written has rows."""
    return dg.AssetCheckSpec(
        NON_EMPTY, asset=asset, description=f"every day written has rows ({severity.value} when one has none)"
    )


def non_empty_result(rows_per_day: dict[str, int], severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    empty = [day for day, rows in rows_per_day.items() if rows == 0]
    return dg.AssetCheckResult(
        check_name=NON_EMPTY, passed=not empty, severity=severity, metadata={"empty_days": dg.MetadataValue.json(empty)}
    )


def fresh(asset: dg.AssetKey, table: str, max_age_days: int = 2) -> dg.AssetChecksDefinition:
    """WARN when the newest partition is older than ``max_age_days`` (the daily schedule stopped?).

    Judged in a run that writes a recent day (the nightly run) or outside any partitioned run; a backfill of
    older days says so and passes: the table cannot be fresh yet while its history is being rebuilt.
    """

    @dg.asset_check(asset=asset, name="fresh", description=f"{table} has a partition within {max_age_days} days")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: DuckDBResource) -> dg.AssetCheckResult:
        limit = datetime.now(UTC).date() - timedelta(days=max_age_days)
        days = run_days(context)
        if days is not None and days[1] < limit:
            return dg.AssetCheckResult(
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"judged": f"not judged: this run backfills {days[0]} .. {days[1]}, older than {limit}"},
            )
        with warehouse_connection(warehouse) as conn:
            latest = conn.execute(f"SELECT max(dt) FROM {table}").fetchone()[0]  # type: ignore[index]
        return dg.AssetCheckResult(
            passed=latest is not None and latest >= limit,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"judged": "now", "latest_dt": str(latest), "oldest_acceptable": str(limit)},
        )

    return _check
