"""MarketStream against the sandbox venue's market WebSocket over a real loopback socket: subscription and
keepalive, forced disconnects, injected duplicates, run-time (un)subscription, garbage frames, backpressure, and
giving up on a venue that is gone."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from mca_core.records import WsBook, WsEvent, WsMarketResolved, WsNewMarket, WsPriceChange
from mca_core.wsparse import dedupe_key, parse_ws_frame
from mca_resources.errors import StreamError
from mca_resources.stream import MarketStream, StreamConfig, state_slot
from mca_sandbox.faults import FaultRule
from mca_sandbox.world import LIVE
from tests.conftest import RunningSandbox

pytestmark = pytest.mark.timeout(120)


def live_markets(box: RunningSandbox, n: int) -> list[tuple[str, str]]:
    """(YES token, NO token) of the first ``n`` live markets of the sandbox world."""
    world = box.world
    ms = np.flatnonzero(world.market_label == LIVE).tolist()
    assert len(ms) >= n, f"world has {len(ms)} live markets, test needs {n}"
    return [world.token_ids(m) for m in ms[:n]]


def asset_of(event: WsEvent) -> str:
    assert not isinstance(event, WsMarketResolved | WsNewMarket)
    return event.asset_id


def config(box: RunningSandbox, **kw: Any) -> StreamConfig:
    defaults: dict[str, Any] = {"backoff_initial_s": 0.05, "backoff_max_s": 0.5, "connect_timeout_s": 5.0}
    return StreamConfig(url=box.urls["ws"], **{**defaults, **kw})


async def get_json(url: str, **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url, params=params)
        response.raise_for_status()
        return response.json()


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` (sync or async) until it holds; fail with ``what`` after ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                result = predicate()
                if await result if inspect.isawaitable(result) else result:
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


async def drain(stream: MarketStream, into: list[WsEvent]) -> None:
    async for event in stream:
        into.append(event)


async def collect(stream: MarketStream, seconds: float) -> list[WsEvent]:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    return [event async for event in stream.iter_until(deadline)]


def stream_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("mca.stream")]


# ------------------------------------------------------------------------------------------------- subscribe


async def test_two_assets_yield_their_books_first_then_events_and_pings_go_out_on_schedule(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    box = sandbox_factory(speed=5)
    (a, _), (b, _) = live_markets(box, 2)
    stream = MarketStream(config(box, ping_interval_s=0.2), [a, b])
    async with stream:
        started = time.monotonic()
        events = await collect(stream, 2.0)
        elapsed = time.monotonic() - started
    assert stream_tasks() == []  # closing left no task behind

    # the initial dump (one array frame) comes first: one book per asset, then the event stream
    assert [type(e) for e in events[:2]] == [WsBook, WsBook]
    assert {asset_of(e) for e in events[:2]} == {a, b}
    rest = events[2:]
    assert len(rest) >= 10
    assert any(isinstance(e, WsPriceChange) for e in rest)
    assert {asset_of(e) for e in rest} <= {a, b}
    assert all(e.recv_ts.tzinfo is not None for e in events)
    assert all(x.recv_ts <= y.recv_ts for x, y in itertools.pairwise(events))

    c = stream.counters
    # PING every 0.2 s while the stream ran; every answered PONG is a control frame, not an event or a rejection
    expected_pings = elapsed / 0.2
    assert expected_pings - 2 <= c.pings_sent <= expected_pings + 1
    assert c.pings_sent - 1 <= c.pongs <= c.pings_sent
    assert c.control_frames == c.pongs
    assert c.rejections == 0
    assert c.delivered == len(events) + stream.pending  # what came after the deadline is still queued
    assert c.events == c.delivered  # nothing duplicated or filtered on a clean venue
    assert (c.connects, c.reconnects, c.gaps) == (1, 0, [])
    assert c.lag_count >= len(rest)
    assert c.max_lag_ms is not None
    assert c.max_lag_ms < 5_000

    connections = await get_json(box.base + "/_truth/ws/connections")
    assert len(connections) == 1
    assert set(connections[0]["assets"]) == {a, b}
    assert connections[0]["custom_feature_enabled"] is True
    pongs = [m for m in await get_json(box.base + "/_truth/ws/messages", conn=1) if m["frame"] == "PONG"]
    assert len(pongs) >= c.pongs


# ---------------------------------------------------------------------------------------------- disconnects


async def test_forced_disconnects_reconnect_resubscribe_and_record_one_closed_gap_each(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    box = sandbox_factory(rules=[FaultRule(route="ws.market", disconnect_after=200)], speed=20)
    markets = live_markets(box, 2)
    assets = {t for pair in markets for t in pair}  # YES and NO of two markets
    stream = MarketStream(config(box, ping_interval_s=1.0), sorted(assets))
    events: list[WsEvent] = []
    async with stream:
        async with asyncio.timeout(60):
            while True:
                event = await stream.get()
                assert event is not None
                events.append(event)
                c = stream.counters
                if c.reconnects >= 3 and c.gaps[-1].end is not None and len(events) > 50:
                    books_since = [e for e in events if e.recv_ts >= c.gaps[-1].end]
                    if sum(not isinstance(e, WsBook) for e in books_since) >= 20:
                        break
    c = stream.counters
    assert c.reconnects >= 3
    assert c.disconnects >= 3
    assert c.connects == c.reconnects + 1
    # each lost connection opened one gap, closed by the first frame of the next connection
    closed = [g for g in c.gaps if g.end is not None]
    assert len(closed) == c.reconnects
    for gap in closed:
        assert gap.start < gap.end  # type: ignore[operator]
        assert gap.last_frame is not None
        assert gap.last_frame <= gap.start
        assert gap.seconds is not None
        assert 0 < gap.seconds < 5
    # resubscribed: every connection carried a fresh book for every asset, and events for the same assets
    books = [e for e in events if isinstance(e, WsBook)]
    assert len(books) == len(assets) * c.connects
    after_last = [e for e in events if e.recv_ts >= closed[-1].end]  # type: ignore[operator]
    assert {asset_of(e) for e in after_last} == assets
    connections = await get_json(box.base + "/_truth/ws/connections")
    assert len(connections) == c.connects
    assert all(set(conn["assets"]) == assets for conn in connections if conn["open"])
    forced = [conn for conn in connections if conn["close_reason"] == "forced_disconnect"]
    assert len(forced) == c.disconnects
    assert all(conn["messages_sent"] == 200 for conn in forced)
    faults = await get_json(box.base + "/_faults")
    assert faults["fired"]["ws.market:disconnect"] == c.disconnects
    assert c.rejections == 0
    assert stream_tasks() == []


# ----------------------------------------------------------------------------------------------- duplicates


async def test_injected_duplicate_frames_are_dropped_and_counted_exactly_as_the_venue_fired_them(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    """Exactness: to compare without a race, the test quiesces the connection first. It unsubscribes every asset
    (the venue then generates nothing; PINGs are rare here), waits until the venue's truth shows the empty set,
    then until the client has received every frame the venue sent on the connection (``counters.frames ==
    messages_sent``). Nothing is in flight after that, so these hold exactly:

    - the client's duplicate-frame count == the venue's fired ``ws.market:duplicate`` == the connection's count;
    - the events yielded are, in order, the events of the frames the venue sent (its truth log) with every
      injected replay (a frame identical to the one just before it) removed, minus the tail the client filtered
      after the unsubscribe;
    - two yielded events share a ``dedupe_key`` only when the venue really sent the same content twice in one
      millisecond with a different value of that state in between (a quote flicking back), never as a replay.
    """
    box = sandbox_factory(rules=[FaultRule(route="ws.market", duplicate_rate=0.2)], speed=10)
    assets = [yes for yes, _ in live_markets(box, 3)]
    stream = MarketStream(config(box, ping_interval_s=5.0), assets)
    async with stream:
        events = await collect(stream, 2.0)
        await stream.unsubscribe(assets)

        async def venue_connection() -> dict[str, Any]:
            [conn] = await get_json(box.base + "/_truth/ws/connections")
            return conn  # type: ignore[no-any-return]

        async def venue_unsubscribed() -> bool:
            return not (await venue_connection())["assets"]

        async def all_frames_arrived() -> bool:
            return stream.counters.frames == (await venue_connection())["messages_sent"]

        await wait_for(venue_unsubscribed, 20, "the venue to apply the unsubscribe")
        await wait_for(all_frames_arrived, 20, "every frame sent to arrive")
        while stream.pending:
            event = await stream.get()
            assert event is not None
            events.append(event)
        conn = await venue_connection()
        faults = await get_json(box.base + "/_faults")
        sent = [m["frame"] for m in await get_json(box.base + "/_truth/ws/messages", conn=conn["conn"])]
    c = stream.counters
    fired = faults["fired"]["ws.market:duplicate"]
    assert fired >= 10  # a real number of them (about 20 % of ~90 data frames)
    assert c.duplicates == fired == conn["duplicates"]
    assert c.duplicate_events >= c.duplicates  # a replayed dump of three books drops three events
    assert c.frames == conn["messages_sent"] == len(sent)
    assert c.reconnects == 0

    # what the venue meant to send: its frames with each replay (an identical frame right after) removed
    originals = [f for i, f in enumerate(sent) if i == 0 or f != sent[i - 1]]
    assert len(sent) - len(originals) == fired
    recv = datetime.now(UTC)
    expected = [dedupe_key(e) for f in originals for e in parse_ws_frame(f, recv).events]
    assert len(expected) == c.delivered + c.filtered
    assert [dedupe_key(e) for e in events] == expected[: c.delivered]

    # shared keys: each repeat is a return to an earlier value of the same state, never a replay
    last_by_slot: dict[tuple[Any, ...], str] = {}
    seen: set[str] = set()
    for event in events:
        key, slot = dedupe_key(event), state_slot(event)
        if key in seen:
            assert slot is not None
            assert last_by_slot[slot] != key
        seen.add(key)
        if slot is not None:
            last_by_slot[slot] = key


# ------------------------------------------------------------------------------------------ run-time changes


async def test_unsubscribe_stops_an_asset_after_the_queued_events_and_subscribe_brings_a_new_book(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    """Definition under test: once ``unsubscribe([A])`` returns, A can appear only among the events that were
    already queued at that moment (``stream.pending``); every later event is A-free. The venue itself stops
    sending A once it has answered a frame sent after the unsubscribe (a PONG): from then on ``filtered`` (A events
    the client dropped) no longer grows."""
    box = sandbox_factory(speed=10)
    (a, _), (k, _), (b, _) = live_markets(box, 3)
    stream = MarketStream(config(box, ping_interval_s=0.1), [a, k])
    async with stream:
        before = await collect(stream, 1.0)
        assert {asset_of(e) for e in before} == {a, k}
        assert await stream.unsubscribe([a]) == [a]
        queued = stream.pending  # read right after the call returned, before the next await
        assert await stream.subscribe([b]) == [b]
        pongs = stream.counters.pongs
        after = await collect(stream, 1.5)
        await wait_for(lambda: stream.counters.pongs >= pongs + 2, 5.0, "two PONGs after the unsubscribe")
        filtered_once_acknowledged = stream.counters.filtered
        after += await collect(stream, 1.0)
        connections = await get_json(box.base + "/_truth/ws/connections")
    assert all(asset_of(e) != a for e in after[queued:])
    assert {asset_of(e) for e in after} - {a} == {k, b}
    first_b = next(i for i, e in enumerate(after) if asset_of(e) == b)
    assert isinstance(after[first_b], WsBook)  # B starts with its book
    assert sum(isinstance(e, WsBook) and asset_of(e) == b for e in after) == 1
    assert stream.counters.filtered == filtered_once_acknowledged  # the venue stopped sending A
    assert set(connections[0]["assets"]) == {k, b}
    assert stream.assets == (k, b)
    assert stream.counters.rejections == 0


# ---------------------------------------------------------------------------------------------- bad frames


async def test_a_garbage_frame_from_the_venue_is_a_rejection_and_the_stream_goes_on(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    """The venue answers a subscription beyond 500 assets with a plain-text error (neither JSON nor a control
    word) and keeps the connection: the client counts it as a rejection and events keep coming."""
    box = sandbox_factory(markets=4000, speed=5)
    tokens = [t for pair in live_markets(box, 260) for t in pair]
    a, others = tokens[0], tokens[1:]
    stream = MarketStream(config(box, ping_interval_s=1.0), [a])
    async with stream:
        first = await stream.get(timeout_s=10)
        assert isinstance(first, WsBook)
        await stream.subscribe(others[:501])
        await wait_for(lambda: stream.counters.rejections >= 1, 10.0, "the venue's error text")
        rejected_at = stream.counters.frames
        later = await collect(stream, 1.5)
    c = stream.counters
    assert c.rejections == 1
    assert c.rejection_reasons == {"frame is neither JSON nor a control message": 1}
    assert "INVALID OPERATION" in c.recent_rejections[0].raw_excerpt
    assert c.frames > rejected_at + 3  # frames kept arriving on the same connection
    assert sum(1 for e in later if asset_of(e) == a and not isinstance(e, WsBook)) >= 3
    assert (c.connects, c.reconnects) == (1, 0)


# -------------------------------------------------------------------------------------------- backpressure


async def test_block_policy_holds_the_reader_without_losing_events_or_the_connection(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    box = sandbox_factory(speed=20)
    assets = [yes for yes, _ in live_markets(box, 2)]
    stream = MarketStream(config(box, ping_interval_s=0.5, queue_size=10, overflow="block"), assets)
    async with stream:
        await asyncio.sleep(1.5)  # nobody consumes
        assert stream.pending == 10
        parsed_while_blocked = stream.counters.events
        await asyncio.sleep(0.5)
        assert stream.counters.events <= parsed_while_blocked + 5  # the reader is waiting, not reading
        events = await collect(stream, 1.0)  # consuming again releases it
    c = stream.counters
    assert c.dropped == 0
    assert len(events) > 10
    assert c.delivered == len(events) + stream.pending
    assert (c.connects, c.reconnects) == (1, 0)


async def test_drop_oldest_policy_keeps_the_newest_events_and_counts_the_dropped(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    box = sandbox_factory(speed=20)
    assets = [yes for yes, _ in live_markets(box, 2)]
    stream = MarketStream(config(box, queue_size=10, overflow="drop_oldest"), assets)
    async with stream:
        await asyncio.sleep(1.5)
        c = stream.counters
        assert stream.pending == 10
        assert c.dropped > 20
        assert c.dropped == c.delivered - 10
        kept = [await stream.get() for _ in range(10)]
    assert all(e is not None for e in kept)
    assert all(not isinstance(e, WsBook) for e in kept)  # the books were the oldest: evicted


# ----------------------------------------------------------------------------------------------- giving up


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_venue_raises_stream_error_after_max_reconnects_in_bounded_time() -> None:
    cfg = StreamConfig(
        url=f"ws://127.0.0.1:{_closed_port()}/ws/market",
        max_reconnects=2,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        connect_timeout_s=1.0,
    )
    stream = MarketStream(cfg, ["123"])
    started = time.monotonic()
    async with stream:
        with pytest.raises(StreamError, match="2 reconnect attempt") as info:
            await asyncio.wait_for(drain(stream, []), 10)
    assert time.monotonic() - started < 5
    assert isinstance(info.value.__cause__, OSError)
    c = stream.counters
    assert (c.connect_failures, c.connects, c.gaps) == (3, 0, [])
    assert stream.error is info.value
    assert stream_tasks() == []


async def test_a_venue_that_goes_away_mid_stream_ends_in_stream_error_after_the_queued_events(
    sandbox_factory: Callable[..., RunningSandbox],
) -> None:
    box = sandbox_factory(speed=5)
    assets = [yes for yes, _ in live_markets(box, 2)]
    stream = MarketStream(config(box, max_reconnects=1, ping_interval_s=0.5), assets)
    async with stream:
        await stream.wait_connected(timeout_s=5)
        await wait_for(lambda: stream.pending >= 5, 5.0, "some events queued")
        await asyncio.to_thread(box.stop)
        received: list[WsEvent] = []
        with pytest.raises(StreamError, match="1 reconnect attempt"):
            await asyncio.wait_for(drain(stream, received), 10)
    c = stream.counters
    assert len(received) == c.delivered  # everything queued was yielded before the error
    assert c.disconnects == 1
    assert c.connect_failures == 1  # the one reconnect attempt allowed after the loss
    assert len(c.gaps) == 1
    assert c.gaps[0].end is None  # the gap never closed
