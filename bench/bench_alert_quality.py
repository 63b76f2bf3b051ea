"""Precision, recall and median delay of HIGH+MED rule alerts against the sandbox's ground-truth episodes, over one
real daily partition (``alert_quality_world``: stand-in bands and neutral trust, said there and in docs/alerts.md).

Goals (issue 15): precision >= 0.7, recall >= 0.7, median delay <= 2 refresh intervals (the daily path's points
are hourly snapshots, so its refresh interval is an hour).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

import dagster as dg

from bench.alert_quality_world import TOLERANCE_S, measure
from mca_assets.definitions import build_definitions
from mca_core.alert_quality import AlertQuality
from tests.conftest import start_sandbox
from tests.integration.assets.conftest import settings_for


def line(name: str, q: AlertQuality) -> str:
    delay = "-" if q.median_delay_s is None else f"{q.median_delay_s / 60:.0f} min"
    precision = "-" if q.precision is None else f"{q.precision:.2f}"
    recall = "-" if q.recall is None else f"{q.recall:.2f}"
    return (f"{name:<22} precision {precision} ({q.alerts_right}/{q.alerts}) recall {recall} "
            f"({q.episodes_found}/{q.episodes}) median delay {delay}")  # fmt: skip


def main(markets: int = 1500, seed: int = 5, day: date = date(2026, 10, 20)) -> None:
    box = start_sandbox(markets=markets, seed=seed, manipulation_rate=4.0)
    try:
        settings = settings_for(box, Path(tempfile.mkdtemp()))
        with dg.instance_for_test() as instance:
            run = measure(build_definitions(settings), instance, str(settings.warehouse_path), box.base, day)
    finally:
        box.stop()
    print(f"world: {markets} markets, seed {seed}, manipulation_rate 4.0; partition {day}: {run.inputs['markets']} "
          f"markets, {run.inputs['bands']} stand-in bands; tolerance {TOLERANCE_S} s")  # fmt: skip
    print(f"HIGH+MED as the graph is (no bands, no trust for a past day): {run.as_is}")
    print(f"HIGH+MED with the stand-ins: {run.alerts.height}")
    print(line("price-moving episodes", run.price_episodes))
    print(line("all episodes", run.all_episodes))
    for kind, q in run.by_kind.items():  # precision per kind would count the other kinds' alerts as wrong
        delay = "-" if q.median_delay_s is None else f"{q.median_delay_s / 60:.0f} min"
        print(f"  {kind:<20} recall {q.recall:.2f} ({q.episodes_found}/{q.episodes}) median delay {delay}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))  # markets, seed
