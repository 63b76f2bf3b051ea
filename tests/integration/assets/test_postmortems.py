"""The postmortems asset on a materialized sandbox day: one report per selected market, numbers equal to the
warehouse's, byte-identical re-runs, the alerts stage's rows and thresholds, trust read when its table exists and
named as missing when not."""

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


def test_alerts_listed_as_the_warehouse_has_them(graph: Graph) -> None:
    """The alerts stage is a dependency: every report lists its market's alerts.alerts rows raised before
    resolution (an independent SQL query), and an added alert appears after a re-run."""
    rows = _query(graph, "SELECT market_id, markdown FROM reports.postmortems WHERE dt = ?", [graph.dt])
    expected = _query(
        graph,
        "SELECT a.market_id, a.severity, a.source, round(epoch(r.resolved_ts - a.ts) / 3600, 4) AS lead_h "
        "FROM alerts.alerts a JOIN core.resolutions r ON r.market_id = a.market_id AND r.dt = ? "
        "WHERE a.ts < r.resolved_ts ORDER BY a.market_id, a.ts, a.alert_id",
        [graph.dt],
    )
    for market_id, markdown in rows.iter_rows():
        listed = _table(_section(markdown, "Alerts before resolution"))
        mine = expected.filter(pl.col("market_id") == market_id)
        assert [(a["severity"], a["source"], float(a["lead_h"])) for a in listed] == list(
            zip(mine["severity"], mine["source"], mine["lead_h"], strict=True)
        )
        if mine.is_empty():
            assert "No alert fired for this market before resolution." in markdown
    worst = _worst(graph)
    alert_ts = (_resolved(graph, worst) - timedelta(hours=5)).astimezone(UTC).replace(tzinfo=None)
    _write(graph, "INSERT INTO alerts.alerts VALUES ('pm-test', ?, ?::TIMESTAMP || '+00', ?, 'rule', 'HIGH', "
           "'BAND_BREACH_UP:HIGH', ['BAND_BREACH', 'VOLUME_SPIKE'], '{}', 'price outside band', now(), now())",
           params=[graph.dt, alert_ts.isoformat(), worst])  # fmt: skip
    try:
        _rematerialize(graph)
        listed = _table(_section(_markdown(graph, worst), "Alerts before resolution"))
        assert ("HIGH", "5.0000", "BAND_BREACH, VOLUME_SPIKE") in [
            (a["severity"], a["lead_h"], a["reason_codes"]) for a in listed
        ]
    finally:
        _write(graph, "DELETE FROM alerts.alerts WHERE alert_id = 'pm-test'")
        _rematerialize(graph)


def test_catch_thresholds_are_the_alert_configs(graph: Graph) -> None:
    catch = {r["rule"]: r for r in _table(_section(_markdown(graph, _worst(graph)), "What would have caught it"))}
    alerts = graph.settings.alert_config()
    assert float(catch["volume_spike"]["default"]) == alerts.volume_velocity_min
    assert float(catch["oi_change"]["default"]) == alerts.oi_change_min
    assert float(catch["trust_floor"]["default"]) == alerts.min_trust_score
    assert float(catch["clarity_floor"]["default"]) == alerts.min_clarity


def test_trust_history_is_the_warehouse_s(graph: Graph) -> None:
    """Every report's trust history, weakest component and trust floor equal trust.trust_scores (independent SQL:
    the trust stage's weakest component at its effective value, the lowest score known before resolution)."""
    rows = _query(graph, "SELECT market_id, markdown FROM reports.postmortems WHERE dt = ?", [graph.dt])
    trust = _query(
        graph,
        "SELECT t.market_id, t.dt, round(t.trust_score, 4) AS trust_score, t.weakest_component, "
        "round(CASE t.weakest_component WHEN 'manipulation' THEN 1 - t.manipulation WHEN 'liquidity' THEN t.liquidity "
        "WHEN 'stability' THEN t.stability WHEN 'clarity' THEN t.clarity WHEN 'time_to_expiry' THEN t.time_to_expiry "
        "ELSE t.track_record END, 4) AS weakest_value, "
        "(t.dt + INTERVAL 1 DAY)::TIMESTAMPTZ < r.resolved_ts AS known_before "
        "FROM trust.trust_scores t JOIN core.resolutions r ON r.market_id = t.market_id AND r.dt = ? "
        "WHERE t.dt <= ? ORDER BY t.market_id, t.dt",
        [graph.dt, graph.dt],
    )
    with_history = 0
    for market_id, markdown in rows.iter_rows():
        mine = trust.filter(pl.col("market_id") == market_id)
        if mine.is_empty():
            assert "Missing: no trust history for this market." in _section(markdown, "Trust history")
            continue
        with_history += 1
        printed = _table(_section(markdown, "Trust history"))
        assert [(r["dt"], r["weakest_component"]) for r in printed] == [
            (str(d), w) for d, w in mine.select("dt", "weakest_component").rows()
        ]
        numbers = [float(r[c]) for r in printed for c in ("trust_score", "weakest_value")]
        assert numbers == pytest.approx([v for r in mine.select("trust_score", "weakest_value").rows() for v in r],
                                        abs=1e-4)  # fmt: skip
        catch = {r["rule"]: r for r in _table(_section(markdown, "What would have caught it"))}
        known = mine.filter("known_before")
        if known.height:
            assert float(catch["trust_floor"]["loosest_threshold"]) == pytest.approx(
                known["trust_score"].min(), abs=1e-4
            )
    assert with_history > 0, "the sandbox day's reported markets have no trust history"
