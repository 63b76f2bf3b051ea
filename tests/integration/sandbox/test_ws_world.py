"""The market WebSocket shows the world's episodes: a pump's displaced price in the book, a wash burst in trades."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from mca_sandbox.episodes import PUMP, WASH
from mca_sandbox.world import World, WorldConfig, build_world
from tests.conftest import TEST_END, TEST_START
from tests.wsclient import connect, recv, subscription

SEED = 41
RATES = {"manipulation_rate": 4.0, "shock_rate": 0.0}


def world_with(**kw: Any) -> World:
    return build_world(WorldConfig(seed=SEED, markets=600, start=TEST_START, end=TEST_END, **RATES, **kw))


def alone(world: World, i: int) -> bool:
    """Episode i is the only one of its market."""
    return len(world.episodes.of_market(int(world.episodes.market[i]))) == 1


def instant(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def frames_for(url: str, assets: list[str], n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    async with await connect(url) as ws:
        await ws.send(subscription(assets))
        dump = json.loads(await recv(ws))
        frames = [json.loads(await recv(ws)) for _ in range(n)]
    return dump, frames


async def test_the_book_stands_where_a_pump_pushed_the_price(sandbox_factory) -> None:
    probe = world_with()
    ep = probe.episodes
    i = next(
        i
        for i in np.flatnonzero(ep.kind == PUMP).tolist()
        if alone(probe, i) and abs(ep.magnitude[i]) >= 0.08 and ep.end[i] < probe.config.as_of_ts
    )
    m = int(ep.market[i])
    peak = int(ep.start[i] + 0.45 * (ep.end[i] - ep.start[i])) // 60 * 60
    box = sandbox_factory(markets=600, seed=SEED, as_of=instant(peak), **RATES)
    w = box.world
    price = w.last_price(m)
    base = float(w.base_prices(np.array([m]), np.array([peak]))[0])
    assert abs(price - base - ep.magnitude[i]) <= w.market_tick[m] + 1e-9  # the venue shows the pushed price
    market = httpx.get(f"{box.base}/gamma/markets/{w.market_id(m)}").json()
    assert float(json.loads(market["outcomePrices"])[0]) == price
    dump, _ = await frames_for(box.urls["ws"], [w.token_ids(m)[0]], 1)
    yes = dump[0]
    mid = (float(yes["bids"][-1]["price"]) + float(yes["asks"][-1]["price"])) / 2
    assert abs(mid - price) <= w.spread(m) + 0.011
    assert abs(mid - base) > abs(ep.magnitude[i]) / 2  # far from where the belief alone would put it


async def test_a_wash_burst_shows_as_a_burst_of_trades(sandbox_factory) -> None:
    probe = world_with()
    ep = probe.episodes
    washes = [i for i in np.flatnonzero(ep.kind == WASH).tolist() if alone(probe, i) and ep.multiple[i] >= 8]
    i = next(i for i in washes if ep.end[i] < probe.config.as_of_ts)
    m = int(ep.market[i])
    middle = int(ep.start[i] + ep.end[i]) // 2
    e = probe.market_event
    calm = [
        c
        for c in range(probe.n_markets)
        if probe.event_created[e[c]] < middle < probe.event_resolved[e[c]] - 3600 and not len(ep.of_market(c))
    ]
    assert calm
    quiet = calm[0]
    box = sandbox_factory(markets=600, seed=SEED, as_of=instant(middle), speed=40.0, **RATES)
    hot, cold = box.world.token_ids(m)[0], box.world.token_ids(quiet)[0]
    _, frames = await frames_for(box.urls["ws"], [hot, cold], 3000)
    kinds: dict[str, Counter[str]] = {hot: Counter(), cold: Counter()}
    for frame in frames:
        if frame["event_type"] == "price_change":
            for entry in frame["price_changes"]:
                kinds[entry["asset_id"]]["change"] += 1
        else:
            kinds[frame["asset_id"]][frame["event_type"]] += 1
    share = {a: k["last_trade_price"] / sum(k.values()) for a, k in kinds.items()}
    assert share[hot] > 0.35
    assert share[cold] < 0.25
    assert sum(kinds[hot].values()) > 2 * sum(kinds[cold].values())  # the busy market also gets more events
