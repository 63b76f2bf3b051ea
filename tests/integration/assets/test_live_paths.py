"""Live markets' paths (issue 13) against the sandbox's truth: every market of the day has its exact hourly path,
the hourly on-chain state is the subgraphs' at each hour, and live markets get features (slow reference)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import duckdb
import httpx
import pytest

from tests.integration.assets.conftest import Graph


def day_bounds(graph: Graph) -> tuple[int, int]:
    start = int(datetime(graph.dt.year, graph.dt.month, graph.dt.day, tzinfo=UTC).timestamp())
    return start, start + 86_400


def truth_markets(graph: Graph) -> list[dict]:
    return httpx.get(f"{graph.sandbox.base}/_truth/markets", params={"limit": 10000}).json()["markets"]


def truth_day_path(graph: Graph, client: httpx.Client, market_id: str) -> list[tuple[int, float]]:
    start, end = day_bounds(graph)
    paths = client.get(
        f"{graph.sandbox.base}/_truth/markets/{market_id}",
        params={"paths": 1, "fidelity": 60, "start": start, "end": end},
    ).json()["paths"]
    return [(t, p) for t, p in zip(paths["t"], paths["p_market"], strict=True) if start <= t < end]


def test_every_market_live_that_day_has_its_exact_hourly_path(graph: Graph) -> None:
    start, end = day_bounds(graph)
    live = [
        m for m in truth_markets(graph)
        if m["created_ts"] < end and (m["resolved_ts"] is None or m["resolved_ts"] >= start)
    ]  # fmt: skip
    with duckdb.connect(str(graph.settings.warehouse_path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT market_id, epoch(ts)::BIGINT, p FROM core.price_history WHERE dt = ? AND ts >= to_timestamp(?) "
            "AND ts < to_timestamp(?) ORDER BY market_id, ts",
            [graph.dt, start, end],
        ).fetchall()
    got: dict[str, list[tuple[int, float]]] = {}
    for market_id, ts, p in rows:
        got.setdefault(market_id, []).append((ts, p))
    with httpx.Client() as client:
        expected = {m["market_id"]: path for m in live if (path := truth_day_path(graph, client, m["market_id"]))}
    assert len(expected) > 100
    # the cohort's path stops at its resolution: the truth's grid points after it are not the market's
    resolved = {m["market_id"]: m["resolved_ts"] for m in live if m["resolved_ts"] is not None}
    expected = {k: [(t, p) for t, p in v if t <= resolved.get(k, end)] for k, v in expected.items()}
    expected = {k: v for k, v in expected.items() if v}
    assert set(got) == set(expected)
    assert got == expected


def test_hourly_onchain_state_is_the_subgraphs_at_each_block(graph: Graph) -> None:
    with duckdb.connect(str(graph.settings.warehouse_path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT condition_id, epoch(ts)::BIGINT, epoch(block_ts)::BIGINT, open_interest_usd, volume_usd, "
            "trade_count FROM core.subgraph_hourly WHERE dt = ? AND condition_id IN (SELECT DISTINCT condition_id "
            "FROM core.subgraph_hourly WHERE dt = ? AND volume_usd > 0 ORDER BY condition_id LIMIT 12) "
            "ORDER BY condition_id, ts",
            [graph.dt, graph.dt],
        ).fetchall()
        hours = conn.execute("SELECT count(DISTINCT ts) FROM core.subgraph_hourly WHERE dt = ?", [graph.dt]).fetchone()
    assert hours[0] == 25
    start, _ = day_bounds(graph)
    assert {ts for _, ts, *_ in rows} == {start + 3600 * k for k in range(25)}
    with httpx.Client() as client:
        for condition_id, ts, block_ts, oi, volume, trades in rows:
            assert ts - 60 <= block_ts <= ts
            truth = client.get(f"{graph.sandbox.base}/_truth/subgraph/{condition_id}", params={"ts": block_ts})
            if truth.status_code == 404:
                assert (oi, volume) == (None, None)
                continue
            body = truth.json()
            assert oi == pytest.approx(int(body["marketOpenInterest"]["amount"]) / 1e6, abs=1e-9)
            books = body["orderbooks"]
            assert volume == pytest.approx(sum(float(b["scaledCollateralVolume"]) for b in books), abs=1e-6)
            assert trades == sum(int(b["tradesQuantity"]) for b in books)


def _reference_features(
    points: list[tuple[datetime, float]], i: int
) -> tuple[float | None, float | None, float | None]:
    """ret_1h, ret_1d and vol_24h of point i, the slow way (docstring of mca_core.features)."""
    ts, p = points[i]

    def at_or_before(t: datetime) -> float | None:
        earlier = [q for s, q in points if s <= t]
        return earlier[-1] if earlier else None

    p1, p24 = at_or_before(ts - timedelta(hours=1)), at_or_before(ts - timedelta(hours=24))
    window = [q for s, q in points if ts - timedelta(hours=24) < s <= ts]
    diffs = [b - a for a, b in itertools.pairwise(window)]
    vol = None
    if len(window) >= 3:
        mean = sum(diffs) / len(diffs)
        vol = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    return (None if p1 is None else p - p1), (None if p24 is None else p - p24), vol


def test_live_markets_get_returns_and_volatility(graph: Graph) -> None:
    day_before = graph.dt - timedelta(days=1)
    assert graph.materialize(day_before.isoformat()).success
    assert graph.materialize().success  # the day again, now with the day before as context
    with duckdb.connect(str(graph.settings.warehouse_path), read_only=True) as conn:
        live = [r[0] for r in conn.execute(
            "SELECT market_id FROM core.markets WHERE dt = ? AND NOT closed ORDER BY market_id LIMIT 25", [graph.dt]
        ).fetchall()]  # fmt: skip
        snapshots = conn.execute(
            "SELECT market_id, ts, p_yes FROM core.market_snapshots WHERE dt BETWEEN ? AND ? AND market_id IN "
            "(SELECT unnest(?::VARCHAR[])) ORDER BY market_id, ts",
            [day_before, graph.dt, live],
        ).fetchall()
        features = conn.execute(
            "SELECT market_id, ts, ret_1h, ret_1d, vol_24h FROM core.features WHERE dt = ? AND market_id IN "
            "(SELECT unnest(?::VARCHAR[])) ORDER BY market_id, ts",
            [graph.dt, live],
        ).fetchall()
    paths: dict[str, list[tuple[datetime, float]]] = {}
    for market_id, ts, p in snapshots:
        paths.setdefault(market_id, []).append((ts, p))
    with_returns = 0
    for market_id, ts, ret_1h, ret_1d, vol in features:
        points = paths[market_id]
        i = next(k for k, (s, _) in enumerate(points) if s == ts)
        ref = _reference_features(points, i)
        for got, want in zip((ret_1h, ret_1d, vol), ref, strict=True):
            assert (got is None) == (want is None), (market_id, ts)
            if want is not None:
                assert got == pytest.approx(want, abs=1e-12)
        with_returns += ret_1d is not None and vol is not None
    assert with_returns > 0.5 * len(features)
