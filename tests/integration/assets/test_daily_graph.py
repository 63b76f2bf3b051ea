"""The daily graph against the sandbox: complete, equal to the truth, idempotent, and checked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import httpx
import pytest

from mca_assets.definitions import build_definitions
from mca_core.conformal import ConformalState
from mca_resources.warehouse import TABLE_KEYS, partition_hash
from tests.integration.assets.conftest import Graph

# the tables the daily job writes per day (realtime and serving tables have their own jobs)
# (not the registry nor core.live_paths: they have no dt)
DAILY_TABLES = [t for t in TABLE_KEYS if t.startswith(("core.", "calib.")) and "dt" in TABLE_KEYS[t]]


def connect(graph: Graph) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(graph.settings.warehouse_path), read_only=True)


def test_a_partition_fills_every_table_and_passes_every_check(graph: Graph) -> None:
    with connect(graph) as conn:
        for table in ["core.markets", "core.resolutions", "core.price_history", "core.cutoff_snapshots",
                      "core.market_snapshots", "core.features", "core.subgraph_metrics", "calib.scoreboard",
                      "calib.reliability_bins", "calib.forecast_bands", "calib.interval_metrics",
                      "calib.conformal_state"]:  # fmt: skip
            rows = conn.execute(f"SELECT count(*) FROM {table} WHERE dt = ?", [graph.dt]).fetchone()[0]
            assert rows > 0, table
        assert conn.execute("SELECT count(*) FROM core.market_registry").fetchone()[0] > 0
        dtype = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'markets' AND column_name = 'dt'"
        ).fetchone()[0]
        assert dtype == "DATE"


def test_every_check_passed_on_a_clean_partition(graph: Graph) -> None:
    result = graph.materialize()
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= 20
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    # the test day lies in the past: `fresh` says "not judged" in a backfill; coverage and drift judge this day only,
    # with the sampling error of a one-day backtest on few markets
    # trust's low-confidence share WARNs: the test day is the only day of the warehouse, so no segment has a record
    # of resolved forecasts before it (and Gamma shows no liquidity or spread of the markets closed since)
    assert failed == [("trust/trust_scores", "low_confidence_share")]
    fresh = next(e for e in evaluations if e.check_name == "fresh")
    assert str(fresh.metadata["judged"].value).startswith("not judged: this run backfills")


def test_cohort_labels_equal_the_truth(graph: Graph) -> None:
    truth = {m["market_id"]: m["label"] for m in graph.truth_resolutions(graph.dt)}
    with connect(graph) as conn:
        got = dict(conn.execute("SELECT market_id, label FROM core.resolutions WHERE dt = ?", [graph.dt]).fetchall())
    assert got == truth
    assert {"RESOLVED_TRUE", "RESOLVED_FALSE"} <= set(got.values())


def test_void_and_unresolved_labels_equal_the_truth_on_the_days_they_occur(graph: Graph) -> None:
    truth = httpx.get(f"{graph.sandbox.base}/_truth/markets", params={"limit": 10000}).json()["markets"]
    special = [m for m in truth if m["label"] in ("VOID", "UNRESOLVED") and m["resolved_ts"]]
    days = sorted({datetime.fromtimestamp(m["resolved_ts"], UTC).date() for m in special} - {graph.dt})[-2:]
    for day in days:
        assert graph.materialize(day.isoformat()).success
        expected = {m["market_id"]: m["label"] for m in graph.truth_resolutions(day)}
        with connect(graph) as conn:
            got = dict(conn.execute("SELECT market_id, label FROM core.resolutions WHERE dt = ?", [day]).fetchall())
        assert got == expected
        assert {"VOID", "UNRESOLVED"} & set(got.values())


def test_cutoff_prices_equal_the_venue_path_at_or_before_the_cutoff(graph: Graph) -> None:
    with connect(graph) as conn:
        rows = conn.execute(
            "SELECT market_id, horizon, cutoff_ts, snapshot_ts, p_yes FROM core.cutoff_snapshots WHERE dt = ? "
            "ORDER BY market_id, horizon LIMIT 40",
            [graph.dt],
        ).fetchall()
    assert rows
    for market_id, _, cutoff_ts, snapshot_ts, p_yes in rows:
        end = int(cutoff_ts.timestamp()) + 1
        paths = httpx.get(
            f"{graph.sandbox.base}/_truth/markets/{market_id}",
            params={"paths": 1, "fidelity": 60, "start": end - 3 * 86400, "end": end + 3600},
        ).json()["paths"]
        before = [(t, p) for t, p in zip(paths["t"], paths["p_market"], strict=True) if t <= end - 1]
        assert before, market_id
        assert (int(snapshot_ts.timestamp()), p_yes) == before[-1]
        assert snapshot_ts <= cutoff_ts


def test_rematerializing_leaves_every_table_identical(graph: Graph) -> None:
    with connect(graph) as conn:
        before = {t: partition_hash(conn, t, graph.dt) for t in DAILY_TABLES}
        registry = partition_hash(conn, "core.market_registry")
    assert graph.materialize().success
    with connect(graph) as conn:
        after = {t: partition_hash(conn, t, graph.dt) for t in DAILY_TABLES}
        assert partition_hash(conn, "core.market_registry") == registry
    assert after == before


def test_a_run_failing_half_way_then_rerun_leaves_a_correct_partition(graph: Graph) -> None:
    day = graph.dt - timedelta(days=1)
    reference = graph.materialize(day.isoformat())
    assert reference.success
    with connect(graph) as conn:
        expected = {t: partition_hash(conn, t, day) for t in DAILY_TABLES}
    httpx.post(
        f"{graph.sandbox.base}/_faults",
        json=[
            {"route": route, "status": {"404": 1.0}} for route in ("clob.prices_history", "clob.batch_prices_history")
        ],
    )
    try:
        broken = graph.materialize(day.isoformat())
    finally:
        httpx.post(f"{graph.sandbox.base}/_faults", json=[])
    assert not broken.success
    assert graph.materialize(day.isoformat()).success
    with connect(graph) as conn:
        assert {t: partition_hash(conn, t, day) for t in DAILY_TABLES} == expected
        dupes = conn.execute("SELECT count(*) - count(DISTINCT (dt, market_id, ts)) FROM core.price_history").fetchone()
        assert dupes[0] == 0


@pytest.mark.parametrize(
    ("table", "corruption", "check"),
    [
        ("core.markets", "INSERT INTO core.markets SELECT * FROM core.markets LIMIT 1", "keys_unique"),
        ("core.markets", "UPDATE core.markets SET p_yes = 1.5 WHERE rowid = (SELECT min(rowid) FROM core.markets)",
         "probabilities_in_range"),
        ("core.resolutions", "UPDATE core.resolutions SET label = 'MAYBE' WHERE rowid = 0", "label_vocabulary"),
        ("core.resolutions", "UPDATE core.resolutions SET dt = dt - 1 WHERE rowid = 0", "resolved_on_its_day"),
        ("core.cutoff_snapshots", "UPDATE core.cutoff_snapshots SET snapshot_ts = cutoff_ts + INTERVAL 1 HOUR "
         "WHERE rowid = 0", "never_after_cutoff"),
        ("core.cutoff_snapshots", "UPDATE core.cutoff_snapshots SET y = 2 WHERE rowid = 0", "outcome_is_binary"),
        ("core.price_history", "UPDATE core.price_history SET p = -0.1 WHERE rowid = 0", "probabilities_in_range"),
        ("core.price_history", "INSERT INTO core.price_history SELECT * FROM core.price_history LIMIT 1",
         "keys_unique"),
        ("core.market_snapshots", "UPDATE core.market_snapshots SET ts = ts + INTERVAL 3 DAY WHERE rowid = 0",
         "inside_its_day"),
        ("core.features", "UPDATE core.features SET spread = -1 WHERE rowid = 0", "bounded"),
        ("core.subgraph_metrics", "UPDATE core.subgraph_metrics SET trade_count = -5 WHERE rowid = 0", "non_negative"),
        ("core.registry_changes", "INSERT INTO core.registry_changes VALUES (DATE '2026-09-02', 'x', 'slug', 'a', 'a', "
         "DATE '2026-09-01')", "changes_change_something"),
        ("core.market_registry", "INSERT INTO core.market_registry SELECT * FROM core.market_registry LIMIT 1",
         "keys_unique"),
        ("calib.scoreboard", "INSERT INTO calib.scoreboard SELECT * FROM calib.scoreboard LIMIT 1", "keys_unique"),
        ("calib.scoreboard", "UPDATE calib.scoreboard SET brier = 1.2 WHERE rowid = 0", "metrics_in_range"),
        ("calib.scoreboard", "UPDATE calib.scoreboard SET ece_debiased_ci_low = ece_debiased + 0.01 WHERE rowid = 0",
         "metrics_in_range"),
        ("calib.reliability_bins", "UPDATE calib.reliability_bins SET y_rate = -0.5 WHERE rowid = 0",
         "probabilities_in_range"),
        ("calib.reliability_bins", "UPDATE calib.reliability_bins SET y_rate_ci_low = y_rate + 0.1 WHERE rowid = 0",
         "wilson_contains_rate"),
        ("calib.forecast_bands", "UPDATE calib.forecast_bands SET q10 = q90 + 0.01 WHERE rowid = 0",
         "bands_ordered_in_unit_interval"),
        ("calib.forecast_bands", "INSERT INTO calib.forecast_bands SELECT * FROM calib.forecast_bands LIMIT 1",
         "keys_unique"),
        ("calib.interval_metrics", "UPDATE calib.interval_metrics SET coverage = 1.5 WHERE rowid = 0",
         "probabilities_in_range"),
        ("calib.interval_metrics", "UPDATE calib.interval_metrics SET coverage = 0.2, n = 500, n_markets = 100, "
         "coverage_se = 0.02 WHERE band_calibration = 'conformal' AND segment_type = 'all' "
         "AND dt = (SELECT max(dt) FROM calib.interval_metrics)", "coverage_near_target"),
        ("calib.conformal_state", "INSERT INTO calib.conformal_state SELECT * FROM calib.conformal_state LIMIT 1",
         "keys_unique"),
        ("trust.trust_scores", "UPDATE trust.trust_scores SET trust_score = 140 WHERE rowid = 0", "score_in_range"),
        ("trust.trust_scores", "UPDATE trust.trust_scores SET stability = -0.1 WHERE rowid = 0",
         "components_in_range"),
        ("trust.trust_scores", "INSERT INTO trust.trust_scores SELECT * FROM trust.trust_scores LIMIT 1",
         "keys_unique"),
        ("trust.trust_scores", "DELETE FROM trust.trust_scores WHERE market_id = (SELECT min(market_id) FROM "
         "core.market_snapshots WHERE source = 'clob_history' AND dt = (SELECT max(dt) FROM trust.trust_scores))",
         "every_market_with_a_path_scored"),
        # judged outside a partitioned run: the test window's newest day is months old
        ("core.markets", "DELETE FROM core.markets WHERE false", "fresh"),
        ("calib.drift", "INSERT INTO calib.drift SELECT max(dt), 'bands:test', 'coverage', 500, 0.5, 0.75, true "
         "FROM core.markets", "no_drift"),
    ],
)  # fmt: skip
def test_a_corrupted_row_fails_its_check(graph: Graph, tmp_path, table: str, corruption: str, check: str) -> None:
    copy = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(copy)) as conn:
        conn.execute(f"ATTACH '{graph.settings.warehouse_path}' AS src (READ_ONLY)")
        conn.execute("COPY FROM DATABASE src TO warehouse")
        conn.execute("DETACH src")
        conn.execute(corruption)
    check_key = dg.AssetCheckKey(dg.AssetKey(table.split(".")), check)
    one_check = dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(check_key))
    defs = dg.Definitions.merge(
        build_definitions(replace(graph.settings, data_dir=tmp_path)), dg.Definitions(jobs=[one_check])
    )
    result = defs.resolve_job_def("one_check").execute_in_process(instance=graph.instance, raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert [e.check_name for e in evaluations] == [check]
    assert not evaluations[0].passed
    if check != "fresh":
        assert evaluations[0].metadata["violations"].value >= 1


def test_the_aci_option_publishes_an_adaptive_conformal_state(graph: Graph) -> None:
    keys = [dg.AssetKey(["calib", n]) for n in ("forecast_bands", "interval_metrics", "conformal_state")]
    aci = {"ops": {"interval_backtest": {"config": {"conformal": "aci", "aci_gamma": 0.01}}}}
    try:
        assert graph.materialize(asset_selection=keys, run_config=aci).success
        with connect(graph) as conn:
            rows = conn.execute(
                "SELECT DISTINCT method, state_json FROM calib.conformal_state WHERE dt = ?", [graph.dt]
            ).fetchall()
        assert {m for m, _ in rows} == {"ewma", "kalman", "rolling_quantile"}
        assert all(ConformalState.from_json(state).method == "aci" for _, state in rows)
    finally:
        assert graph.materialize(asset_selection=keys).success  # back to the default for the other tests
    with connect(graph) as conn:
        state = conn.execute("SELECT state_json FROM calib.conformal_state WHERE dt = ? LIMIT 1", [graph.dt]).fetchone()
    assert ConformalState.from_json(state[0]).method == "mondrian"


def test_method_settings_reach_the_assets(graph: Graph, tmp_path) -> None:
    """The liquidity edges come from the deployment's settings (`methods` resource), not literals in mca_core."""
    import shutil

    from mca_assets.definitions import resources_for
    from mca_assets.normalize.assets import markets

    shutil.copy(graph.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    shutil.copytree(graph.settings.raw_dir, tmp_path / "raw")
    with connect(graph) as conn:
        before = dict(conn.execute("SELECT liquidity_bucket, count(*) FROM core.markets WHERE dt = ? GROUP BY 1",
                                   [graph.dt]).fetchall())  # fmt: skip
    assert before.get("HIGH", 0) > 0
    moved = replace(graph.settings, data_dir=tmp_path, liquidity_low_usd=0.0, liquidity_high_usd=1e15)
    result = dg.materialize([markets], resources=resources_for(moved), partition_key=graph.dt.isoformat())
    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        after = dict(conn.execute("SELECT liquidity_bucket, count(*) FROM core.markets WHERE dt = ? GROUP BY 1",
                                  [graph.dt]).fetchall())  # fmt: skip
    assert after == {"MID": sum(before.values())}
    with pytest.raises(ValueError, match="MCA_CUTOFF_MAX_STALENESS"):
        replace(graph.settings, cutoff_max_staleness="1h=60")
