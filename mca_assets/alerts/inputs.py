"""What the rule alerts read, for one window of moments, shared by the daily and the intraday evaluation so that
both see the same points and name the same move with the same alert_id.

- points: ``core.live_paths`` (5-minute, the top-N) and the hourly ``core.market_snapshots``; at equal
  (market, ts) the live point wins;
- bands: ``serving.forecast_bands`` issued up to the window's end (the rules pick the band in force per point);
- structure: the seed's 1 h open-interest change and volume velocity from the hourly snapshots' cumulative volume
  and open interest (``mca_core.alerts.hourly_structure``), over the window and what its first signal looks back on;
- trust: ``trust.trust_scores`` of the week before the window (each row is in force from the day after its dt).

Tables not built yet (``core.live_paths``, ``trust.trust_scores`` before their stages run) read as empty; without a
trust row a breach is at most FYI (``NO_TRUST_SCORE``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl

from mca_core.alert_params import AlertConfig
from mca_core.alerts import evaluate_rules, hourly_structure
from mca_resources.warehouse import read_frame, table_exists

_LIVE = "SELECT market_id, ts, p AS p_yes, 0 AS rank FROM core.live_paths WHERE ts >= $start AND ts < $end"
_SNAPSHOT_POINTS = """
SELECT market_id, ts, p_yes, 1 AS rank FROM core.market_snapshots
WHERE ts >= $start AND ts < $end AND p_yes IS NOT NULL
"""
_BANDS = """
SELECT market_id, as_of_ts, ts, q10, q50, q90 FROM serving.forecast_bands
WHERE as_of_ts < $end AND ts >= $start
"""
_FLOWS = """
SELECT market_id, ts, volume_usd, open_interest_usd FROM core.market_snapshots
WHERE ts >= $start AND ts < $end AND volume_usd IS NOT NULL
"""
_TRUST = """
SELECT market_id, dt, trust_score, clarity, low_confidence FROM trust.trust_scores
WHERE dt >= $first AND dt < $last
"""
#: How far ``hourly_structure`` looks back from a snapshot (its 1 h window and the 24 h baseline before it).
STRUCTURE_LOOKBACK = timedelta(hours=25)
_POINT_SCHEMA = {"market_id": pl.String, "ts": pl.Datetime("us", "UTC"), "p_yes": pl.Float64, "rank": pl.Int32}
_TRUST_SCHEMA = {
    "market_id": pl.String, "dt": pl.Date, "trust_score": pl.Float64, "clarity": pl.Float64,
    "low_confidence": pl.Boolean,
}  # fmt: skip


def _points(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pl.DataFrame:
    window = {"start": start, "end": end}
    parts = [read_frame(conn, _SNAPSHOT_POINTS, window)]
    if table_exists(conn, "core.live_paths"):
        parts.append(read_frame(conn, _LIVE, window))
    return (
        pl.concat([p.cast(_POINT_SCHEMA) for p in parts])  # type: ignore[arg-type]
        .sort("market_id", "ts", "rank")
        .unique(["market_id", "ts"], keep="first", maintain_order=True)
        .drop("rank")
    )


def _trust(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pl.DataFrame:
    if not table_exists(conn, "trust.trust_scores"):
        return pl.DataFrame(schema=_TRUST_SCHEMA)
    days = {"first": (start - timedelta(days=7)).date(), "last": end.date()}
    return read_frame(conn, _TRUST, days).cast(_TRUST_SCHEMA)  # type: ignore[arg-type]


def rule_alerts(
    conn: duckdb.DuckDBPyConnection, since: datetime, end: datetime, config: AlertConfig
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Rule alerts of the moments in ``[since, end)``, and how many inputs each source gave."""
    start = since - timedelta(seconds=config.cooldown_s)
    points = _points(conn, start, end)
    bands = read_frame(conn, _BANDS, {"start": start, "end": end})
    # the structure in force at ``start`` may be ``structure_max_age_s`` old and looks back 25 h itself
    flows_start = start - timedelta(seconds=config.structure_max_age_s) - STRUCTURE_LOOKBACK
    flows = read_frame(conn, _FLOWS, {"start": flows_start, "end": end})
    structure = hourly_structure(flows) if flows.height else flows.select("market_id", "ts")
    structure = structure.with_columns(
        *(pl.lit(None, pl.Float64).alias(c) for c in ("oi_change", "volume_velocity") if c not in structure.columns)
    )
    trust = _trust(conn, start, end)
    alerts = evaluate_rules(points, bands, structure, trust, config, since=since).filter(pl.col("ts") < end)
    counts = {"points": points.height, "bands": bands.height, "flows": flows.height, "trust_rows": trust.height}
    return alerts, counts
