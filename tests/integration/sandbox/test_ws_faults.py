"""Fault injection on the market WebSocket: what the client sees equals what the venue says it did."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus

from mca_sandbox.faults import FaultRule
from mca_sandbox.world import LIVE, World
from tests.wsclient import connect, connection_truth, get_json, read_until_closed, recv, subscription

CONTROL = {"PONG", "NO NEW ASSETS"}


def assets_of(world: World, n_markets: int) -> list[str]:
    markets = np.flatnonzero(world.market_label == LIVE)[:n_markets].tolist()
    return [t for m in markets for t in world.token_ids(m)]


async def logged_frames(base: str, conn: int) -> list[str]:
    return [r["frame"] for r in await get_json(f"{base}/_truth/ws/messages", conn=conn)]


def within_binomial(hits: int, trials: int, rate: float, sigmas: float = 4.0) -> bool:
    expected = trials * rate
    return abs(hits - expected) <= sigmas * math.sqrt(trials * rate * (1 - rate)) + 2


@pytest.mark.parametrize("limit", [1, 37])
async def test_disconnect_after_n_drops_the_connection_after_exactly_n_frames(sandbox_factory, limit: int) -> None:
    box = sandbox_factory(speed=40.0, rules=[FaultRule(route="ws.market", disconnect_after=limit)])
    seen = []
    for _ in range(2):  # the limit applies to each connection
        async with await connect(box.urls["ws"]) as ws:
            await ws.send(subscription(assets_of(box.world, 3)))
            frames, closed = await read_until_closed(ws)
            truth = await connection_truth(box.base, ws)
        assert len(frames) == limit
        assert frames[0].startswith("[")  # the dump is the first of them
        assert closed.rcvd is None  # dropped: no close frame
        assert truth["disconnect_forced_at_seq"] == limit == truth["messages_sent"]
        assert truth["close_reason"] == "forced_disconnect"
        assert await logged_frames(box.base, truth["conn"]) == frames
        seen.append(truth["conn"])
    fired = (await get_json(f"{box.base}/_faults"))["fired"]
    assert fired["ws.market:disconnect"] == 2


async def test_duplicates_and_reorders_fire_near_their_rates_and_match_the_counters(sandbox_factory) -> None:
    dup_rate, reorder_rate = 0.04, 0.06
    box = sandbox_factory(
        speed=100.0, rules=[FaultRule(route="ws.market", duplicate_rate=dup_rate, reorder_rate=reorder_rate)]
    )
    assets = assets_of(box.world, 5)
    received: list[str] = []
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(assets))
        while len(received) < 5000:
            received.append(await recv(ws))
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": assets}))
        await ws.send("PING")
        while received[-1] != "PONG":
            received.append(await recv(ws))
        truth = await connection_truth(box.base, ws)
    fired = (await get_json(f"{box.base}/_faults"))["fired"]
    data = [f for f in received if f not in CONTROL]
    observed_dups = sum(1 for a, b in itertools.pairwise(data) if a == b)
    # what the client saw == what the venue logged == what it counted
    assert await logged_frames(box.base, truth["conn"]) == received
    assert observed_dups == truth["duplicates"] == fired["ws.market:duplicate"]
    assert truth["reordered"] == fired["ws.market:reorder"]
    assert truth["data_messages_sent"] == len(data)
    unique = len(data) - observed_dups  # each unique data frame drew once for a duplicate
    assert within_binomial(observed_dups, unique, dup_rate)
    draws = unique - truth["reordered"]  # a frame sent ahead of a held one does not draw
    assert within_binomial(truth["reordered"], draws, reorder_rate)


async def test_a_reordered_frame_arrives_after_the_one_generated_next(sandbox_factory) -> None:
    """With every other frame held back, price_change hashes arrive pairwise swapped against generation order."""
    box = sandbox_factory(speed=20.0, rules=[FaultRule(route="ws.market", reorder_rate=1.0)])
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(assets_of(box.world, 1)[:1]))
        frames = [await recv(ws) for _ in range(40)]
        truth = await connection_truth(box.base, ws)
    # the dump is held and overtaken by the first event: the client sees an event before its book
    assert not frames[0].startswith("[")
    assert frames[1].startswith("[")
    assert truth["reordered"] >= 19


async def test_a_fault_plan_posted_at_run_time_applies_to_an_open_connection(sandbox_factory) -> None:
    box = sandbox_factory(speed=40.0)
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(assets_of(box.world, 2)))
        for _ in range(30):
            await recv(ws)
        plan = {"rules": [{"route": "ws.market", "disconnect_after": 1}]}
        async with httpx.AsyncClient() as client:
            assert (await client.post(f"{box.base}/_faults", json=plan)).status_code == 200
        rest, closed = await read_until_closed(ws)
        truth = await connection_truth(box.base, ws)
    assert closed.rcvd is None
    assert truth["disconnect_forced_at_seq"] == truth["messages_sent"] == 30 + len(rest)
    assert (await get_json(f"{box.base}/_faults"))["fired"] == {"ws.market:disconnect": 1}


async def test_latency_delays_every_event_behind_its_timestamp(sandbox_factory) -> None:
    box = sandbox_factory(speed=20.0, rules=[FaultRule(route="ws.market", latency_ms=300)])
    lags = []
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(assets_of(box.world, 2)))
        await recv(ws)
        for _ in range(60):
            frame = json.loads(await recv(ws))
            lags.append(time.time() * 1000 - int(frame["timestamp"]))
    assert statistics.median(lags) >= 250


async def test_an_injected_status_fault_refuses_the_upgrade(sandbox_factory) -> None:
    box = sandbox_factory(rules=[FaultRule(route="ws.market", status={503: 1.0})])
    with pytest.raises(InvalidStatus) as refused:
        await connect(box.urls["ws"])
    assert refused.value.response.status_code == 503
