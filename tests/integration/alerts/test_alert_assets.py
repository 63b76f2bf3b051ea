"""The daily ``alerts`` asset and ``alerts_intraday`` over a real DuckDB file and real Dagster runs: a second
materialization adds nothing, and the intraday path (every 5 minutes) gives the moves the ids the daily run gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from mca_assets.alerts.assets import alerts, alerts_intraday
from mca_resources.warehouse import ensure_schema, read_frame

DAY = date(2026, 5, 4)
MIDNIGHT = datetime(2026, 5, 4, tzinfo=UTC)


def insert(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    conn.register("_rows", frame)
    conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    conn.unregister("_rows")


def world(db: Path) -> None:
    """Three live markets over a day and the hours before it: a flat path around 0.5 with two moves in ``m1``
    (10:05-10:45 up with a volume and open-interest burst, 15:30-16:00 down without one) and one in ``m2``
    (up at 20:00 for the rest of the day with a burst, but a low-confidence trust row); ``m3`` never leaves its band."""
    rng = np.random.default_rng(7)
    grid = [MIDNIGHT - timedelta(hours=26) + timedelta(minutes=5 * i) for i in range(50 * 12)]
    minutes = np.array([(t - MIDNIGHT).total_seconds() / 60 for t in grid])
    live, snaps, bands = [], [], []
    for market in ("m1", "m2", "m3"):
        p = 0.5 + rng.normal(0, 0.005, len(grid))
        volume = np.cumsum(np.full(len(grid), 100.0 / 12))
        oi = np.full(len(grid), 10_000.0)
        if market == "m1":
            up = (minutes >= 605) & (minutes < 645)
            p[up] += 0.2
            volume += np.cumsum(np.where((minutes >= 540) & (minutes < 660), 400.0, 0.0))
            oi[(minutes >= 600) & (minutes < 720)] = 13_000.0
            p[(minutes >= 930) & (minutes < 960)] -= 0.2
        if market == "m2":
            p[minutes >= 1200] += 0.2
            volume += np.cumsum(np.where((minutes >= 1140) & (minutes < 1260), 400.0, 0.0))
            oi[minutes >= 1200] = 13_000.0
        live.append(
            pl.DataFrame({"market_id": market, "ts": grid, "p": p, "source": "rt.bars_5m", "refreshed_ts": grid[-1]})
        )
        hourly = list(range(0, len(grid), 12))
        snaps.append(pl.DataFrame({
            "dt": [grid[i].date() for i in hourly], "market_id": market, "ts": [grid[i] for i in hourly],
            "source": "hourly", "p_yes": p[hourly], "volume_usd": volume[hourly], "open_interest_usd": oi[hourly],
        }))  # fmt: skip
        for issue in range(0, len(grid), 12):  # an hourly refresh, six hourly steps
            as_of = grid[issue]
            for step in range(1, 7):
                bands.append((as_of, market, step, as_of + timedelta(hours=step), 0.42, 0.5, 0.58))
    cols = ["as_of_ts", "market_id", "step", "ts", "q10", "q50", "q90"]
    band_frame = pl.DataFrame(bands, schema=cols, orient="row").with_columns(
        runtime=pl.lit("baseline"), model_name=pl.lit("ewma"), fallback_reason=pl.lit(None, pl.String),
        conformal_applied=pl.lit(False),
    )  # fmt: skip
    trust = pl.DataFrame({
        "dt": [DAY - timedelta(days=1)] * 3, "market_id": ["m1", "m2", "m3"], "trust_score": [80.0, 75.0, 90.0],
        "formula_version": "v1", "low_confidence": [False, True, False], "clarity": [0.9, 0.9, 0.9],
        **dict.fromkeys(("liquidity", "stability", "manipulation", "time_to_expiry", "track_record"), [0.8] * 3),
        "weakest_component": "liquidity", "clarity_reasons": [[], [], []],
    })  # fmt: skip
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        insert(conn, "core.live_paths", pl.concat(live))
        insert(conn, "core.market_snapshots", pl.concat(snaps, how="diagonal"))
        insert(conn, "serving.forecast_bands", band_frame)
        insert(conn, "trust.trust_scores", trust)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    world(path)
    return path


def rows(db: Path) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as conn:
        return read_frame(conn, "SELECT * FROM alerts.alerts ORDER BY ts, alert_id")


def daily(db: Path, instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [alerts], partition_key=DAY.isoformat(), resources={"warehouse": DuckDBResource(database=str(db))},
        instance=instance,
    )  # fmt: skip


def test_second_materialization_adds_no_alert(db: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    first = daily(db, instance)
    before = rows(db)
    second = daily(db, instance)
    assert first.success
    assert second.success
    assert rows(db).equals(before)
    (event,) = second.get_asset_materialization_events()
    assert event.materialization.metadata["added"].value == 0
    (first_event,) = first.get_asset_materialization_events()
    assert first_event.materialization.metadata["added"].value == before.height
    # the moves: m1 up (HIGH, confirmed by volume and open interest), m1 down (FYI: no structure), m2 up dampened
    summary = before.select("market_id", "severity", pl.col("reason_codes").list.first().alias("side"))
    # m2's burst fades at 21:00: its breach goes on at FYI, a new (market, reason) alerted once
    assert summary.rows() == [("m1", "HIGH", "BAND_BREACH_UP"), ("m1", "FYI", "BAND_BREACH_DOWN"),
                              ("m2", "MED", "BAND_BREACH_UP"), ("m2", "FYI", "BAND_BREACH_UP")]  # fmt: skip
    assert before["ts"].to_list() == [MIDNIGHT + timedelta(minutes=m) for m in (605, 930, 1200, 1260)]
    assert first_event.materialization.metadata["by_severity"].value == {"FYI": 2, "HIGH": 1, "MED": 1}
    assert first_event.materialization.metadata["by_source"].value == {"rule": 4}
    assert len(first_event.materialization.metadata["newest"].value.records) == 4


def test_intraday_and_daily_give_the_same_ids(db: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {"warehouse": DuckDBResource(database=str(db))}
    # every 5 minutes around the moves (a run per refresh of the whole day costs a minute and proves no more)
    around = [m for lo, hi in ((570, 660), (900, 975), (1170, 1290)) for m in range(lo, hi, 5)]
    for minute in around:
        now = MIDNIGHT + timedelta(minutes=minute, seconds=20)
        run_config = {"ops": {"alerts__alerts_intraday": {"config": {"now": now.isoformat(), "window_s": 1800}}}}
        assert dg.materialize([alerts_intraday], run_config=run_config, resources=resources, instance=instance).success
    intraday = rows(db)
    assert intraday.height == 4
    result = daily(db, instance)
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["added"].value == 0
    assert rows(db).equals(intraday)
