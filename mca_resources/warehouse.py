"""The DuckDB warehouse: schema, transactional partition replace, and an ordered content hash.

Only Dagster runs open the warehouse file. Connections are short-lived (opened per write, closed before any
network I/O). A partition write is one transaction, ``BEGIN; DELETE ... WHERE dt = ?; INSERT ...; COMMIT``, so a
reader or a crash never sees a half-written partition and re-materializing a partition gives identical rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import cache
from importlib import resources

import duckdb
import polars as pl

#: The tables written per daily partition, with their key columns (checked by asset checks).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "core.markets": ("dt", "market_id"),
    "core.registry_changes": ("dt", "market_id", "field"),
    "core.subgraph_hourly": ("dt", "condition_id", "ts"),
    "core.subgraph_metrics": ("dt", "condition_id"),
    "core.price_history": ("dt", "market_id", "ts"),
    "core.market_snapshots": ("dt", "market_id", "ts"),
    "core.live_paths": ("market_id", "ts"),
    "core.resolutions": ("dt", "market_id"),
    "core.cutoff_snapshots": ("dt", "market_id", "horizon"),
    "core.features": ("dt", "market_id", "ts"),
    "core.market_registry": ("market_id",),
    "trust.trust_scores": ("dt", "market_id"),
    "calib.scoreboard": ("dt", '"window"', "horizon", "segment_type", "segment"),
    "calib.reliability_bins": ("dt", '"window"', "horizon", "segment_type", "segment", "bin"),
    "calib.forecast_bands": ("dt", "method", "band_calibration", "market_id", "origin_ts", "step"),
    "calib.interval_metrics": ("dt", "method", "band_calibration", "segment_type", "segment", "nominal"),
    "calib.conformal_state": ("dt", "method", "segment"),
    "calib.drift": ("dt", "scope", "detector"),
    "reports.postmortems": ("dt", "market_id"),
    "rt.ticks": ("dt", "dedupe_key"),
    "rt.bars_1m": ("asset_id", "bucket_start"),
    "rt.bars_5m": ("asset_id", "bucket_start"),
    "rt.capture_runs": ("run_id",),
    "serving.forecast_bands": ("as_of_ts", "market_id", "step"),
    "alerts.alerts": ("alert_id",),
    "alerts.deliveries": ("alert_id", "sink"),
}


#: A DuckLake commit that loses a race on its catalog (SQLite "database is locked", a concurrent delete of the same
#: file) aborts with TransactionException; the whole transaction is replayed this many times, with growing pauses.
COMMIT_ATTEMPTS = 8
COMMIT_BACKOFF_S = 0.1


def in_transaction(conn: duckdb.DuckDBPyConnection, body: Callable[[], object]) -> None:
    """Run ``body`` in one transaction, replayed from the start when the commit loses a race (DuckLake writers).

    Each attempt sees the latest committed state, so a replay gives what a serial writer would have written.
    """
    for attempt in range(COMMIT_ATTEMPTS):
        conn.execute("BEGIN TRANSACTION")
        try:
            body()
            conn.execute("COMMIT")
            return
        except duckdb.TransactionException:
            _rollback(conn)
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(COMMIT_BACKOFF_S * 2**attempt)
        except BaseException:
            _rollback(conn)
            raise


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open (a failed COMMIT has already ended it)."""
    with contextlib.suppress(duckdb.TransactionException):
        conn.execute("ROLLBACK")


@cache
def schema_sql() -> str:
    return resources.files("mca_resources").joinpath("sql", "schema.sql").read_text()


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and table if missing (idempotent; two lake writers creating them at once replay)."""
    in_transaction(conn, lambda: conn.execute(schema_sql()))


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    if not rows:
        raise KeyError(f"unknown table {table}")
    return [r[0] for r in rows]


def replace_partition(conn: duckdb.DuckDBPyConnection, table: str, dt: date, frame: pl.DataFrame) -> int:
    """Atomically replace the rows of ``dt`` in ``table`` with ``frame`` (columns by name); returns rows written.

    The frame must hold exactly the table's columns (extra or missing columns raise before anything changes),
    and every row's ``dt`` must equal the partition.
    """
    columns = _columns(conn, table)
    missing = set(columns) - set(frame.columns)
    extra = set(frame.columns) - set(columns)
    if missing or extra:
        raise ValueError(
            f"{table}: frame columns differ from the table (missing {sorted(missing)}, extra {sorted(extra)})"
        )
    if frame.height and (frame["dt"] != dt).any():
        raise ValueError(f"{table}: every row must belong to partition {dt}")
    ordered = frame.select(columns)

    def replace() -> None:
        conn.execute(f"DELETE FROM {table} WHERE dt = ?", [dt])
        if ordered.height:
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _partition_rows")

    conn.register("_partition_rows", ordered)
    try:
        in_transaction(conn, replace)
    finally:
        conn.unregister("_partition_rows")
    return ordered.height


def read_frame(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | Mapping[str, object] | None = None
) -> pl.DataFrame:
    """Run a query (positional ``?`` or named ``$name`` parameters) and return a Polars frame.

    Zoned timestamps come back in UTC (DuckDB labels them with the session's zone name, e.g. ``Etc/UTC``).
    """
    frame = conn.sql(sql, params=params or None).pl()
    return frame.with_columns(pl.selectors.datetime(time_zone="*").dt.convert_time_zone("UTC"))


def upsert_rows(conn: duckdb.DuckDBPyConnection, table: str, key: str, frame: pl.DataFrame) -> int:
    """Replace the rows of ``table`` whose ``key`` appears in ``frame`` with ``frame``, in one transaction."""

    def upsert() -> None:
        conn.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _upsert_rows)")
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _upsert_rows")

    conn.register("_upsert_rows", frame)
    try:
        in_transaction(conn, upsert)
    finally:
        conn.unregister("_upsert_rows")
    return frame.height


def insert_new(conn: duckdb.DuckDBPyConnection, table: str, key: str, frame: pl.DataFrame) -> int:
    """Insert the rows of ``frame`` whose ``key`` is not in ``table`` yet (insert-or-ignore); returns rows added."""
    if frame.is_empty():
        return 0
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.register("_new_rows", frame.unique(key, keep="first", maintain_order=True))
        added = conn.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM _new_rows WHERE {key} NOT IN (SELECT {key} FROM {table})"
        ).fetchall()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_new_rows")
    return int(added[0][0]) if added else 0


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchall()
    return bool(found[0][0])


def partition_hash(conn: duckdb.DuckDBPyConnection, table: str, dt: date | None = None) -> str:
    """sha256 over the table's rows (of partition ``dt``) in key order: equal hashes mean identical rows."""
    keys = ", ".join(TABLE_KEYS[table])
    where = "WHERE dt = ?" if dt is not None else ""
    rows = conn.execute(f"SELECT * FROM {table} {where} ORDER BY {keys}", [dt] if dt is not None else []).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(row).encode())
    return digest.hexdigest()
