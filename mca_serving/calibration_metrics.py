"""Calibration quality as Prometheus gauges (``mca_calibration_*``), read from the warehouse at scrape time.

The alert rules of deploy/prometheus/alerts.yml (the seed's thresholds: Brier, ECE, conformal coverage, drift) and
the calibration dashboard read these. Values are the latest day's headline rows (segment ``all``), so a label set is
small and fixed: windows x horizons, methods x nominal levels, drift scopes x detectors. A warehouse that cannot be
read yields no samples (the ``absent``-style rules and the pipeline dashboard show that), never a stale value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime

import duckdb
import polars as pl
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

Query = Callable[[str, Sequence[object] | None], pl.DataFrame | None]


def missing_as_none(query: Query) -> Query:
    """``query`` with a table the snapshot does not hold (one published before ``calib.drift`` was) read as no
    samples."""

    def tolerant(sql: str, params: Sequence[object] | None) -> pl.DataFrame | None:
        try:
            return query(sql, params)
        except duckdb.CatalogException:
            return None

    return tolerant


SCOREBOARD_SQL = """
SELECT dt, "window", horizon, brier, ece, n FROM calib.scoreboard
WHERE dt = (SELECT max(dt) FROM calib.scoreboard) AND segment_type = 'all'
"""
COVERAGE_SQL = """
SELECT dt, method, nominal, coverage, mean_width FROM calib.interval_metrics
WHERE dt = (SELECT max(dt) FROM calib.interval_metrics) AND band_calibration = 'conformal' AND segment_type = 'all'
"""
DRIFT_SQL = "SELECT dt, scope, detector, fired FROM calib.drift WHERE dt = (SELECT max(dt) FROM calib.drift)"


SCORE_LABELS = ["window", "horizon"]
BAND_LABELS = ["method", "nominal"]


def _day_end_ts(dt: date) -> float:
    """The end of the UTC day ``dt`` (a daily partition is complete then), as a Unix timestamp."""
    return datetime(dt.year, dt.month, dt.day, tzinfo=UTC).timestamp() + 86_400.0


class CalibrationCollector(Collector):
    """A custom collector: each scrape runs three small queries through the service's read-only reader."""

    def __init__(self, query: Query) -> None:
        self.query = query

    def collect(self) -> Iterator[GaugeMetricFamily]:
        brier = GaugeMetricFamily(
            "mca_calibration_brier", "Brier score, latest day, all markets.", labels=["window", "horizon"]
        )
        ece = GaugeMetricFamily(
            "mca_calibration_ece", "ECE (equal-mass bins), latest day.", labels=["window", "horizon"]
        )
        n = GaugeMetricFamily(
            "mca_calibration_n", "Resolved forecasts behind the scores.", labels=["window", "horizon"]
        )
        coverage = GaugeMetricFamily(
            "mca_conformal_coverage", "Conformal band coverage, latest day.", labels=BAND_LABELS
        )
        width = GaugeMetricFamily("mca_conformal_mean_width", "Conformal band mean width.", labels=BAND_LABELS)
        drift = GaugeMetricFamily("mca_drift_fired", "1 when a drift detector fired.", labels=["scope", "detector"])
        day = GaugeMetricFamily("mca_calibration_day_end_timestamp_seconds", "End of the latest scored day.")
        scores = self.query(SCOREBOARD_SQL, None)
        if scores is not None and scores.height:
            for row in scores.iter_rows(named=True):
                labels = [row["window"], row["horizon"]]
                if row["brier"] is not None:
                    brier.add_metric(labels, row["brier"])
                if row["ece"] is not None:
                    ece.add_metric(labels, row["ece"])
                n.add_metric(labels, row["n"])
            day.add_metric([], _day_end_ts(scores["dt"].max()))  # type: ignore[arg-type]
        bands = self.query(COVERAGE_SQL, None)
        for row in bands.iter_rows(named=True) if bands is not None else ():
            labels = [row["method"], f"{row['nominal']:g}"]
            if row["coverage"] is not None:
                coverage.add_metric(labels, row["coverage"])
            if row["mean_width"] is not None:
                width.add_metric(labels, row["mean_width"])
        fired = self.query(DRIFT_SQL, None)
        for row in fired.iter_rows(named=True) if fired is not None else ():
            drift.add_metric([row["scope"], row["detector"]], 1.0 if row["fired"] else 0.0)
        yield from (brier, ece, n, coverage, width, drift, day)
