"""Load one capture's spool into ``rt.ticks``, ``rt.bars_1m``, ``rt.bars_5m`` and ``rt.capture_runs`` atomically.

One transaction: the run's previous ticks are removed, its deduplicated ticks inserted except those another
(overlapping) capture already stored under the same ``dedupe_key``, every bar of the touched assets over the
touched time range is rebuilt from ``rt.ticks`` (so bars always equal what the ``rt_bars`` daily asset would
compute from the same ticks), and the run's row is replaced. Loading the same run again gives identical tables.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from mca_core.bars import build_bars
from mca_core.ticks import build_ticks, parse_frames
from mca_resources.warehouse import read_frame
from mca_sensors.capture import CaptureSummary, read_spool

__all__ = ["capture_run_row", "load_capture"]

#: widest bar: the rebuilt range is aligned to it so every bar touched is rebuilt whole
_WIDEST = timedelta(minutes=5)


def _aligned(ts: datetime, up: bool) -> datetime:
    floored = ts - timedelta(seconds=ts.timestamp() % _WIDEST.total_seconds())
    return floored + _WIDEST if up else floored


def capture_run_row(run_id: str, summary: CaptureSummary, ticks: int, dup_events: int, overlap: int) -> pl.DataFrame:
    """The ``rt.capture_runs`` row of one capture: every uncovered second of its window is in ``gaps``."""
    c = summary.counters
    gaps = summary.gaps
    window_s = (summary.window_end - summary.window_start).total_seconds()
    reconnect_s = sum(g.seconds for g in gaps if g.kind == "reconnect")
    row: dict[str, Any] = {
        "dt": summary.window_start.date(),
        "run_id": run_id,
        "window_start": summary.window_start,
        "window_end": summary.window_end,
        "capture_start": summary.capture_start,
        "capture_end": summary.capture_end,
        "status": summary.status,
        "asset_ids": summary.asset_ids,
        "messages": c.get("frames", 0),
        "events": c.get("events", 0),
        "ticks": ticks,
        "duplicates": c.get("duplicates", 0),
        "duplicate_events": dup_events,
        "overlap_ticks": overlap,
        "rejections": c.get("rejections", 0),
        "reconnects": c.get("reconnects", 0),
        "gaps": len(gaps),
        "gap_seconds": float(sum(g.seconds for g in gaps)),
        "gap_share": reconnect_s / window_s if window_s > 0 else None,
        "gaps_json": json.dumps([gap.to_json() for gap in gaps]),
        "lag_mean_ms": c.get("mean_lag_ms"),
        "lag_max_ms": c.get("max_lag_ms"),
        "spool_path": summary.spool_path,
        "requested_at": summary.requested_at,
        "connected_at": summary.connected_at,
        "launch_latency_s": summary.launch_latency_s,
        "coverage": summary.coverage,
        "covered": [{"start": span.start, "end": span.end} for span in summary.covered],
    }
    return pl.DataFrame(
        [row],
        schema_overrides={
            "asset_ids": pl.List(pl.String),
            "covered": pl.List(pl.Struct({"start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC")})),
        },
    )


def load_capture(conn: duckdb.DuckDBPyConnection, run_id: str, summary: CaptureSummary) -> dict[str, int]:
    """Write one capture (schema must exist); returns rows written per table and the dedupe counts."""
    raw, _other = parse_frames(read_spool(Path(summary.spool_path)))
    ticks = build_ticks(raw, run_id)
    dup_events = raw.height - ticks.height
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("DELETE FROM rt.ticks WHERE run_id = ?", [run_id])
        conn.register("_run_ticks", ticks)
        [(inserted,)] = conn.execute(
            "INSERT INTO rt.ticks BY NAME SELECT n.* FROM _run_ticks n "
            "ANTI JOIN rt.ticks t ON t.dt = n.dt AND t.dedupe_key = n.dedupe_key"
        ).fetchall()
        conn.unregister("_run_ticks")
        written = {"ticks": inserted, "bars_1m": 0, "bars_5m": 0}
        if ticks.height:
            lo = _aligned(ticks["ts"].min(), up=False)  # type: ignore[arg-type]
            hi = _aligned(ticks["ts"].max(), up=True)  # type: ignore[arg-type]
            assets = ticks["asset_id"].unique().sort().to_list()
            stored = read_frame(
                conn, "SELECT * FROM rt.ticks WHERE asset_id IN (SELECT unnest($a)) AND ts >= $lo AND ts < $hi",
                {"a": assets, "lo": lo, "hi": hi},
            )  # fmt: skip
            for width in ("1m", "5m"):
                bars = build_bars(stored, width)
                table = f"rt.bars_{width}"
                conn.execute(
                    f"DELETE FROM {table} WHERE asset_id IN (SELECT unnest(?)) "
                    "AND bucket_start >= ? AND bucket_start < ?",
                    [assets, lo, hi],
                )
                conn.register("_run_bars", bars)
                conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _run_bars")
                conn.unregister("_run_bars")
                written[f"bars_{width}"] = bars.height
        run_row = capture_run_row(run_id, summary, inserted, dup_events, ticks.height - inserted)
        conn.execute("DELETE FROM rt.capture_runs WHERE run_id = ?", [run_id])
        conn.register("_run_row", run_row)
        conn.execute("INSERT INTO rt.capture_runs BY NAME SELECT * FROM _run_row")
        conn.unregister("_run_row")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {**written, "duplicate_events": dup_events, "overlap_ticks": ticks.height - inserted}
