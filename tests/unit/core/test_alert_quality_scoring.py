"""``alert_quality`` against a plain-Python count of the same definition, on random alerts and episodes."""

from __future__ import annotations

import statistics

import numpy as np
import polars as pl
import pytest

from mca_core.alert_quality import alert_quality


def slow_quality(alerts: list[tuple[str, int]], episodes: list[tuple[str, str, int, int]], tol: int) -> tuple:
    """The definition, loop by loop: an alert is right inside any episode of its market, [start, end + tol]."""
    right = sum(any(m == em and s <= t <= e + tol for _, em, s, e in episodes) for m, t in alerts)
    delays = []
    for _, em, s, e in episodes:
        inside = [t for m, t in alerts if m == em and s <= t <= e + tol]
        if inside:
            delays.append(min(inside) - s)
    median = statistics.median(delays) if delays else None
    return right, len(delays), median


@pytest.mark.parametrize("tol", [0, 600])
def test_scores_match_the_slow_definition(tol):
    rng = np.random.default_rng(tol + 3)
    markets = [f"m{i}" for i in range(12)]
    alerts = [(str(rng.choice(markets)), int(rng.integers(0, 20_000))) for _ in range(300)]
    episodes = []
    for i in range(40):
        start = int(rng.integers(0, 19_000))
        episodes.append((f"e{i}", str(rng.choice(markets)), start, start + int(rng.integers(60, 3000))))
    got = alert_quality(
        pl.DataFrame(alerts, schema=["market_id", "ts"], orient="row"),
        pl.DataFrame(episodes, schema=["episode_id", "market_id", "start_ts", "end_ts"], orient="row"),
        tol,
    )
    right, found, median = slow_quality(alerts, episodes, tol)
    assert (got.alerts, got.alerts_right, got.episodes, got.episodes_found) == (300, right, 40, found)
    assert 0 < right < 300
    assert 0 < found < 40
    assert got.precision == pytest.approx(right / 300)
    assert got.recall == pytest.approx(found / 40)
    assert got.median_delay_s == pytest.approx(median)


def test_an_alert_in_two_overlapping_episodes_counts_once_and_finds_both():
    alerts = pl.DataFrame({"market_id": ["a", "a", "b"], "ts": [150, 5000, 150]})
    episodes = pl.DataFrame(
        {
            "episode_id": ["1", "2", "3"],
            "market_id": ["a", "a", "c"],
            "start_ts": [100, 120, 100],
            "end_ts": [200, 300, 200],
        }
    )
    got = alert_quality(alerts, episodes)
    assert (got.alerts_right, got.episodes_found, got.median_delay_s) == (1, 2, 40.0)
    assert got.precision == pytest.approx(1 / 3)
    assert got.recall == pytest.approx(2 / 3)
    empty = alert_quality(alerts.clear(), episodes)
    assert (empty.precision, empty.recall, empty.median_delay_s) == (None, 0.0, None)
