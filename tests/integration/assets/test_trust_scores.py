"""``trust.trust_scores`` in the daily graph: a row per market of the day, checks, idempotence, alone = in a range,
the config file reaching the asset and its metadata."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from mca_assets.definitions import build_definitions
from mca_assets.trust.assets import TRUST_KEY
from mca_core.trust import COMPONENTS
from mca_resources.warehouse import partition_hash
from tests.integration.assets.conftest import Graph

TRUST_CHECKS = {"keys_unique", "score_in_range", "components_in_range", "every_market_with_a_path_scored"}


def connect(graph: Graph) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(graph.settings.warehouse_path), read_only=True)


def _metadata(result: dg.ExecuteInJobResult) -> dict:
    """The metadata of the run's trust_scores materialization (a range run records it once per day)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == TRUST_KEY]
    assert events
    return events[-1].materialization.metadata


def test_every_market_of_the_day_has_a_trust_row_with_bounded_components(graph: Graph) -> None:
    with connect(graph) as conn:
        markets = {r[0] for r in conn.execute("SELECT market_id FROM core.markets WHERE dt = ?", [graph.dt]).fetchall()}
        rows = conn.execute(
            f"SELECT market_id, trust_score, {', '.join(COMPONENTS)}, formula_version, low_confidence, "
            "low_confidence_reason, weakest_component, clarity_reasons FROM trust.trust_scores WHERE dt = ?",
            [graph.dt],
        ).fetchall()
        with_path = conn.execute(
            "SELECT count(DISTINCT market_id) FROM core.market_snapshots WHERE dt = ? AND source = 'clob_history'",
            [graph.dt],
        ).fetchone()[0]
    assert {r[0] for r in rows} == markets
    assert with_path > 100
    for market_id, score, *rest in rows:
        components, (version, low, reason, weakest, clarity_reasons) = rest[: len(COMPONENTS)], rest[len(COMPONENTS) :]
        assert 0.0 <= score <= 100.0, market_id
        assert all(0.0 <= c <= 1.0 for c in components), market_id
        assert version == "trust-v1"
        assert weakest in COMPONENTS
        assert isinstance(clarity_reasons, list)
        assert (reason is not None) or not low, market_id
    # the day's markets with a full path are not short of points, and most questions of the world read clear
    assert sum(r[-2] is None or "no_path" not in r[-2] for r in rows) >= with_path
    assert sum(not r[-1] for r in rows) > len(rows) / 2


def test_trust_checks_pass_on_a_clean_partition(graph: Graph) -> None:
    result = graph.materialize(asset_selection=[TRUST_KEY])
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == TRUST_KEY}
    assert TRUST_CHECKS | {"low_confidence_share", "partition_non_empty"} <= set(evaluations)
    assert all(evaluations[name].passed for name in TRUST_CHECKS), {n: e.metadata for n, e in evaluations.items()}


def test_rematerializing_a_day_and_a_range_give_identical_scores(graph: Graph) -> None:
    with connect(graph) as conn:
        before = partition_hash(conn, "trust.trust_scores", graph.dt)
    assert graph.materialize(asset_selection=[TRUST_KEY]).success
    with connect(graph) as conn:
        assert partition_hash(conn, "trust.trust_scores", graph.dt) == before
    # the days inside a range run (one run, several days) give the same rows as each day alone
    # (the day before is materialized first: its resolved cohort enters dt's segment record, so dt is re-scored alone)
    previous = graph.dt - timedelta(days=1)
    assert graph.materialize(previous.isoformat()).success
    assert graph.materialize(asset_selection=[TRUST_KEY]).success
    with connect(graph) as conn:
        alone = partition_hash(conn, "trust.trust_scores", previous)
        before = partition_hash(conn, "trust.trust_scores", graph.dt)
        assert conn.execute("SELECT count(*) FROM trust.trust_scores WHERE dt = ?", [previous]).fetchone()[0] > 0
    job = graph.defs.resolve_job_def("daily_job")
    ranged = job.execute_in_process(
        instance=graph.instance,
        asset_selection=[TRUST_KEY],
        tags={
            "dagster/asset_partition_range_start": previous.isoformat(),
            "dagster/asset_partition_range_end": graph.dt.isoformat(),
        },
        raise_on_error=False,
    )
    assert ranged.success
    written = _metadata(ranged)["rows_per_day"].value
    assert set(written) == {previous.isoformat(), graph.dt.isoformat()}
    with connect(graph) as conn:
        assert partition_hash(conn, "trust.trust_scores", graph.dt) == before
        assert partition_hash(conn, "trust.trust_scores", previous) == alone


def test_the_metadata_shows_the_config_the_distribution_and_the_lowest_markets(graph: Graph) -> None:
    result = graph.materialize(asset_selection=[TRUST_KEY])
    metadata = _metadata(result)
    assert metadata["formula_version"].value == "trust-v1"
    assert metadata["trust_config"].value["weights"]["liquidity"] == pytest.approx(0.25)
    assert "| 0-10 |" in metadata["score_distribution"].value
    lowest = metadata["lowest_trust"].value
    assert "weakest_component" in lowest
    assert lowest.count("\n") >= 5


def test_a_config_file_reaches_the_asset(graph: Graph, tmp_path) -> None:  # type: ignore[no-untyped-def]
    override = tmp_path / "trust.toml"
    override.write_text('formula_version = "trust-v1-file"\n[weights]\nliquidity = 0.45\ntrack_record = 0.0\n')
    moved = replace(graph.settings, trust_config_file=override)
    defs = build_definitions(moved)
    job = defs.resolve_job_def("daily_job")
    try:
        result = job.execute_in_process(
            instance=graph.instance, partition_key=graph.dt.isoformat(), asset_selection=[TRUST_KEY]
        )
        assert result.success
        with connect(graph) as conn:
            versions = conn.execute("SELECT DISTINCT formula_version FROM trust.trust_scores WHERE dt = ?", [graph.dt])
            assert versions.fetchall() == [("trust-v1-file",)]
        metadata = _metadata(result)
        assert metadata["config_file"].value == str(override)
        assert metadata["trust_config"].value["weights"]["track_record"] == 0.0
    finally:
        assert graph.materialize(asset_selection=[TRUST_KEY]).success  # back to the defaults for the other tests
