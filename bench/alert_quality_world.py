"""Rule alerts of one daily partition scored against the sandbox's ground-truth episodes (issue 15's quality goal),
shared by ``bench_alert_quality.py`` and ``tests/integration/alerts/test_alert_quality.py``.

The real daily graph runs for the day (``daily_job``: ingest to hourly ``core.market_snapshots`` with on-chain
volume and open interest, then the ``alerts`` asset), and up to the snapshots for the day before (the structure
signals' 25 h look-back: without it the day's volume velocity and open-interest change are null).
Two inputs of the rules do not exist for a past day, so the harness stands them
in, writes them to the warehouse and materializes ``alerts/alerts`` again:

- bands: ``serving.forecast_bands`` only holds the live forecaster's issues (wall-clock ``as_of_ts``), none for a
  backfilled day; the stand-in is a one-step persistence band issued right after each hourly snapshot, from the
  snapshots before it only (no look-ahead): q50 = last price, q10/q90 = q50 -/+ 1.2816 sigma, sigma the std of the
  previous 12 hourly changes (at least 3), floored at ``SIGMA_FLOOR``;
- trust: the trust stage (``trust.trust_scores``) is not in this graph yet, and without a row every breach is at
  most FYI; the stand-in is a neutral row per market (score 100, clarity 1, not low-confidence), so the figures
  score gates 1 and 2 and the cooldown, not the trust gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import httpx
import polars as pl

from mca_assets.alerts.assets import ALERTS_KEY
from mca_assets.snapshots.assets import SNAPSHOTS_KEY
from mca_core.alert_quality import AlertQuality, alert_quality
from mca_resources.warehouse import read_frame

#: The next hourly point may come up to an hour after a short episode ends (documented in docs/alerts.md).
TOLERANCE_S = 3600
SIGMA_FLOOR = 0.005
Z90 = 1.2816
SEVERE = ("HIGH", "MED")
TRUST_DDL = """CREATE TABLE IF NOT EXISTS trust.trust_scores (dt DATE, market_id VARCHAR, trust_score DOUBLE,
formula_version VARCHAR, low_confidence BOOLEAN, clarity DOUBLE)"""
_SNAPSHOTS = "SELECT market_id, ts, p_yes FROM core.market_snapshots WHERE dt BETWEEN ? AND ? AND p_yes IS NOT NULL"
_SEVERE = "SELECT market_id, epoch(ts)::BIGINT AS ts, severity FROM alerts.alerts WHERE dt = ? AND source = 'rule'"


def persistence_bands(snapshots: pl.DataFrame) -> pl.DataFrame:
    """One-step bands (``serving.forecast_bands`` columns) for every snapshot but the first of each market."""
    change = pl.col("p_yes").diff().over("market_id")
    sigma = change.shift(1).rolling_std(12, min_samples=3).over("market_id")
    last = pl.col("p_yes").shift(1).over("market_id")
    return (
        snapshots.sort("market_id", "ts")
        .with_columns(
            (pl.col("ts").shift(1).over("market_id") + timedelta(seconds=1)).alias("as_of_ts"),
            last.alias("q50"),
            (pl.max_horizontal(sigma, pl.lit(SIGMA_FLOOR)) * Z90).alias("_w"),
        )
        .drop_nulls(["as_of_ts", "q50"])
        .select(
            "as_of_ts", "market_id", pl.lit(1).alias("step"), "ts",
            (pl.col("q50") - pl.col("_w")).clip(0.0, 1.0).alias("q10"), "q50",
            (pl.col("q50") + pl.col("_w")).clip(0.0, 1.0).alias("q90"),
            pl.lit("stand-in").alias("runtime"), pl.lit("persistence").alias("model_name"),
            pl.lit(None, pl.String).alias("fallback_reason"), pl.lit(False).alias("conformal_applied"),
        )
    )  # fmt: skip


def write_stand_ins(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, int]:
    """Bands and neutral trust rows for ``day``'s markets, written where the ``alerts`` asset reads them."""
    snapshots = read_frame(conn, _SNAPSHOTS, [day - timedelta(days=1), day])
    bands = persistence_bands(snapshots).filter(pl.col("ts").dt.date() == day)
    trust = bands.select(pl.col("market_id").unique().sort()).with_columns(
        dt=pl.lit(day - timedelta(days=1)), trust_score=pl.lit(100.0), formula_version=pl.lit("stand-in"),
        low_confidence=pl.lit(False), clarity=pl.lit(1.0),
    )  # fmt: skip
    conn.execute(TRUST_DDL)
    for table, frame in (("serving.forecast_bands", bands), ("trust.trust_scores", trust)):
        conn.register("_rows", frame)
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        conn.unregister("_rows")
    return {"bands": bands.height, "trust_rows": trust.height, "markets": trust.height}


def day_episodes(base: str, day: date, markets: pl.Series) -> pl.DataFrame:
    """Episodes starting on ``day`` in the markets the day's graph saw."""
    start = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp())
    params: dict[str, str | int] = {"start": start, "end": start + 86_400, "limit": 10_000}
    body = httpx.get(f"{base}/_truth/episodes", params=params, timeout=120).json()
    frame = pl.DataFrame(body["episodes"], infer_schema_length=None)
    return frame.filter(pl.col("start_ts") >= start, pl.col("market_id").is_in(markets.implode()))


@dataclass(frozen=True)
class QualityRun:
    """What one partition gave: the graph as it is, the rules with stand-ins, and their scores."""

    as_is: int
    inputs: dict[str, int]
    alerts: pl.DataFrame
    episodes: pl.DataFrame
    price_episodes: AlertQuality
    all_episodes: AlertQuality
    by_kind: dict[str, AlertQuality]


def measure(defs: dg.Definitions, instance: dg.DagsterInstance, db: str, base: str, day: date) -> QualityRun:
    """Runs ``daily_job`` for the day before ``day`` (the 25 h look-back of the structure signals) and for ``day``,
    then the ``alerts`` asset of ``day`` again over the stand-ins, and scores its HIGH+MED alerts."""
    job = defs.resolve_job_def("daily_job")
    partition = day.isoformat()
    # the day first: ``core/features`` of a day fails when the day before's snapshots are already there (two rows
    # at the shared midnight; reported to the lead), so the day before only gets its snapshots and what they need
    upstream = dg.AssetSelection.assets(SNAPSHOTS_KEY).upstream().resolve(defs.resolve_asset_graph())
    for dt, selection in ((day, None), (day - timedelta(days=1), sorted(upstream))):
        result = job.execute_in_process(
            instance=instance, partition_key=dt.isoformat(), asset_selection=selection, raise_on_error=False
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    with duckdb.connect(db) as conn:
        as_is = read_frame(conn, _SEVERE, [day]).filter(pl.col("severity").is_in(SEVERE)).height
        inputs = write_stand_ins(conn, day)
        markets = read_frame(conn, "SELECT DISTINCT market_id FROM core.market_snapshots WHERE dt = ?", [day])
    again = job.execute_in_process(
        instance=instance, partition_key=partition, asset_selection=[ALERTS_KEY], raise_on_error=False
    )
    assert again.success, [e.message for e in again.all_events if e.is_failure]
    with duckdb.connect(db) as conn:
        alerts = read_frame(conn, _SEVERE, [day]).filter(pl.col("severity").is_in(SEVERE))
    episodes = day_episodes(base, day, markets["market_id"])
    moving = episodes.filter(pl.col("price_move_ts").is_not_null())
    kinds = sorted(set(episodes["kind"]))
    return QualityRun(
        as_is=as_is,
        inputs=inputs,
        alerts=alerts,
        episodes=episodes,
        price_episodes=alert_quality(alerts, moving, TOLERANCE_S),
        all_episodes=alert_quality(alerts, episodes, TOLERANCE_S),
        by_kind={k: alert_quality(alerts, episodes.filter(pl.col("kind") == k), TOLERANCE_S) for k in kinds},
    )
