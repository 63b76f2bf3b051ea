"""Realtime capture coverage with the demo's settings, through a real ``dagster-daemon``, for N minutes (issue 12).

The sandbox's market WebSocket at a steady rate (speed 1: 5 events/s per market, the demo's top 5 markets), the
demo's realtime settings (``mca_assets.demo.REALTIME_DEMO_ENV``: 45 s windows, 30 s overlap margin, a 5 s sensor
interval), a temporary instance from the repository's dagster.yaml, and the daemon launching every window as its
own run. Prints the launch-to-connect latency of the runs, the coverage they report (each, and together over the
span), and the silences longer than ``rt_silence_s`` as reported by ``rt.capture_runs`` and as measured in
``rt.ticks``, matched edge to edge.

    .venv/bin/python bench/bench_realtime_coverage.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the daemon harness lives with the tests

from mca_assets.demo import REALTIME_DEMO_ENV
from mca_assets.realtime.coverage import capture_span, measured_silences, reported_silences
from mca_resources.settings import Settings
from mca_resources.warehouse import read_frame
from mca_sensors.sensor import LEAD_TAG
from tests.conftest import start_sandbox
from tests.integration.realtime.daemon_capture import run_capture

SILENCE_S = Settings().rt_silence_s
EDGE_TOLERANCE_S = 0.25


def matched(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> int:
    """How many silences of ``a`` have one in ``b`` with both edges within EDGE_TOLERANCE_S."""
    return sum(any(abs(s - t) <= EDGE_TOLERANCE_S and abs(e - f) <= EDGE_TOLERANCE_S for t, f in b) for s, e in a)


def edges(frame: object) -> list[tuple[float, float]]:
    return [(row[0].timestamp(), row[1].timestamp()) for row in frame.iter_rows()]  # type: ignore[attr-defined]


def main(minutes: float) -> None:
    demo = REALTIME_DEMO_ENV
    window_s = int(demo["MCA_RT_WINDOW_S"])
    windows = math.ceil(minutes * 60 / window_s)
    box = start_sandbox(markets=2000, seed=7, speed=1.0)
    root = Path(tempfile.mkdtemp(prefix="bench-rt-coverage-"))
    began = time.monotonic()
    try:
        capture = run_capture(
            box, root, windows=windows, window_s=window_s, overlap_s=int(demo["MCA_RT_OVERLAP_S"]),
            interval_s=int(demo["MCA_RT_SENSOR_INTERVAL_S"]), prior_latency_s=Settings().rt_launch_latency_s,
            markets=int(demo["MCA_RT_TOP_N"]), timeout_s=minutes * 60 + 600,
        )  # fmt: skip
    finally:
        box.stop()
    with duckdb.connect(str(capture.warehouse), read_only=True) as conn:
        runs = read_frame(conn, "SELECT * FROM rt.capture_runs ORDER BY window_start")
        span = capture_span(conn)
        uncovered = reported_silences(conn, 0.0)
        reported = reported_silences(conn, SILENCE_S)
        measured = measured_silences(conn, SILENCE_S)
        ticks = conn.execute("SELECT count(*) FROM rt.ticks").fetchone()[0]  # type: ignore[index]
    latencies = [x for x in runs["launch_latency_s"].to_list() if x is not None]
    leads = [float(run.tags.get(LEAD_TAG, "nan")) for run in capture.runs]
    span_s = float(span["seconds"])  # type: ignore[arg-type]
    said, seen = edges(reported), edges(measured)
    wall = time.monotonic() - began
    print(f"{runs.height} capture runs of {window_s} s over {span_s:.0f} s ({ticks} ticks), wall {wall:.0f} s")
    print(
        f"launch-to-connect latency: min {min(latencies):.1f} s, median {statistics.median(latencies):.1f} s, "
        f"max {max(latencies):.1f} s; leads used: {', '.join(f'{x:.1f}' for x in leads)} s"
    )
    coverage = runs["coverage"]
    print(
        f"coverage per run: min {coverage.min():.4f}, mean {coverage.mean():.4f}; first run {coverage[0]:.4f}, "
        f"runs after it min {coverage[1:].min():.4f}; runs below 0.98: {(coverage < 0.98).sum()}"
    )
    print(f"coverage of the span by all runs together: {1 - float(uncovered['seconds'].sum()) / span_s:.4f}")
    print(
        f"silences > {SILENCE_S:g} s reported by rt.capture_runs: {reported.height} "
        f"({float(reported['seconds'].sum()):.1f} s); measured in rt.ticks: {measured.height} "
        f"({float(measured['seconds'].sum()):.1f} s); matched edge to edge (±{EDGE_TOLERANCE_S} s): "
        f"{matched(said, seen)} of reported, {matched(seen, said)} of measured"
    )
    for row in reported.iter_rows(named=True):
        print(
            f"  reported {row['silence_start']:%H:%M:%S.%f} .. {row['silence_end']:%H:%M:%S.%f}  {row['seconds']:.2f} s"
        )
    for row in measured.iter_rows(named=True):
        print(
            f"  measured {row['silence_start']:%H:%M:%S.%f} .. {row['silence_end']:%H:%M:%S.%f}  {row['seconds']:.2f} s"
        )
    print(f"data: {root}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    main(parser.parse_args().minutes)
