"""Consecutive capture windows through a real ``dagster-daemon`` (sensor, run queue, a run worker per window, the
WebSocket) against the sandbox at a steady rate: every uncovered second of a window is in its ``rt.capture_runs``
row, and the silences the runs report together are the silences measured in ``rt.ticks``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from mca_assets.realtime.coverage import capture_span, reported_silences
from mca_resources.warehouse import read_frame
from mca_sensors.capture import Span, window_gaps
from mca_sensors.sensor import LEAD_TAG
from tests.conftest import RunningSandbox
from tests.integration.realtime.daemon_capture import run_capture

pytestmark = pytest.mark.timeout(420)

#: 5 markets x 5 events/s x speed 4: ~100 events/s, so the venue's own spacing (~10 ms) is far below a silence
SPEED, MARKETS = 4.0, 5
#: silences longer than this are compared; edges may differ by the spacing and the receive lag, up to TOLERANCE_S
MIN_S, TOLERANCE_S = 1.0, 0.25


def silences_in(times: list[datetime], lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """The reference: stretches of [lo, hi] longer than MIN_S between consecutive tick times (and the ends)."""
    points = [lo, *(t for t in times if lo <= t <= hi), hi]
    return [(a, b) for a, b in itertools.pairwise(points) if (b - a).total_seconds() > MIN_S]


def unmatched(
    silences: list[tuple[datetime, datetime]], others: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The silences clearly above MIN_S that no silence of ``others`` matches within TOLERANCE_S at both edges."""
    near = timedelta(seconds=TOLERANCE_S)
    return [
        (a, b)
        for a, b in silences
        if (b - a).total_seconds() > MIN_S + TOLERANCE_S
        and not any(abs(a - c) <= near and abs(b - d) <= near for c, d in others)
    ]


def test_the_silences_capture_runs_report_are_the_silences_in_the_ticks(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path
) -> None:
    box = sandbox_factory(markets=300, speed=SPEED)
    # no latency assumed and no margin: the first window opens at once, so its run starts late (by its launch)
    capture = run_capture(
        box, tmp_path, windows=3, window_s=20, overlap_s=0, interval_s=5, prior_latency_s=0.0, markets=MARKETS
    )
    assert [run.status for run in capture.runs] == [dg.DagsterRunStatus.SUCCESS] * len(capture.runs)
    with duckdb.connect(str(capture.warehouse), read_only=True) as conn:
        runs = read_frame(conn, "SELECT * FROM rt.capture_runs ORDER BY window_start")
        reported = reported_silences(conn, MIN_S)
        span = capture_span(conn)
        tick_times = read_frame(conn, "SELECT ts FROM rt.ticks ORDER BY ts")["ts"].to_list()
    assert runs.height == len(capture.runs) >= 3
    starts, ends = runs["window_start"].to_list(), runs["window_end"].to_list()
    assert all(a <= b for a, b in zip(ends, starts[1:], strict=False))  # one run per window, none overlapping

    for run in runs.iter_rows(named=True):
        spans = [Span(s["start"], s["end"]) for s in run["covered"]]
        gaps = window_gaps(run["window_start"], run["window_end"], spans)
        window = (run["window_end"] - run["window_start"]).total_seconds()
        assert json.loads(run["gaps_json"]) == [gap.to_json() for gap in gaps]
        assert run["gaps"] == len(gaps)
        assert run["coverage"] == pytest.approx(1 - sum(g.seconds for g in gaps) / window)
        if run["connected_at"] is None:  # started after its window was over (a very slow launch)
            assert (run["status"], run["coverage"], run["launch_latency_s"]) == ("expired", 0.0, None)
        else:
            latency = (run["connected_at"] - run["requested_at"]).total_seconds()
            assert run["launch_latency_s"] == pytest.approx(latency)
    first = runs.row(0, named=True)
    assert json.loads(first["gaps_json"])[0]["kind"] == "late_start"  # the first window opened before its run
    # the first run had connected when the last was requested: that one went out the measured latency ahead
    assert float(capture.runs[-1].tags[LEAD_TAG]) > 0

    measured = silences_in(tick_times, span["lo"], span["hi"])  # type: ignore[arg-type]
    said = list(zip(reported["silence_start"].to_list(), reported["silence_end"].to_list(), strict=True))
    assert said, "the first run's late start is a silence"
    assert said[0][0] == first["window_start"]
    assert unmatched(said, measured) == []  # every silence the runs report is in the ticks ...
    assert unmatched(measured, said) == []  # ... and every silence in the ticks is reported
