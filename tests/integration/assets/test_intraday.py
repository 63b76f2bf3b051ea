"""The intraday refresh (issue 13) on a venue whose clock follows the wall clock: the top-N live markets get their
recent path (capture bars where the capture covers them, the CLOB's 5-minute history otherwise, both exact) and
bands for every one of them, no older than one refresh interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import httpx
import pytest

from mca_assets.definitions import build_definitions
from mca_core.live_paths import bar_points
from mca_resources.warehouse import read_frame
from tests.conftest import RunningSandbox, start_sandbox
from tests.integration.assets.conftest import settings_for

pytestmark = pytest.mark.timeout(600)
TOP_N = 40


@pytest.fixture(scope="module")
def live_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSandbox, object, object]]:
    today = datetime.now(UTC).date()
    box = start_sandbox(
        markets=400, seed=5, clock="live", start=today - timedelta(days=60), end=today + timedelta(days=30)
    )
    settings = settings_for(box, tmp_path_factory.mktemp("data"))
    defs = build_definitions(settings)
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("home"))) as instance:
        daily = defs.resolve_job_def("daily_job").execute_in_process(
            instance=instance, partition_key=(today - timedelta(days=1)).isoformat(), raise_on_error=False
        )
        assert daily.success
        yield box, settings, (defs, instance)
    box.stop()


def refresh(defs: dg.Definitions, instance: dg.DagsterInstance, **live: object) -> dg.ExecuteInJobResult:
    result = defs.resolve_job_def("intraday_refresh").execute_in_process(
        instance=instance,
        run_config={"ops": {"core__live_paths": {"config": {"top_n": TOP_N, **live}}}},
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_top_markets_get_exact_paths_and_fresh_bands(live_venue) -> None:  # type: ignore[no-untyped-def]
    box, settings, (defs, instance) = live_venue
    result = refresh(defs, instance)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        top = [r[0] for r in conn.execute(
            "SELECT market_id FROM core.markets WHERE dt = (SELECT max(dt) FROM core.markets) AND NOT closed "
            "ORDER BY volume_24h DESC NULLS LAST, volume_usd DESC NULLS LAST, market_id LIMIT ?", [TOP_N]
        ).fetchall()]  # fmt: skip
        paths = read_frame(
            conn,
            "SELECT market_id, epoch(ts)::BIGINT AS t, p, source, epoch(refreshed_ts)::BIGINT AS r "
            "FROM core.live_paths",
        )
        bands = read_frame(
            conn,
            "SELECT market_id, as_of_ts, ts - INTERVAL 5 MINUTE AS last_ts FROM serving.forecast_bands WHERE step = 1 "
            "AND as_of_ts = (SELECT max(as_of_ts) FROM serving.forecast_bands)",
        )
    assert sorted(paths["market_id"].unique()) == sorted(top)
    assert set(paths["source"]) == {"clob.prices_history"}  # nothing captured yet
    now = int(datetime.now(UTC).timestamp())
    with httpx.Client() as client:
        for market_id in top[:8]:
            got = paths.filter(market_id=market_id).sort("t")
            # the truth over the path's own span: the live venue's clock moves in steps (its view is rebuilt at
            # intervals), so by now it may know a point the refresh could not see yet
            truth = client.get(
                f"{box.base}/_truth/markets/{market_id}",
                params={"paths": 1, "fidelity": 5, "start": got["r"][0] - 86_400, "end": got["t"][-1] + 1},
            ).json()["paths"]
            assert list(zip(got["t"], got["p"], strict=True)) == list(zip(truth["t"], truth["p_market"], strict=True))
            assert now - got["t"][-1] <= 2 * 5 * 60 + 60  # the path reaches the venue's present, a step at most behind
    assert bands.height >= 0.95 * TOP_N
    assert (bands["as_of_ts"] - bands["last_ts"]).max() <= timedelta(minutes=5, seconds=60)  # type: ignore[operator]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["bands_for_the_refreshed_markets"] is True
    meta = next(
        e.event_specific_data.materialization.metadata  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and "forecast_bands" in e.asset_key.to_user_string()
    )
    assert meta["markets"].value == bands.height


def test_captured_markets_take_the_capture_bars(live_venue) -> None:  # type: ignore[no-untyped-def]
    _, settings, (defs, instance) = live_venue
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        top = conn.execute(
            "SELECT market_id, yes_token_id FROM core.markets WHERE dt = (SELECT max(dt) FROM core.markets) "
            "AND NOT closed ORDER BY volume_24h DESC NULLS LAST, volume_usd DESC NULLS LAST, market_id LIMIT 2"
        ).fetchall()
    start = datetime.now(UTC) + timedelta(seconds=3)
    config = {"asset_ids": [t for _, t in top], "window_start": start.isoformat(),
              "window_end": (start + timedelta(seconds=3)).isoformat()}  # fmt: skip
    capture = defs.resolve_job_def("realtime_capture").execute_in_process(
        run_config={"ops": {"capture_window": {"config": config}}}, instance=instance
    )
    assert capture.success
    refresh(defs, instance, min_bars=1)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        bars = read_frame(
            conn,
            "SELECT m.market_id, b.bucket_start, b.close FROM rt.bars_5m b JOIN core.markets m ON m.yes_token_id = "
            "b.asset_id AND m.dt = (SELECT max(dt) FROM core.markets)",
        )
        paths = read_frame(conn, "SELECT market_id, ts, p, source, refreshed_ts FROM core.live_paths")
    captured = sorted(bars["market_id"].unique())
    assert captured  # the capture saw the busiest markets trade
    from_bars = paths.filter(pl_in(captured)).sort("market_id", "ts")
    assert set(from_bars["source"]) == {"rt.bars_5m"}
    expected = bar_points(bars, from_bars["refreshed_ts"][0]).sort("market_id", "ts")
    assert from_bars.select("market_id", "ts", "p").equals(expected)


def pl_in(ids: list[str]):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.col("market_id").is_in(ids)
