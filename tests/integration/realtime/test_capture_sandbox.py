"""Capture against the sandbox's market WebSocket, loaded into a real DuckDB file, compared with the sandbox's
truth log (the exact frames it sent): spool = truth, bars = bars computed from the truth by the slow reference,
no tick stored twice; with duplicated/reordered frames and with forced disconnects."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pytest

from mca_resources.stream import StreamConfig
from mca_resources.warehouse import ensure_schema, partition_hash, read_frame
from mca_sandbox.faults import FaultRule
from mca_sandbox.world import LIVE
from mca_sensors.capture import CaptureSummary, capture_to_spool, read_spool
from mca_sensors.load import load_capture
from tests.conftest import RunningSandbox
from tests.unit.core.test_bars import assert_bars_equal, reference_bars, reference_ticks

pytestmark = pytest.mark.timeout(120)


def live_assets(box: RunningSandbox, markets: int) -> list[str]:
    ms = np.flatnonzero(box.world.market_label == LIVE).tolist()[:markets]
    return [token for m in ms for token in box.world.token_ids(m)]


def capture(box: RunningSandbox, assets: list[str], seconds: float, spool: Path) -> CaptureSummary:
    """A capture connected (at once) a second before its window opens, as the sensor launches them."""
    start = datetime.now(UTC) + timedelta(seconds=1)
    config = StreamConfig(url=box.urls["ws"], backoff_initial_s=0.05, backoff_max_s=0.3, ping_interval_s=1.0)
    return asyncio.run(capture_to_spool(config, assets, start, start + timedelta(seconds=seconds), spool))


def truth(box: RunningSandbox, path: str, **params: Any) -> Any:
    response = httpx.get(box.base + path, params=params, timeout=60)
    response.raise_for_status()
    return response.json()


def spool_matches_truth(box: RunningSandbox, spool: Path) -> list[tuple[int, int, str]]:
    """Assert the spool holds, per connection, exactly a prefix of what the sandbox sent; return the truth frames
    of that prefix as ``(conn, recv_us, frame)`` with the send time standing in for the receive time."""
    received: dict[int, list[str]] = defaultdict(list)
    for conn, _recv, frame in read_spool(spool):
        received[conn].append(frame)
    connections = truth(box, "/_truth/ws/connections")
    assert sorted(received) == sorted(c["conn"] for c in connections)
    frames: list[tuple[int, int, str]] = []
    for conn in sorted(received):
        sent = truth(box, "/_truth/ws/messages", conn=conn)
        assert [m["frame"] for m in sent[: len(received[conn])]] == received[conn]
        frames += [(conn, m["sent_ts_ms"] * 1000, m["frame"]) for m in sent[: len(received[conn])]]
    return frames


def load(db: Path, run_id: str, summary: CaptureSummary) -> dict[str, int]:
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        return load_capture(conn, run_id, summary)


def table_hashes(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db)) as conn:
        return {t: partition_hash(conn, t) for t in ("rt.ticks", "rt.bars_1m", "rt.bars_5m", "rt.capture_runs")}


def read(db: Path, sql: str) -> Any:
    with duckdb.connect(str(db)) as conn:
        return read_frame(conn, sql)


def test_duplicated_and_reordered_frames_are_deduped_ordered_and_bars_equal_the_truth(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path
) -> None:
    box = sandbox_factory(rules=[FaultRule(route="ws.market", duplicate_rate=0.05, reorder_rate=0.05)], speed=60)
    assets = live_assets(box, 3)
    spool, db = tmp_path / "run-a.jsonl", tmp_path / "wh.duckdb"
    summary = capture(box, assets, 3.0, spool)
    assert summary.status == "captured"
    truth_frames = spool_matches_truth(box, spool)
    [sent] = truth(box, "/_truth/ws/connections")
    assert sent["duplicates"] >= 5
    assert sent["reordered"] >= 5

    written = load(db, "run-a", summary)
    ticks = read(db, "SELECT * FROM rt.ticks")
    expected_ticks = reference_ticks(truth_frames)
    assert ticks.height == len(expected_ticks) == written["ticks"] > 500
    assert ticks["dedupe_key"].is_unique().all()  # no tick stored twice
    assert written["duplicate_events"] >= sent["duplicates"]  # every replayed frame's events were dropped
    arrival = ticks.sort("seq")
    assert not arrival["ts"].is_sorted()  # the reordered frames arrived out of exchange-time order ...
    for asset, group in ticks.sort("asset_id", "ts", "recv_ts", "seq").group_by("asset_id", maintain_order=True):
        assert group["ts"].is_sorted(), asset  # ... and the bars read them back in exchange-time order
    assert_bars_equal(read(db, "SELECT * FROM rt.bars_1m"), reference_bars(expected_ticks, 60))
    assert_bars_equal(read(db, "SELECT * FROM rt.bars_5m"), reference_bars(expected_ticks, 300))

    [run] = read(db, "SELECT * FROM rt.capture_runs").iter_rows(named=True)
    assert run["messages"] == sum(1 for _ in read_spool(spool))
    assert run["duplicates"] >= 1
    assert run["reconnects"] == 0
    assert (run["gaps"], run["gap_seconds"], run["coverage"]) == (0, 0.0, 1.0)
    assert run["lag_mean_ms"] is not None
    assert sorted(run["asset_ids"]) == sorted(assets)

    before = table_hashes(db)
    assert load(db, "run-a", summary) == {**written}  # loading the same run again ...
    assert table_hashes(db) == before  # ... changes nothing


def test_forced_disconnects_reconnect_record_gaps_and_keep_bars_exact(
    sandbox_factory: Callable[..., RunningSandbox], tmp_path: Path
) -> None:
    box = sandbox_factory(rules=[FaultRule(route="ws.market", disconnect_after=800)], speed=150)
    assets = live_assets(box, 4)
    spool, db = tmp_path / "run-b.jsonl", tmp_path / "wh.duckdb"
    summary = capture(box, assets, 4.0, spool)
    truth_frames = spool_matches_truth(box, spool)
    load(db, "run-b", summary)

    [run] = read(db, "SELECT * FROM rt.capture_runs").iter_rows(named=True)
    assert run["reconnects"] >= 2
    gaps = json.loads(run["gaps_json"])
    spans = run["covered"]  # one per connection, in order, none overlapping the next
    assert len(spans) == run["reconnects"] + 1
    assert all(a["end"] < b["start"] for a, b in itertools.pairwise(spans))
    kinds = Counter(g["kind"] for g in gaps)
    assert 1 <= run["gaps"] == len(gaps)
    assert kinds["reconnect"] <= run["reconnects"]  # the holes between connections inside the window
    # a loaded machine may connect after the window opened, and the window may end while reconnecting
    assert set(kinds) <= {"reconnect", "late_start", "early_stop"}
    assert kinds["late_start"] <= 1
    assert kinds["early_stop"] <= 1
    for gap in gaps:
        assert datetime.fromisoformat(gap["start"]) <= datetime.fromisoformat(gap["end"])
    assert run["gap_seconds"] == pytest.approx(sum(g["seconds"] for g in gaps))
    window = (run["window_end"] - run["window_start"]).total_seconds()
    assert run["gap_share"] == pytest.approx(sum(g["seconds"] for g in gaps if g["kind"] == "reconnect") / window)
    assert run["coverage"] == pytest.approx(1 - run["gap_seconds"] / window)
    assert 0 < run["gap_share"] < 1

    expected_ticks = reference_ticks(truth_frames)
    ticks = read(db, "SELECT * FROM rt.ticks")
    assert ticks.height == len(expected_ticks)
    assert ticks["dedupe_key"].is_unique().all()
    assert ticks["conn"].n_unique() == run["reconnects"] + 1
    assert_bars_equal(read(db, "SELECT * FROM rt.bars_1m"), reference_bars(expected_ticks, 60))
    assert_bars_equal(read(db, "SELECT * FROM rt.bars_5m"), reference_bars(expected_ticks, 300))


def test_overlapping_captures_store_each_tick_once_and_a_torn_spool_line_is_skipped(tmp_path: Path) -> None:
    """Two runs that saw the same events (as overlapping windows do on the real venue) store them once; bars are
    rebuilt from all stored ticks; reloading either run leaves the tables as they were."""
    from tests.unit.core.test_bars import synthetic_frames

    frames = synthetic_frames(11, n=1500)
    first, second = frames[: len(frames) * 2 // 3], frames[len(frames) // 3 :]
    db = tmp_path / "wh.duckdb"
    now = datetime.now(UTC)
    summaries = []
    for run_id, part in (("run-1", first), ("run-2", second)):
        spool = tmp_path / f"{run_id}.jsonl"
        spool.write_bytes(
            b"".join(json.dumps({"c": c, "r": r, "f": f}).encode() + b"\n" for c, r, f in part) + b'{"c": 1, "r'
        )
        summaries.append((run_id, CaptureSummary(str(spool), ["a1"], now, now + timedelta(minutes=1))))
    for run_id, summary in summaries:
        load(db, run_id, summary)
    expected = reference_ticks(frames)
    ticks = read(db, "SELECT * FROM rt.ticks")
    assert ticks.height == len(expected)
    assert ticks["dedupe_key"].is_unique().all()
    overlap = read(db, "SELECT overlap_ticks FROM rt.capture_runs WHERE run_id = 'run-2'").item()
    assert overlap > 100
    assert_bars_equal(read(db, "SELECT * FROM rt.bars_1m"), reference_bars(expected, 60))
    before = table_hashes(db)
    load(db, "run-2", summaries[1][1])
    assert table_hashes(db) == before
