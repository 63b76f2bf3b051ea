"""The postmortems asset on a materialized sandbox day: one report per selected market, numbers equal to the
warehouse's, byte-identical re-runs, trust and alerts of the warehouse in the report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from mca_assets.postmortem.assets import POSTMORTEMS_KEY
from mca_core.postmortem import SECTIONS
from tests.integration.assets.conftest import Graph


def _report_dir(graph: Graph) -> Path:
    return graph.settings.data_dir / "reports" / "postmortem"


def _query(graph: Graph, sql: str, params: list[object] | None = None) -> pl.DataFrame:
    with duckdb.connect(str(graph.settings.warehouse_path)) as conn:
        return conn.sql(sql, params=params or None).pl()


def _write(graph: Graph, *statements: str, params: list[object] | None = None) -> None:
    with duckdb.connect(str(graph.settings.warehouse_path)) as conn:
        for statement in statements:
            conn.execute(statement, params)


def _worst(graph: Graph) -> str:
    """The day's worst miss (the report shown inline)."""
    return _query(graph, "SELECT market_id FROM reports.postmortems WHERE dt = ? "
                  "ORDER BY abs_error DESC NULLS LAST, market_id LIMIT 1", [graph.dt])["market_id"][0]  # fmt: skip


def _resolved(graph: Graph, market_id: str) -> datetime:
    return _query(graph, "SELECT resolved_ts FROM core.resolutions WHERE dt = ? AND market_id = ?",
                  [graph.dt, market_id])["resolved_ts"][0]  # fmt: skip


def _markdown(graph: Graph, market_id: str) -> str:
    return _query(graph, "SELECT markdown FROM reports.postmortems WHERE dt = ? AND market_id = ?",
                  [graph.dt, market_id])["markdown"][0]  # fmt: skip


def _rematerialize(graph: Graph) -> None:
    result = graph.materialize(asset_selection=[POSTMORTEMS_KEY])
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str) -> list[dict[str, str]]:
    """The first markdown table of a section, as dicts (cells unescaped)."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    split = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [dict(zip(split[0], row, strict=True)) for row in split[2:]]


def _files(graph: Graph) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(_report_dir(graph).iterdir())}


@pytest.fixture(scope="module")
def expected(graph: Graph) -> pl.DataFrame:
    """An independent selection in SQL: confidently wrong at 1d first (error desc), then the 50 largest volumes."""
    return _query(
        graph,
        """
        WITH r AS (
            SELECT r.market_id, r.volume_usd, abs(c.p_yes - r.y) AS err
            FROM core.resolutions r LEFT JOIN core.cutoff_snapshots c
              ON c.dt = r.dt AND c.market_id = r.market_id AND c.horizon = '1d'
            WHERE r.dt = ? AND r.label IN ('RESOLVED_TRUE', 'RESOLVED_FALSE'))
        (SELECT market_id, 'confidently_wrong' AS reason FROM r WHERE err >= 0.7)
        UNION ALL
        (SELECT market_id, 'top_volume' FROM r WHERE err IS NULL OR err < 0.7
         ORDER BY volume_usd DESC NULLS LAST, market_id LIMIT 50)
        """,
        [graph.dt],
    )


def test_one_report_per_selected_market_with_every_section(graph: Graph, expected: pl.DataFrame) -> None:
    rows = _query(graph, "SELECT * FROM reports.postmortems WHERE dt = ? ORDER BY market_id", [graph.dt])
    assert (expected["reason"] == "confidently_wrong").sum() >= 1, "the sandbox day needs a confidently wrong market"
    assert sorted(rows["market_id"]) == sorted(expected["market_id"])
    assert dict(zip(rows["market_id"], rows["reason"], strict=True)) == dict(
        zip(expected["market_id"], expected["reason"], strict=True)
    )
    on_disk = {p.name for p in _report_dir(graph).glob(f"*_{graph.dt}.md")}
    assert on_disk == {Path(p).name for p in rows["path"]}
    for row in rows.iter_rows(named=True):
        markdown = (graph.settings.data_dir / row["path"]).read_text()
        assert markdown == row["markdown"]
        assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == list(SECTIONS)
        if row["image_path"]:
            assert (graph.settings.data_dir / row["image_path"]).read_text().startswith("<?xml")
            assert f"]({Path(row['image_path']).name})" in markdown


def test_numbers_parse_back_to_the_warehouse(graph: Graph) -> None:
    rows = _query(graph, "SELECT market_id, markdown FROM reports.postmortems WHERE dt = ?", [graph.dt])
    cutoffs = _query(graph, "SELECT market_id, horizon, p_yes, y, staleness_seconds FROM core.cutoff_snapshots "
                     "WHERE dt = ?", [graph.dt])  # fmt: skip
    resolutions = _query(graph, "SELECT * FROM core.resolutions WHERE dt = ?", [graph.dt])
    board = _query(graph, "SELECT * FROM calib.scoreboard WHERE dt = ? AND \"window\" = '90d'", [graph.dt])
    checked = 0
    for market_id, markdown in rows.iter_rows():
        res = resolutions.filter(pl.col("market_id") == market_id).row(0, named=True)
        summary = {r["field"]: r["value"] for r in _table(_section(markdown, "Summary"))}
        assert summary["label"] == res["label"]
        assert summary["resolution time"] == res["resolved_ts"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert float(summary["volume_usd"]) == pytest.approx(res["volume_usd"], abs=5e-5)
        printed = {r["horizon"]: r for r in _table(_section(markdown, "Prices and Brier by horizon"))}
        mine = cutoffs.filter(pl.col("market_id") == market_id)
        assert set(printed) == set(mine["horizon"])
        for cut in mine.iter_rows(named=True):
            line = printed[cut["horizon"]]
            assert float(line["p_yes"]) == pytest.approx(cut["p_yes"], abs=5e-5)
            assert float(line["brier"]) == pytest.approx((cut["p_yes"] - cut["y"]) ** 2, abs=5e-5)
            assert float(line["staleness_h"]) == pytest.approx(cut["staleness_seconds"] / 3600, abs=5e-5)
            seg = board.filter((pl.col("segment_type") == "category") & (pl.col("segment") == res["category"])
                               & (pl.col("horizon") == cut["horizon"]))  # fmt: skip
            if seg.height:
                assert float(line["segment_brier"]) == pytest.approx(seg["brier"][0], abs=5e-5)
            checked += 1
        calibration = _table(_section(markdown, "Segment calibration"))
        overall = board.filter((pl.col("segment_type") == "all") & (pl.col("horizon") == "1d"))
        if overall.height:
            assert int(calibration[0]["n"]) == overall["n"][0]
            assert float(calibration[0]["brier"]) == pytest.approx(overall["brier"][0], abs=5e-5)
    assert checked > 0


def test_rematerializing_is_byte_identical_and_drops_unselected_reports(graph: Graph) -> None:
    before = _files(graph)
    stray = _report_dir(graph) / f"no-longer-selected_{graph.dt}.md"
    stray.write_text("old")
    (_report_dir(graph) / f".killed_{graph.dt}.md.tmp-1").write_text("half")  # a killed run's leftover
    other_day = _report_dir(graph) / f"kept_{graph.dt - timedelta(days=1)}.md"
    other_day.write_text("another day's report")
    _rematerialize(graph)
    other_day.unlink()
    assert not stray.exists()
    assert _files(graph) == before


def test_trust_and_alerts_of_the_warehouse_enter_the_report(graph: Graph) -> None:
    worst = _query(graph, "SELECT market_id, markdown FROM reports.postmortems WHERE dt = ? "
                   "ORDER BY abs_error DESC NULLS LAST, market_id LIMIT 1", [graph.dt]).row(0, named=True)  # fmt: skip
    # the graph's own trust stage scored the market on the day (trust and alerts are daily stages now)
    own = _query(graph, "SELECT trust_score FROM trust.trust_scores WHERE dt = ? AND market_id = ?",
                 [graph.dt, worst["market_id"]])["trust_score"]  # fmt: skip
    assert f"| {graph.dt} | {own[0]:.4f} |" in _section(worst["markdown"], "Trust history")
    resolved = _query(graph, "SELECT resolved_ts FROM core.resolutions WHERE dt = ? AND market_id = ?",
                      [graph.dt, worst["market_id"]])["resolved_ts"][0]  # fmt: skip
    alert_ts = (resolved - timedelta(hours=5)).astimezone(UTC).replace(tzinfo=None)
    day_before = graph.dt - timedelta(days=1)
    market = worst["market_id"]
    _write(
        graph,
        f"CREATE TABLE trust.saved AS SELECT * FROM trust.trust_scores WHERE market_id = '{market}'",
        f"DELETE FROM trust.trust_scores WHERE market_id = '{market}'",
        "INSERT INTO trust.trust_scores BY NAME SELECT * FROM (VALUES "
        f"('{day_before}'::DATE, '{market}', 41.5, 'v1', false, NULL, 0.9, 0.8, 0.55, 0.2, 1.0, 0.3, NULL, "
        "'track_record', ['no_time_zone'])) t(dt, market_id, trust_score, formula_version, low_confidence, "
        "low_confidence_reason, liquidity, stability, clarity, manipulation, time_to_expiry, track_record, "
        "manipulation_signal, weakest_component, clarity_reasons)",
        "CREATE TABLE alerts.saved AS SELECT * FROM alerts.alerts",
        "DELETE FROM alerts.alerts",
        f"INSERT INTO alerts.alerts VALUES ('a1', '{graph.dt}', '{alert_ts.isoformat()}+00', '{market}', 'rule', "
        "'HIGH', 'BAND_BREACH', ['BAND_BREACH', 'VOLUME_SPIKE'], '{}', 'price outside band', "
        f"'{alert_ts.isoformat()}+00', '{alert_ts.isoformat()}+00')",
    )
    try:
        _rematerialize(graph)
        markdown = _query(graph, "SELECT markdown FROM reports.postmortems WHERE dt = ? AND market_id = ?",
                          [graph.dt, market])["markdown"][0]  # fmt: skip
        history = _table(_section(markdown, "Trust history"))
        assert history == [{"dt": str(day_before), "trust_score": "41.5000", "low_confidence": "no",
                            "weakest_component": "track_record", "weakest_value": "0.3000"}]  # fmt: skip
        clarity = _table(_section(markdown, "Question clarity"))
        assert clarity[0]["clarity"] == "0.5500"
        assert clarity[0]["reason_codes"] == "no_time_zone"
        catch = {r["rule"]: r for r in _table(_section(markdown, "What would have caught it"))}
        assert catch["trust_floor"]["loosest_threshold"] == "41.5000"
        assert catch["trust_floor"]["fires_at_default"] == "yes"
        first = datetime.combine(graph.dt, datetime.min.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert catch["trust_floor"]["first_at_default"] == first  # the day's score is known at its end
    finally:
        _write(
            graph,
            f"DELETE FROM trust.trust_scores WHERE market_id = '{market}'",
            "INSERT INTO trust.trust_scores SELECT * FROM trust.saved",
            "DROP TABLE trust.saved",
            "DELETE FROM alerts.alerts",
            "INSERT INTO alerts.alerts SELECT * FROM alerts.saved",
            "DROP TABLE alerts.saved",
        )
        _rematerialize(graph)
