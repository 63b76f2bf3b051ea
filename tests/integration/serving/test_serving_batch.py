"""The forecast_top_markets asset: the service's forecaster in-process over a real DuckDB warehouse and the sandbox,
on the paths of the latest intraday refresh (``core.live_paths``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource

from mca_assets.forecasts import checks as forecast_checks
from mca_assets.forecasts.assets import forecast_top_markets
from mca_resources.dagster_resources import TollamaResource
from mca_resources.warehouse import ensure_schema, read_frame

DT = date(2026, 10, 1)


def seed_warehouse(path: str) -> None:
    """Six refreshed live markets (one illiquid, one with a short path) and one of an older refresh (not forecast)."""
    rng = np.random.default_rng(3)
    markets = pl.DataFrame({
        "dt": [DT] * 7, "market_id": [f"m{i}" for i in range(7)], "category": ["politics"] * 7,
        "closed": [False] * 7, "volume_usd": [9e5, 8e5, 7e5, 6e5, 5e3, 4e5, 1e7],
        "liquidity_bucket": ["HIGH", "HIGH", "HIGH", "HIGH", "LOW", "HIGH", "HIGH"],
    })  # fmt: skip
    start = datetime(2026, 9, 20, tzinfo=UTC)
    refreshed = start + timedelta(hours=10)
    rows = []
    for i in range(7):
        n = 10 if i == 5 else 100
        p = 1 / (1 + np.exp(-np.cumsum(rng.normal(0, 0.05, n))))
        stamp = refreshed - timedelta(hours=1) if i == 6 else refreshed
        rows += [(f"m{i}", start + timedelta(minutes=5 * k), float(v), "clob.prices_history", stamp)
                 for k, v in enumerate(p)]  # fmt: skip
    paths = pl.DataFrame(rows, schema=["market_id", "ts", "p", "source", "refreshed_ts"], orient="row")
    with duckdb.connect(path) as conn:
        ensure_schema(conn)
        for table, frame in (("core.markets", markets), ("core.live_paths", paths)):
            conn.register("_rows", frame)
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
            conn.unregister("_rows")


def test_forecast_top_markets_writes_valid_bands_with_reasons(tmp_path, sandbox) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    seed_warehouse(path)
    resources = {"warehouse": DuckDBResource(database=path), "tollama": TollamaResource(url=sandbox.urls["tollama"])}
    config = {
        "ops": {"serving__forecast_bands": {"config": {"top_n": 6, "horizon_steps": 4, "model": "sandbox-quantile"}}}
    }
    result = dg.materialize(
        [forecast_top_markets, *forecast_checks.checks], resources=resources, run_config=config, raise_on_error=False
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"keys_unique": True, "probabilities_in_range": True, "quantiles_monotone": True}
    with duckdb.connect(path, read_only=True) as conn:
        bands = read_frame(conn, "SELECT * FROM serving.forecast_bands ORDER BY market_id, step")
    assert bands.height == 5 * 4
    # m5's path is shorter than the forecaster's minimum (skipped, counted); m6 is not in the latest refresh
    assert set(bands["market_id"]) == {f"m{i}" for i in range(5)}
    reasons = dict(bands.group_by("market_id").agg(pl.col("fallback_reason").first()).iter_rows())
    assert reasons == {"m0": None, "m1": None, "m2": None, "m3": None, "m4": "baseline_only_liquidity_bucket"}
    assert bands.filter(pl.col("fallback_reason").is_null())["runtime"].unique().to_list() == ["tollama"]
    m0 = bands.filter(pl.col("market_id") == "m0")
    last = datetime(2026, 9, 20, tzinfo=UTC) + timedelta(minutes=5 * 99)
    assert m0["ts"].to_list() == [last + timedelta(minutes=5 * h) for h in range(1, 5)]
    metadata = result.asset_materializations_for_node("serving__forecast_bands")[0].metadata
    assert metadata["markets"].value == 5
    assert metadata["candidates"].value == 6
    assert metadata["skipped"].value == {"fewer_than_min_points": 1}


def test_monotone_check_fails_on_a_crossed_band(tmp_path, sandbox) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO serving.forecast_bands VALUES (now(), 'm0', 1, now(), 0.6, 0.5, 0.7, 'tollama', 'x', NULL, "
            "false)"
        )
    result = dg.materialize(
        forecast_checks.checks,
        resources={"warehouse": DuckDBResource(database=path)},
        selection=dg.AssetSelection.checks(*forecast_checks.checks),
        raise_on_error=False,
    )
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["quantiles_monotone"] is False
    assert checks["probabilities_in_range"] is True
