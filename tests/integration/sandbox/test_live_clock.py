"""The live clock over loopback: the venue's now moves, markets appear, close and resolve, and every route follows.

Tests run the clock thousands of times faster than the wall clock and poll; none asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mca_sandbox.world import LIVE, RESOLVED_FALSE, RESOLVED_TRUE, World, WorldConfig, build_world
from tests.conftest import TEST_END, TEST_START, RunningSandbox
from tests.wsclient import connect, recv, subscription

HTTP = httpx.Client(timeout=60)
ORIGIN = datetime(2026, 9, 15, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def _close_client():
    yield
    HTTP.close()


def get(box: RunningSandbox, path: str, params: Any = None) -> httpx.Response:
    return HTTP.get(f"{box.base}{path}", params=params)


def poll(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def next_to_resolve(world: World, after: int, fates: tuple[int, ...] = (RESOLVED_TRUE, RESOLVED_FALSE)) -> int:
    """The live market (at ``after``) whose resolution comes first, among those that will end with ``fates``."""
    e = world.market_event
    live = (world.event_created[e] <= after) & (world.event_resolved[e] > after) & np.isin(world.market_fate, fates)
    candidates = np.flatnonzero(live)
    return int(candidates[np.argmin(world.event_resolved[e[candidates]])])


@pytest.fixture(scope="module")
def live_box() -> Any:
    from tests.conftest import start_sandbox

    box = start_sandbox(markets=300, seed=7, clock="live", as_of=ORIGIN, view_refresh_s=0.05, speed=20_000)
    yield box
    box.stop()


def test_the_clock_moves_and_the_truth_reports_the_current_as_of(live_box):
    origin = int(ORIGIN.timestamp())
    first = get(live_box, "/_truth/world").json()
    assert first["clock"] == "live"
    assert first["clock_origin_ts"] == origin
    later = poll(lambda: (w := get(live_box, "/_truth/world").json())["as_of_ts"] > first["as_of_ts"] + 3600 and w,
                 "the venue's clock to move an hour")  # fmt: skip
    assert later["as_of"] == datetime.fromtimestamp(later["as_of_ts"], UTC).isoformat().replace("+00:00", "Z")
    assert sum(later["counts"].values()) == later["markets"]
    assert later["counts"]["LIVE"] <= first["counts"]["LIVE"]  # markets only ever close
    assert later["visible_markets"] >= first["visible_markets"]  # and only ever appear


def test_a_market_closes_and_resolves_on_every_route_as_its_time_passes(live_box):
    w = live_box.world
    m = next_to_resolve(w, int(ORIGIN.timestamp()) + 60)
    market_id, resolved = w.market_id(m), int(w.event_resolved[w.market_event[m]])
    before = get(live_box, f"/gamma/markets/{market_id}").json()
    if not before["closed"]:
        assert before["acceptingOrders"] is True
    closed = poll(lambda: (g := get(live_box, f"/gamma/markets/{market_id}").json())["closed"] and g,
                  "the market to close")  # fmt: skip
    assert closed["closedTime"] == datetime.fromtimestamp(resolved, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    won = int(w.market_outcome[m])
    assert json.loads(closed["outcomePrices"]) == (["1", "0"] if won else ["0", "1"])
    assert closed["umaResolutionStatus"] == "resolved"
    clob = get(live_box, f"/clob/markets/{w.condition_id(m)}").json()
    assert clob["closed"] is True
    assert [t["winner"] for t in clob["tokens"]] == [bool(won), not won]
    assert get(live_box, "/clob/book", {"token_id": w.token_ids(m)[0]}).status_code == 404
    truth = get(live_box, f"/_truth/markets/{market_id}").json()
    assert truth["label"] == ("RESOLVED_TRUE" if won else "RESOLVED_FALSE")
    assert truth["outcome"] == won
    history = get(live_box, "/clob/prices-history", {"market": w.token_ids(m)[0], "interval": "max",
                                                      "fidelity": 720}).json()["history"]  # fmt: skip
    assert history
    assert history[-1]["t"] <= resolved + 60


def test_markets_appear_once_their_creation_time_passes(live_box):
    w = live_box.world
    origin = int(ORIGIN.timestamp())
    e = w.market_event
    later = np.flatnonzero(w.event_created[e] > origin + 600)
    m = int(later[np.argmin(w.event_created[e[later]])])
    if get(live_box, "/_truth/world").json()["as_of_ts"] < int(w.event_created[e[m]]):
        assert get(live_box, f"/gamma/markets/{w.market_id(m)}").status_code == 404
    poll(lambda: get(live_box, f"/gamma/markets/{w.market_id(m)}").status_code == 200, "the market to appear")
    assert get(live_box, f"/clob/markets/{w.condition_id(m)}").status_code == 200


def test_prices_history_and_the_subgraph_head_follow_the_clock(live_box):
    w = live_box.world
    m = int(np.flatnonzero(w.market_label == LIVE)[0])
    token = w.token_ids(m)[0]
    first = get(live_box, "/clob/prices-history", {"market": token, "interval": "1d", "fidelity": 60}).json()
    head = HTTP.post(f"{live_box.base}/subgraphs/oi-subgraph/0.0.6/gn",
                     json={"query": "{ _meta { block { number timestamp } } }"}).json()  # fmt: skip
    start_block = head["data"]["_meta"]["block"]["number"]

    def moved() -> bool:
        body = HTTP.post(f"{live_box.base}/subgraphs/oi-subgraph/0.0.6/gn",
                         json={"query": "{ _meta { block { number } } }"}).json()  # fmt: skip
        return body["data"]["_meta"]["block"]["number"] > start_block + 3600

    poll(moved, "the subgraph head to move")
    later = get(live_box, "/clob/prices-history", {"market": token, "interval": "1d", "fidelity": 60}).json()
    if first["history"] and later["history"]:
        assert later["history"][-1]["t"] >= first["history"][-1]["t"]


def test_the_websocket_follows_the_world_and_announces_the_resolution(sandbox_factory, fixtures_dir: Path):
    """Start 20 venue minutes before a market resolves, at 600x: the books track the world's price, then a
    market_resolved event names the winner and the market's stream stops."""
    world = build_world(WorldConfig(seed=7, markets=300, start=TEST_START, end=TEST_END))
    m = next_to_resolve(world, int(datetime(2026, 9, 1, tzinfo=UTC).timestamp()))
    resolved = int(world.event_resolved[world.market_event[m]])
    origin = datetime.fromtimestamp(resolved - 1200, UTC)
    box = sandbox_factory(markets=300, seed=7, clock="live", as_of=origin, speed=600.0)
    yes, no = world.token_ids(m)
    real = json.loads((fixtures_dir / "ws_market_market_resolved.json").read_text())

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with await connect(box.urls["ws"]) as ws:
            await ws.send(subscription([yes, no]))
            dump = json.loads(await recv(ws))
            assert [b["asset_id"] for b in dump] == [yes, no]
            quotes: list[dict[str, Any]] = []
            while True:
                frame = json.loads(await recv(ws, 60))
                if frame["event_type"] == "best_bid_ask" and frame["asset_id"] == yes:
                    quotes.append(frame)
                if frame["event_type"] == "market_resolved":
                    return quotes, frame

    quotes, resolution = asyncio.run(run())
    assert list(resolution) == list(real)
    won = int(world.market_outcome[m])
    assert resolution["winning_asset_id"] == (yes if won else no)
    assert resolution["winning_outcome"] == ("Yes" if won else "No")
    assert resolution["assets_ids"] == [yes, no]
    assert resolution["id"] == world.market_id(m)
    assert resolved * 1000 <= int(resolution["timestamp"]) < (resolved + 600) * 1000  # the venue's clock
    assert len(quotes) > 20
    step = 0.001 if world.market_tick[m] < 0.005 else 0.01
    tolerance = world.spread(m) + 4 * step + 0.005
    checked = 0
    for quote in quotes[len(quotes) // 4 :]:  # once the book has settled on the world
        ts = int(quote["timestamp"]) // 1000
        recent = np.arange(ts - 1200, ts + 60, 60) // 60 * 60
        prices = world.market_prices(np.full(recent.size, m), np.minimum(recent, resolved - 60))
        mid = (float(quote["best_bid"]) + float(quote["best_ask"])) / 2
        assert prices.min() - tolerance <= mid <= prices.max() + tolerance, (mid, prices.min(), prices.max())
        checked += 1
    assert checked > 10
