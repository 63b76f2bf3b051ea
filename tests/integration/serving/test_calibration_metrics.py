"""The calibration gauges the alert rules read, from a published snapshot through the service's own reader: latest
day only, headline segment only, nothing before the first snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mca_resources.serving_snapshot import publish_snapshot
from mca_resources.warehouse import ensure_schema
from mca_serving.calibration_metrics import CalibrationCollector, missing_as_none
from mca_serving.snapshot_reader import SnapshotReader


def scrape(serving_dir: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """One scrape of the gauges as `mca_serving.app` registers them."""
    reader = SnapshotReader(serving_dir)
    registry = CollectorRegistry()
    registry.register(CalibrationCollector(missing_as_none(reader.query)))
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_gauges_hold_the_latest_days_headline_rows(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    scores = pd.DataFrame(
        [(date(2026, 9, d), w, h, st, 0.1 * d + i, 0.01 * d + i, 100 + d)
         for d in (1, 2) for i, (w, h) in enumerate([("30d", "1d"), ("all", "1w")]) for st in ("all", "category")],
        columns=["dt", "window", "horizon", "segment_type", "brier", "ece", "n"],
    )  # fmt: skip
    with duckdb.connect(str(path)) as conn:
        ensure_schema(conn)
        conn.register("s", scores)
        conn.execute(
            'INSERT INTO calib.scoreboard (dt, "window", horizon, segment_type, segment, n, n_events, brier, ece, '
            'low_confidence) SELECT dt, "window", horizon, segment_type, segment_type, n, n, brier, ece, false FROM s'
        )
        conn.execute(
            "INSERT INTO calib.interval_metrics (dt, method, band_calibration, segment_type, segment, nominal, n, "
            "n_markets, coverage, mean_width) VALUES "
            "('2026-09-02', 'ewma', 'conformal', 'all', 'all', 0.8, 50, 10, 0.71, 0.2),"
            "('2026-09-02', 'ewma', 'raw', 'all', 'all', 0.8, 50, 10, 0.5, 0.1),"
            "('2026-09-01', 'ewma', 'conformal', 'all', 'all', 0.8, 50, 10, 0.9, 0.3)"
        )
        conn.execute(
            "INSERT INTO calib.drift VALUES ('2026-09-02', '1d', 'swing', 40, 0.2, 0.15, true),"
            "('2026-09-02', '1d', 'psi', 40, 0.1, 0.25, false), ('2026-09-01', '1d', 'psi', 40, 0.9, 0.25, true)"
        )
        publish_snapshot(conn, tmp_path / "serving", source="test")
    got = scrape(tmp_path / "serving")

    latest = scores[(scores["dt"] == scores["dt"].max()) & (scores["segment_type"] == "all")]
    expected_brier = {(("horizon", r.horizon), ("window", r.window)): r.brier for r in latest.itertuples()}
    assert got["mca_calibration_brier"] == expected_brier
    assert got["mca_calibration_ece"] == {
        (("horizon", r.horizon), ("window", r.window)): r.ece for r in latest.itertuples()
    }
    assert got["mca_conformal_coverage"] == {(("method", "ewma"), ("nominal", "0.8")): 0.71}
    assert got["mca_drift_fired"] == {
        (("detector", "psi"), ("scope", "1d")): 0.0,
        (("detector", "swing"), ("scope", "1d")): 1.0,
    }
    end_of_day = datetime(2026, 9, 3, tzinfo=UTC).timestamp()
    assert got["mca_calibration_day_end_timestamp_seconds"] == {(): end_of_day}


def test_no_snapshot_gives_no_samples(tmp_path: Path) -> None:
    got = scrape(tmp_path / "serving")
    assert "mca_calibration_brier" not in got
    assert "mca_drift_fired" not in got
