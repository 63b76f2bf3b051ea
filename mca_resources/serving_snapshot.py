"""Serving snapshots: the tables the service reads, copied out of the warehouse into a new read-only DuckDB file
under ``data/serving/``, published by renaming a ``current`` pointer file into place (DESIGN.md §4).

Why a copy: the service must never open the warehouse (a Dagster run may be writing it) and must never see a
half-written state. A publish writes ``snapshot-<stamp>.duckdb`` aside, closes it, makes it read-only, and only
then replaces ``current`` (one ``rename``, atomic on POSIX); any failure before that rename leaves the pointer as it
was and removes the partial file. Readers hold a shared ``flock`` on the snapshot they have open; pruning deletes a
superseded snapshot only when it can take the exclusive lock, so no reader ever loses its file.

Stage tables a warehouse does not have yet (one written before those stages existed) are created empty with the
columns ``schema.sql`` gives them, so every endpoint answers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb

from mca_resources.warehouse import schema_sql

__all__ = [
    "POINTER",
    "SNAPSHOT_TABLES",
    "Published",
    "SnapshotWindow",
    "current_snapshot",
    "hold",
    "prune",
    "publish_snapshot",
]

POINTER = "current"  # holds the file name of the published snapshot
_PREFIX, _SUFFIX = "snapshot-", ".duckdb"


@dataclass(frozen=True)
class SnapshotWindow:
    """How much history a snapshot keeps (settings ``MCA_SERVING_*``)."""

    history_days: int = 7  # core.price_history of the live markets
    bars_hours: int = 48  # rt.bars_5m
    alerts_days: int = 30  # alerts.alerts


#: table -> the SELECT over the warehouse that fills it; ``{...}`` are `SnapshotWindow` fields.
SNAPSHOT_TABLES: dict[str, str] = {
    "core.markets": "SELECT * FROM core.markets WHERE dt = (SELECT max(dt) FROM core.markets)",
    "core.market_registry": "SELECT * FROM core.market_registry",
    "core.resolutions": "SELECT * FROM core.resolutions",
    "calib.scoreboard": "SELECT * FROM calib.scoreboard WHERE dt = (SELECT max(dt) FROM calib.scoreboard)",
    "calib.reliability_bins": (
        "SELECT * FROM calib.reliability_bins WHERE dt = (SELECT max(dt) FROM calib.reliability_bins)"
    ),
    "calib.interval_metrics": (
        "SELECT * FROM calib.interval_metrics WHERE dt = (SELECT max(dt) FROM calib.interval_metrics)"
    ),
    "calib.drift": "SELECT * FROM calib.drift WHERE dt = (SELECT max(dt) FROM calib.drift)",
    "calib.conformal_state": ("SELECT * FROM calib.conformal_state QUALIFY dt = max(dt) OVER (PARTITION BY method)"),
    "serving.forecast_bands": (
        "SELECT * FROM serving.forecast_bands WHERE as_of_ts = (SELECT max(as_of_ts) FROM serving.forecast_bands)"
    ),
    "core.price_history": (
        "SELECT h.* FROM core.price_history h WHERE h.market_id IN (SELECT market_id FROM core.markets "
        "WHERE dt = (SELECT max(dt) FROM core.markets) AND NOT closed) "
        "AND h.ts >= (SELECT max(ts) FROM core.price_history) - INTERVAL {history_days} DAY"
    ),
    "rt.bars_5m": (
        "SELECT * FROM rt.bars_5m WHERE bucket_start >= (SELECT max(bucket_start) FROM rt.bars_5m) "
        "- INTERVAL {bars_hours} HOUR"
    ),
    "core.live_paths": (
        "SELECT * FROM core.live_paths WHERE refreshed_ts = (SELECT max(refreshed_ts) FROM core.live_paths)"
    ),
    "trust.trust_scores": "SELECT * FROM trust.trust_scores WHERE dt = (SELECT max(dt) FROM trust.trust_scores)",
    "alerts.alerts": (
        "SELECT * FROM alerts.alerts WHERE ts >= (SELECT max(ts) FROM alerts.alerts) - INTERVAL {alerts_days} DAY"
    ),
    "reports.postmortems": "SELECT * FROM reports.postmortems",
}

#: The tables a snapshot creates empty when the warehouse does not have them yet (their stages have not run).
EMPTY_DEFAULTS = frozenset({"trust.trust_scores", "alerts.alerts", "reports.postmortems", "core.live_paths"})


@cache
def schema_columns() -> dict[str, str]:
    """table -> its column list as ``schema.sql`` declares it, so an empty default has the stage's own columns."""
    with duckdb.connect(":memory:") as mem:
        mem.execute(schema_sql())
        rows = mem.execute(
            "SELECT schema_name || '.' || table_name, "
            "string_agg('\"' || column_name || '\" ' || data_type, ', ' ORDER BY column_index) "
            "FROM duckdb_columns() GROUP BY 1"
        ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class Published:
    path: Path
    published_ts: datetime
    rows: dict[str, int]
    empty_defaults: list[str]  # tables created empty because the warehouse has none yet
    pruned: list[str]


def _existing_tables(conn: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = conn.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE database_name = ?", [catalog]
    ).fetchall()
    return {r[0] for r in rows}


def publish_snapshot(
    conn: duckdb.DuckDBPyConnection,
    serving_dir: Path,
    window: SnapshotWindow | None = None,
    *,
    source: str = "",
    keep: int = 1,
) -> Published:
    """Copy `SNAPSHOT_TABLES` from the warehouse ``conn`` into a new snapshot, switch ``current`` to it, and prune.

    ``source`` says what made it (a partition, ``intraday``); ``keep`` superseded snapshots stay besides the
    current one (for readers that just opened them). Raises on any failure, leaving ``current`` untouched.
    """
    window = window or SnapshotWindow()
    serving_dir.mkdir(parents=True, exist_ok=True)
    published_ts = datetime.now(UTC)
    name = f"{_PREFIX}{published_ts:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}{_SUFFIX}"
    final, partial = serving_dir / name, serving_dir / f".{name}.partial"
    alias = f"snap_{uuid.uuid4().hex[:12]}"
    warehouse = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    existing = _existing_tables(conn, warehouse)
    rows: dict[str, int] = {}
    defaults: list[str] = []
    attached = False
    try:
        quoted = str(partial).replace("'", "''")
        conn.execute(f"ATTACH '{quoted}' AS {alias}")
        attached = True
        for schema in sorted({t.split(".")[0] for t in SNAPSHOT_TABLES} | {"meta"}):
            conn.execute(f"CREATE SCHEMA {alias}.{schema}")
        for table, select in SNAPSHOT_TABLES.items():  # unqualified names resolve to the warehouse (default)
            if table in existing:
                conn.execute(f"CREATE TABLE {alias}.{table} AS {select.format(**window.__dict__)}")
            elif table in EMPTY_DEFAULTS:
                defaults.append(table)
                conn.execute(f"CREATE TABLE {alias}.{table} ({schema_columns()[table]})")
            else:
                raise LookupError(f"the warehouse has no {table}: materialize the daily graph first")
            rows[table] = conn.execute(f"SELECT count(*) FROM {alias}.{table}").fetchone()[0]  # type: ignore[index]
        conn.execute(
            f"CREATE TABLE {alias}.meta.snapshot AS SELECT ?::TIMESTAMPTZ AS published_ts, ?::VARCHAR AS source",
            [published_ts, source],
        )
        conn.execute(f"CREATE TABLE {alias}.meta.tables (name VARCHAR, n_rows BIGINT, empty_default BOOLEAN)")
        conn.executemany(
            f"INSERT INTO {alias}.meta.tables VALUES (?, ?, ?)", [(t, n, t in defaults) for t, n in rows.items()]
        )
        conn.execute(f"DETACH {alias}")
        attached = False
        os.chmod(partial, 0o444)
        _fsync(partial)
        os.rename(partial, final)
        _switch(serving_dir, name)
    except BaseException:
        if attached:
            with contextlib.suppress(duckdb.Error):
                conn.execute(f"DETACH {alias}")
        for leftover in (partial, Path(f"{partial}.wal"), final):
            leftover.unlink(missing_ok=True)
        raise
    return Published(final, published_ts, rows, defaults, prune(serving_dir, keep=keep))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _switch(serving_dir: Path, name: str) -> None:
    """Point ``current`` at ``name``: write a new pointer aside, then rename it over the old one."""
    staged = serving_dir / f".{POINTER}.{uuid.uuid4().hex[:8]}"
    staged.write_text(name + "\n")
    _fsync(staged)
    os.rename(staged, serving_dir / POINTER)
    dir_fd = os.open(serving_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def current_snapshot(serving_dir: Path) -> Path | None:
    """The published snapshot ``current`` names, or None before the first publish."""
    try:
        name = (serving_dir / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    return serving_dir / name if name.startswith(_PREFIX) and "/" not in name else None


@contextlib.contextmanager
def hold(path: Path) -> Iterator[int]:
    """A shared lock on a snapshot file while it is read (raises FileNotFoundError if it is already gone)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if os.fstat(fd).st_nlink == 0:  # pruned between open and lock
            raise FileNotFoundError(path)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def prune(serving_dir: Path, keep: int = 1) -> list[str]:
    """Delete superseded snapshots beyond the ``keep`` newest that no reader holds; returns the deleted names."""
    current = current_snapshot(serving_dir)
    old = sorted(
        (p for p in serving_dir.glob(f"{_PREFIX}*{_SUFFIX}") if p != current), key=lambda p: p.name, reverse=True
    )
    deleted = []
    for path in old[keep:]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a reader holds it: the next publish tries again
            os.close(fd)
            continue
        try:
            path.unlink(missing_ok=True)
            Path(f"{path}.wal").unlink(missing_ok=True)
            deleted.append(path.name)
        finally:
            os.close(fd)
    return deleted
