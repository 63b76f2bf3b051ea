"""The sandbox's market WebSocket over a real loopback socket, with the ``websockets`` client a platform would use."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from mca_sandbox import ws as ws_module
from mca_sandbox.world import LIVE, World
from tests.wsclient import connect, connection_truth, get_json, http_get, read_until_closed, recv, subscription

EVENT_TYPES = {"price_change", "last_trade_price", "best_bid_ask", "tick_size_change"}
NUMERIC = re.compile(r"\d+(\.\d+)?")


def live_markets(world: World, n: int) -> list[int]:
    markets = np.flatnonzero(world.market_label == LIVE)[:n].tolist()
    assert len(markets) == n, "the test world has too few live markets"
    return markets


def resolved_market(world: World) -> int:
    return int(np.flatnonzero(world.market_label != LIVE)[0])


def tokens(world: World, markets: list[int]) -> list[str]:
    return [t for m in markets for t in world.token_ids(m)]


async def fence(ws: websockets.ClientConnection, received: list[str]) -> None:
    """PING and read (into ``received``) up to the PONG: everything the server sent before it has then arrived."""
    await ws.send("PING")
    while True:
        frame = await recv(ws)
        received.append(frame)
        if frame == "PONG":
            return


def carried(frame: Any) -> set[str]:
    """Asset ids a parsed frame carries."""
    if isinstance(frame, list):
        return {b["asset_id"] for b in frame}
    if frame.get("event_type") == "price_change":
        return {e["asset_id"] for e in frame["price_changes"]}
    return {frame["asset_id"]}


@pytest.fixture(scope="module")
def fast_sandbox():
    """A fault-free sandbox streaming 40x faster than real time (200 events/s per market)."""
    from conftest import start_sandbox

    box = start_sandbox(speed=40.0)
    yield box
    box.stop()


# --- keepalive and subscription -----------------------------------------------------------------------------------
async def test_text_ping_is_answered_with_text_pong_before_and_after_subscribing(sandbox) -> None:
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send("PING")
        assert await recv(ws) == "PONG"
        await ws.send(subscription(tokens(sandbox.world, live_markets(sandbox.world, 1))))
        assert (await recv(ws)).startswith("[")
        received: list[str] = []
        await fence(ws, received)
        assert received[-1] == "PONG"
        await ws.ping()  # protocol-level ping: answered by the server (autoping)


async def test_subscribe_sends_one_array_of_book_events_for_exactly_the_live_subscribed_assets(sandbox) -> None:
    world = sandbox.world
    markets = live_markets(world, 3)
    wanted = tokens(world, markets)
    ignored = ["123456789", *world.token_ids(resolved_market(world))]  # unknown id, resolved market (no book)
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(subscription(wanted + ignored))
        dump = json.loads(await recv(ws))
    assert isinstance(dump, list)
    assert [b["asset_id"] for b in dump] == wanted
    for book, market in zip(dump, [m for m in markets for _ in range(2)], strict=True):
        assert book["event_type"] == "book"
        assert book["market"] == world.condition_id(market)
        assert re.fullmatch(r"\d{13}", book["timestamp"])
        assert abs(int(book["timestamp"]) - time.time() * 1000) < 60_000
        assert re.fullmatch(r"[0-9a-f]{40}", book["hash"])
        assert book["tick_size"] in ("0.01", "0.001")
        assert NUMERIC.fullmatch(book["last_trade_price"])
        levels = book["bids"] + book["asks"]
        assert levels
        assert all(NUMERIC.fullmatch(lv["price"]) and NUMERIC.fullmatch(lv["size"]) for lv in levels)
        bids = [Decimal(lv["price"]) for lv in book["bids"]]
        asks = [Decimal(lv["price"]) for lv in book["asks"]]
        assert bids == sorted(bids)
        assert asks == sorted(asks, reverse=True)
        assert bids[-1] < asks[-1]
    yes_book = dump[0]
    mid = (Decimal(yes_book["bids"][-1]["price"]) + Decimal(yes_book["asks"][-1]["price"])) / 2
    assert abs(float(mid) - world.last_price(markets[0])) <= world.spread(markets[0]) + 0.011  # starts at the world


async def test_stream_frames_are_single_objects_of_the_documented_types_with_string_numbers(fast_sandbox) -> None:
    world = fast_sandbox.world
    assets = tokens(world, live_markets(world, 4))
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(assets))
        await recv(ws)
        frames = [json.loads(await recv(ws)) for _ in range(600)]
    kinds = {f["event_type"] for f in frames}
    assert {"price_change", "last_trade_price", "best_bid_ask"} <= kinds <= EVENT_TYPES
    for frame in frames:
        assert isinstance(frame, dict)
        assert carried(frame) <= set(assets)
        assert re.fullmatch(r"\d{13}", frame["timestamp"])
        if frame["event_type"] == "price_change":
            for entry in frame["price_changes"]:
                assert set(entry) == {"asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"}
                assert entry["side"] in ("BUY", "SELL")
                assert all(NUMERIC.fullmatch(entry[k]) for k in ("price", "size", "best_bid", "best_ask"))
        elif frame["event_type"] == "last_trade_price":
            assert all(NUMERIC.fullmatch(frame[k]) for k in ("price", "size", "fee_rate_bps"))
            assert re.fullmatch(r"0x[0-9a-f]{64}", frame["transaction_hash"])
        elif frame["event_type"] == "best_bid_ask":
            assert Decimal(frame["best_ask"]) - Decimal(frame["best_bid"]) == Decimal(frame["spread"])
    both = [f for f in frames if f["event_type"] == "price_change" and len(f["price_changes"]) == 2]
    assert both, "a price_change of a market whose two tokens are subscribed carries both"
    for frame in both:
        yes, no = frame["price_changes"]
        assert Decimal(yes["price"]) + Decimal(no["price"]) == 1


async def test_best_bid_ask_events_come_only_with_custom_features(fast_sandbox) -> None:
    world = fast_sandbox.world
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(tokens(world, live_markets(world, 3)), custom=False))
        await recv(ws)
        kinds = {json.loads(await recv(ws))["event_type"] for _ in range(300)}
    assert "price_change" in kinds
    assert "best_bid_ask" not in kinds


async def test_initial_dump_false_sends_events_without_a_book(fast_sandbox) -> None:
    world = fast_sandbox.world
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(tokens(world, live_markets(world, 1)), initial_dump=False))
        first = json.loads(await recv(ws))
    assert isinstance(first, dict)
    assert first["event_type"] in EVENT_TYPES


async def test_subscribe_operation_adds_an_asset_whose_book_then_arrives(fast_sandbox) -> None:
    world = fast_sandbox.world
    first, second = live_markets(world, 2)
    yes_a, _ = world.token_ids(first)
    yes_b, no_b = world.token_ids(second)
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription([yes_a]))
        assert [b["asset_id"] for b in json.loads(await recv(ws))] == [yes_a]
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [yes_a, no_b]}))
        seen_book = False
        later: set[str] = set()
        for _ in range(400):
            frame = json.loads(await recv(ws))
            if isinstance(frame, list):
                assert [b["asset_id"] for b in frame] == [no_b]  # only the new asset
                assert frame[0]["market"] == world.condition_id(second)
                seen_book = True
            elif seen_book:
                later |= carried(frame)
            else:
                assert no_b not in carried(frame)  # no event of an asset before its book
    assert seen_book
    assert no_b in later
    assert yes_a in later
    assert yes_b not in later


async def test_a_subscribe_adding_nothing_new_is_acked_with_no_new_assets(sandbox) -> None:
    world = sandbox.world
    assets = tokens(world, live_markets(world, 1))
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(subscription(assets))
        await recv(ws)
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [*assets, "999"]}))
        received: list[str] = []
        await fence(ws, received)
    assert "NO NEW ASSETS" in received
    assert all(not f.startswith("[") for f in received)  # no second dump


async def test_no_frame_after_the_unsubscribe_fence_carries_the_unsubscribed_asset(fast_sandbox) -> None:
    """Unsubscribe, then PING: frames before the PONG may still carry the asset (in flight), none after it."""
    world = fast_sandbox.world
    gone_market, kept_market = live_markets(world, 2)
    gone = list(world.token_ids(gone_market))
    kept = list(world.token_ids(kept_market))
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(gone + kept))
        await recv(ws)
        for _ in range(50):
            await recv(ws)
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [*gone, "999"]}))
        await fence(ws, [])
        after = [json.loads(await recv(ws)) for _ in range(300)]
        truth = await connection_truth(fast_sandbox.base, ws)
    seen = set().union(*(carried(f) for f in after))
    assert seen
    assert seen <= set(kept)
    assert truth["assets"] == kept


@pytest.mark.parametrize(
    "first_frame",
    [
        "not json {",
        '["assets_ids"]',
        '{"assets_ids": ["1"], "type": "user"}',
        '{"operation": "subscribe", "assets_ids": ["1"]}',
        '{"type": "market", "assets_ids": "1"}',
    ],
    ids=["malformed", "array", "wrong-type", "operation-first", "ids-not-a-list"],
)
async def test_a_bad_first_frame_gets_an_error_and_a_policy_close_and_the_server_serves_the_next(
    sandbox, first_frame: str
) -> None:
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(first_frame)
        error = await recv(ws)
        assert error.startswith("INVALID OPERATION")
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.close_code == 1008
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(subscription(tokens(sandbox.world, live_markets(sandbox.world, 1))))
        assert isinstance(json.loads(await recv(ws)), list)


async def test_a_malformed_later_frame_closes_with_policy_violation(sandbox) -> None:
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(subscription(tokens(sandbox.world, live_markets(sandbox.world, 1))))
        await recv(ws)
        await ws.send('{"operation": "explode", "assets_ids": []}')
        frames, _ = await read_until_closed(ws)
        assert frames[-1].startswith("INVALID OPERATION")
        assert ws.close_code == 1008


async def test_more_assets_than_the_cap_are_refused_and_the_connection_stays(sandbox, monkeypatch) -> None:
    monkeypatch.setattr(ws_module, "MAX_ASSETS", 3)
    world = sandbox.world
    a, b = live_markets(world, 2)
    async with await connect(sandbox.urls["ws"]) as ws:
        await ws.send(subscription(tokens(world, [a])))
        await recv(ws)
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": tokens(world, [b])}))
        received: list[str] = []
        await fence(ws, received)
        truth = await connection_truth(sandbox.base, ws)
    assert any(f.startswith("INVALID OPERATION: at most 3 assets") for f in received)
    assert truth["assets"] == tokens(world, [a])


async def test_a_plain_http_get_is_refused_with_400(sandbox) -> None:
    response = await http_get(sandbox.urls["ws"].replace("ws://", "http://"))
    assert response.status_code == 400
    assert "WebSocket" in response.json()["error"]


async def test_speed_scales_the_event_rate(sandbox_factory) -> None:
    box = sandbox_factory(speed=50.0)
    assets = tokens(box.world, live_markets(box.world, 2))  # 2 markets x 5/s x 50 = 500 events/s
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(assets, custom=False))
        await recv(ws)
        began = time.monotonic()
        n = 0
        while time.monotonic() - began < 1.0:
            await recv(ws)
            n += 1
    assert 150 < n < 1500


# --- ground truth ---------------------------------------------------------------------------------------------------
async def test_the_truth_log_equals_what_the_client_received_frame_for_frame(fast_sandbox) -> None:
    world = fast_sandbox.world
    assets = tokens(world, live_markets(world, 3))
    received: list[str] = []
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(assets))
        for _ in range(500):
            received.append(await recv(ws))
        await fence(ws, received)
        for _ in range(200):
            received.append(await recv(ws))
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": assets}))
        await fence(ws, received)  # nothing is sent after this PONG: the log must end here too
        truth = await connection_truth(fast_sandbox.base, ws)
    rows = await get_json(f"{fast_sandbox.base}/_truth/ws/messages", conn=truth["conn"])
    assert [r["frame"] for r in rows] == received
    assert [r["seq"] for r in rows] == list(range(1, len(received) + 1))
    assert truth["messages_sent"] == len(received)
    stamps = [r["sent_ts_ms"] for r in rows]
    assert stamps == sorted(stamps)


async def test_truth_by_asset_and_minute_lists_every_frame_carrying_that_asset(fast_sandbox) -> None:
    world = fast_sandbox.world
    market = live_markets(world, 3)[2]
    yes, no = world.token_ids(market)
    received: list[str] = []
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription([yes]))
        for _ in range(100):
            received.append(await recv(ws))
        await ws.send(json.dumps({"operation": "subscribe", "assets_ids": [no]}))
        for _ in range(100):
            received.append(await recv(ws))
        await ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": [yes, no]}))
        await fence(ws, received)
        conn = (await connection_truth(fast_sandbox.base, ws))["conn"]
    mine = [f for f in received if f not in ("PONG", "NO NEW ASSETS")]
    expected = [f for f in mine if no in carried(json.loads(f))]
    rows = await get_json(f"{fast_sandbox.base}/_truth/ws/messages", asset_id=no, conn=conn)
    assert [r["frame"] for r in rows] == expected
    assert any(json.loads(f)[0]["asset_id"] == no for f in expected if f.startswith("["))  # its dump is under it
    minutes = sorted({r["sent_ts_ms"] // 60_000 * 60 for r in rows})
    by_minute = []
    for minute in minutes:
        page = await get_json(f"{fast_sandbox.base}/_truth/ws/messages", asset_id=no, conn=conn, minute=minute + 7)
        assert all(minute * 1000 <= r["sent_ts_ms"] < (minute + 60) * 1000 for r in page)
        by_minute += page
    assert by_minute == rows


async def test_truth_endpoints_reject_bad_parameters_with_400(sandbox) -> None:
    for params in ({"minute": "soon"}, {"conn": "0"}, {"limit": "-1"}):
        response = await http_get(f"{sandbox.base}/_truth/ws/messages", **params)
        assert response.status_code == 400
        assert "must be" in response.json()["error"]
    summary = await get_json(f"{sandbox.base}/_truth/ws")
    assert summary["log"]["max_messages"] == ws_module.MAX_MESSAGES


# --- the book a client rebuilds -------------------------------------------------------------------------------------
async def test_replaying_the_dump_and_price_changes_reproduces_each_best_bid_and_ask(fast_sandbox) -> None:
    world = fast_sandbox.world
    assets = tokens(world, live_markets(world, 6))
    books: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]] = {}
    checked = 0
    async with await connect(fast_sandbox.urls["ws"]) as ws:
        await ws.send(subscription(assets))
        for book in json.loads(await recv(ws)):
            books[book["asset_id"]] = (
                {Decimal(lv["price"]): lv["size"] for lv in book["bids"]},
                {Decimal(lv["price"]): lv["size"] for lv in book["asks"]},
            )
        for _ in range(3000):
            frame = json.loads(await recv(ws))
            if frame["event_type"] != "price_change":
                continue
            for entry in frame["price_changes"]:
                bids, asks = books[entry["asset_id"]]
                side = bids if entry["side"] == "BUY" else asks
                price = Decimal(entry["price"])
                if entry["size"] == "0":
                    assert price in side, "a removed level was in the book"
                    del side[price]
                else:
                    side[price] = entry["size"]
                assert (max(bids), min(asks)) == (Decimal(entry["best_bid"]), Decimal(entry["best_ask"]))
                assert max(bids) < min(asks)
                checked += 1
    assert checked > 1000


# --- lifecycle ------------------------------------------------------------------------------------------------------
async def test_clients_that_vanish_leave_no_errors_and_are_retired(sandbox_factory, caplog) -> None:
    box = sandbox_factory(speed=200.0)
    assets = tokens(box.world, live_markets(box.world, 5))
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        ws = await connect(box.urls["ws"])
        await ws.send(subscription(assets))
        for _ in range(200):
            await recv(ws)
        ws.transport.abort()  # no close handshake: the server finds out while writing
        await asyncio.sleep(0.05)
    async with await connect(box.urls["ws"]) as ws:  # and a polite one
        await ws.send(subscription(assets))
        await recv(ws)
    for _ in range(100):
        rows = await get_json(f"{box.base}/_truth/ws/connections")
        if not any(r["open"] for r in rows):
            break
        await asyncio.sleep(0.05)
    assert len(rows) == 4
    assert not any(r["open"] for r in rows)
    assert all(r["close_reason"] in ("client_gone", "client_closed") for r in rows)
    box.stop()
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [r.getMessage() for r in problems]


async def test_stopping_the_server_closes_open_streams_with_going_away(sandbox_factory, caplog) -> None:
    box = sandbox_factory(speed=100.0)
    caplog.set_level(logging.WARNING)
    async with await connect(box.urls["ws"]) as ws:
        await ws.send(subscription(tokens(box.world, live_markets(box.world, 2))))
        await recv(ws)
        await asyncio.get_running_loop().run_in_executor(None, box.stop)
        _, closed = await read_until_closed(ws)
        assert closed.rcvd is not None
        assert closed.rcvd.code == ws.close_code == 1001
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [r.getMessage() for r in problems]
