"""Check builders shared by every stage: each check is one SQL count of violating rows, with a sample.

Checks read the whole table (Dagster's partitioned checks are a preview in 1.13), so a bad row anywhere fails
them; the metadata names the violating rows. Severity is chosen per check: ERROR and blocking where bad data
would spread downstream, WARN where a human should look.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster_duckdb import DuckDBResource

from mca_assets.common import warehouse_connection


def _violations(warehouse: DuckDBResource, sql: str) -> tuple[int, list[tuple[object, ...]]]:
    with warehouse_connection(warehouse) as conn:
        count = conn.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]  # type: ignore[index]
        sample = conn.execute(f"SELECT * FROM ({sql}) LIMIT 5").fetchall() if count else []
    return int(count), sample


def sql_check(
    asset: dg.AssetKey,
    name: str,
    description: str,
    violations_sql: str,
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    blocking: bool = False,
) -> dg.AssetChecksDefinition:
    """A check that passes when ``violations_sql`` returns no row."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        count, sample = _violations(warehouse, violations_sql)
        return dg.AssetCheckResult(
            passed=count == 0,
            severity=severity,
            metadata={"violations": count, "sample": dg.MetadataValue.text("\n".join(map(repr, sample)))},
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
    """WARN when the newest partition is older than ``max_age_days`` (the daily schedule stopped?)."""

    @dg.asset_check(asset=asset, name="fresh", description=f"{table} has a partition within {max_age_days} days")
    def _check(warehouse: DuckDBResource) -> dg.AssetCheckResult:
        with warehouse_connection(warehouse) as conn:
            latest = conn.execute(f"SELECT max(dt) FROM {table}").fetchone()[0]  # type: ignore[index]
        limit = datetime.now(UTC).date() - timedelta(days=max_age_days)
        return dg.AssetCheckResult(
            passed=latest is not None and latest >= limit,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"latest_dt": str(latest), "oldest_acceptable": str(limit)},
        )

    return _check
