"""How MarketStream treats each frame, without a socket: typed and stamped events, control words, rejections,
duplicates (per event and per replayed frame), the subscription filter, lag, and the raw hook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mca_core.records import WsBook, WsLastTradePrice, WsPriceChange
from mca_resources.errors import StreamError
from mca_resources.stream import LAG_BUCKETS_MS, MarketStream, StreamConfig

A = "1111111111111111111111111111111111111111111111111111111111111111111111111"
B = "2222222222222222222222222222222222222222222222222222222222222222222222222"
C = "3333333333333333333333333333333333333333333333333333333333333333333333333"
MARKET = "0x" + "ab" * 32
TS_MS = 1_790_658_674_035
RECV = datetime.fromtimestamp(TS_MS / 1000, UTC) + timedelta(milliseconds=120)


def _stream(*assets: str, **config: Any) -> MarketStream:
    return MarketStream(StreamConfig(url="ws://127.0.0.1:9/ws/market", **config), assets)


def _book(asset: str, hash_: str) -> dict[str, Any]:
    return {
        "market": MARKET,
        "asset_id": asset,
        "timestamp": str(TS_MS - 5000),
        "hash": hash_,
        "bids": [{"price": "0.3", "size": "100"}, {"price": "0.29", "size": "5"}],
        "asks": [{"price": "0.4", "size": "7"}],
        "tick_size": "0.01",
        "event_type": "book",
        "last_trade_price": "0.35",
    }


def _price_change(*entries: tuple[str, str, str]) -> str:
    return json.dumps(
        {
            "market": MARKET,
            "price_changes": [
                {"asset_id": a, "price": p, "size": "10", "side": "BUY", "hash": h, "best_bid": p, "best_ask": "0.9"}
                for a, p, h in entries
            ],
            "timestamp": str(TS_MS),
            "event_type": "price_change",
        }
    )


def _trade(asset: str, tx: str) -> str:
    return json.dumps(
        {
            "asset_id": asset,
            "event_type": "last_trade_price",
            "fee_rate_bps": "0",
            "market": MARKET,
            "price": "0.35",
            "side": "BUY",
            "size": "12.5",
            "timestamp": str(TS_MS),
            "transaction_hash": tx,
        }
    )


def test_a_dump_array_and_single_objects_become_typed_events_stamped_with_the_receive_time() -> None:
    stream = _stream(A, B)
    dump = json.dumps([_book(A, "a1"), _book(B, "b1")])
    books = stream._accept(dump, RECV)
    changes = stream._accept(_price_change((A, "0.31", "h1"), (B, "0.69", "h2")), RECV)
    trade = stream._accept(_trade(A, "0x01"), RECV)
    assert [type(e) for e in books] == [WsBook, WsBook]
    assert [e.asset_id for e in books] == [A, B]
    assert books[0].bids[0].price == 0.3  # best first
    assert [(type(e), e.asset_id, e.price) for e in changes] == [(WsPriceChange, A, 0.31), (WsPriceChange, B, 0.69)]
    assert isinstance(trade[0], WsLastTradePrice)
    assert all(e.recv_ts == RECV for e in [*books, *changes, *trade])
    c = stream.counters
    assert (c.frames, c.events, c.duplicates, c.rejections, c.filtered) == (3, 5, 0, 0, 0)


def test_the_legacy_price_change_schema_is_accepted() -> None:
    stream = _stream(A)
    legacy = json.dumps(
        {
            "asset_id": A,
            "event_type": "price_change",
            "hash": "bf32",
            "market": MARKET,
            "price": "0.514",
            "side": "SELL",
            "size": "21574.08",
            "timestamp": str(TS_MS),
        }
    )
    [event] = stream._accept(legacy, RECV)
    assert isinstance(event, WsPriceChange)
    assert (event.price, event.side, event.best_bid) == (0.514, "SELL", None)


@pytest.mark.parametrize("word", ["PONG", "NO NEW ASSETS", "PING"])
def test_control_words_are_counted_and_are_neither_events_nor_rejections(word: str) -> None:
    stream = _stream(A)
    assert stream._accept(word, RECV) == []
    c = stream.counters
    assert (c.frames, c.control_frames, c.events, c.rejections) == (1, 1, 0, 0)
    assert c.pongs == (word == "PONG")
    assert c.no_new_assets == (word == "NO NEW ASSETS")


def test_garbage_is_a_counted_rejection_and_the_next_frame_still_counts() -> None:
    stream = _stream(A)
    for garbage in ("<html>502 Bad Gateway</html>", '{"event_type":"book","asset_id":', "", "[1, 2]"):
        assert stream._accept(garbage, RECV) == []
    unknown = json.dumps({"event_type": "mystery", "asset_id": A})
    assert stream._accept(unknown, RECV) == []
    assert len(stream._accept(_trade(A, "0x02"), RECV)) == 1
    c = stream.counters
    assert c.rejections == 6  # "[1, 2]" holds two bad items
    assert c.frames == 6
    assert c.rejection_reasons == {
        "frame is neither JSON nor a control message": 2,  # the HTML page and the truncated object
        "empty frame": 1,
        "expected an event object, got int": 2,
        "unknown event_type 'mystery'": 1,
    }
    assert len(c.recent_rejections) == 6
    assert c.recent_rejections[-1].record_id == A


def test_a_replayed_frame_is_one_duplicate_frame_and_all_its_events_are_dropped() -> None:
    stream = _stream(A, B)
    frame = _price_change((A, "0.31", "h1"), (B, "0.69", "h2"))
    assert len(stream._accept(frame, RECV)) == 2
    assert stream._accept(frame, RECV) == []
    c = stream.counters
    assert (c.duplicates, c.duplicate_events, c.events) == (1, 2, 4)


def test_a_frame_with_some_new_events_is_not_a_duplicate_frame() -> None:
    stream = _stream(A, B)
    stream._accept(_price_change((A, "0.31", "h1")), RECV)
    out = stream._accept(_price_change((A, "0.31", "h1"), (B, "0.69", "h2")), RECV)
    assert [e.asset_id for e in out] == [B]
    assert (stream.counters.duplicates, stream.counters.duplicate_events) == (0, 1)


def test_same_book_hash_is_a_duplicate_but_a_new_hash_is_a_new_book() -> None:
    stream = _stream(A)
    assert len(stream._accept(json.dumps([_book(A, "a1")]), RECV)) == 1
    assert stream._accept(json.dumps([_book(A, "a1")]), RECV) == []
    assert len(stream._accept(json.dumps([_book(A, "a2")]), RECV)) == 1


def test_events_of_assets_outside_the_set_are_filtered_and_counted() -> None:
    stream = _stream(A)
    out = stream._accept(_price_change((A, "0.31", "h1"), (C, "0.69", "h2")), RECV)
    assert [e.asset_id for e in out] == [A]
    assert stream.counters.filtered == 1
    # a replay of a filtered event is a duplicate, not filtered twice: dedupe runs first
    assert stream._accept(_price_change((C, "0.69", "h2")), RECV) == []
    assert (stream.counters.filtered, stream.counters.duplicates) == (1, 1)


def test_market_resolved_passes_when_one_of_its_assets_is_subscribed_and_new_market_always() -> None:
    stream = _stream(B)

    def resolved(assets: list[str], winner: str) -> str:
        return json.dumps(
            {
                "event_type": "market_resolved",
                "id": "1",
                "market": MARKET,
                "assets_ids": assets,
                "winning_asset_id": winner,
                "winning_outcome": "Yes",
                "timestamp": str(TS_MS),
            }
        )

    assert len(stream._accept(resolved([A, B], A), RECV)) == 1
    assert stream._accept(resolved([A, C], C), RECV) == []
    new_market = json.dumps(
        {"event_type": "new_market", "id": "9", "market": "0xfeed", "timestamp": str(TS_MS), "assets_ids": [C]}
    )
    assert len(stream._accept(new_market, RECV)) == 1


def test_lag_is_receive_time_minus_exchange_time_and_books_are_left_out() -> None:
    stream = _stream(A)
    stream._accept(json.dumps([_book(A, "a1")]), RECV)  # book ts is 5 s old: not a lag sample
    assert stream.counters.lag_count == 0
    stream._accept(_trade(A, "0x03"), RECV)
    later = RECV + timedelta(seconds=2)
    stream._accept(_trade(A, "0x04"), later)
    c = stream.counters
    assert c.lag_count == 2
    assert c.last_lag_ms == pytest.approx(2120, abs=1)
    assert c.max_lag_ms == pytest.approx(2120, abs=1)
    assert c.mean_lag_ms == pytest.approx(1120, abs=1)
    assert len(c.lag_histogram) == len(LAG_BUCKETS_MS) + 1
    assert c.lag_histogram[LAG_BUCKETS_MS.index(250)] == 1  # 120 ms is in (100, 250]
    assert c.lag_histogram[LAG_BUCKETS_MS.index(5_000)] == 1  # 2120 ms is in (1000, 5000]


def test_counters_summary_is_flat_numbers() -> None:
    stream = _stream(A)
    stream._accept(_trade(A, "0x05"), RECV)
    summary = stream.counters.as_dict()
    assert summary["frames"] == 1
    assert summary["delivered"] == 0  # _accept does not queue; _deliver does
    assert summary["gaps"] == 0
    assert all(v is None or isinstance(v, int | float) for v in summary.values())


async def test_deliver_queues_events_and_feeds_the_raw_hook_every_frame_first() -> None:
    seen: list[tuple[str, datetime]] = []
    stream = MarketStream(
        StreamConfig(url="ws://127.0.0.1:9/ws/market"), [A], on_raw=lambda text, ts: seen.append((text, ts))
    )
    frame = _trade(A, "0x06")
    await stream._deliver(frame, RECV, None)  # type: ignore[arg-type]
    await stream._deliver("PONG", RECV, None)  # type: ignore[arg-type]
    assert seen == [(frame, RECV), ("PONG", RECV)]
    assert stream.pending == 1
    assert stream.counters.delivered == 1


async def test_an_async_raw_hook_is_awaited_and_a_failing_hook_is_a_stream_error() -> None:
    landed: list[str] = []

    async def land(text: str, ts: datetime) -> None:
        landed.append(text)

    stream = MarketStream(StreamConfig(url="ws://127.0.0.1:9/ws/market"), [A], on_raw=land)
    await stream._deliver("PONG", RECV, None)  # type: ignore[arg-type]
    assert landed == ["PONG"]

    def broken(text: str, ts: datetime) -> None:
        raise OSError("disk full")

    failing = MarketStream(StreamConfig(url="ws://127.0.0.1:9/ws/market"), [A], on_raw=broken)
    with pytest.raises(StreamError, match="on_raw hook failed"):
        await failing._deliver("PONG", RECV, None)  # type: ignore[arg-type]


async def test_iterating_a_stream_that_was_never_started_fails_loudly() -> None:
    stream = _stream(A)
    with pytest.raises(StreamError, match="not started"):
        await stream.get(timeout_s=0.1)


async def test_subscribe_and_unsubscribe_without_a_connection_change_the_set_for_the_next_connect() -> None:
    stream = _stream(A)
    assert await stream.subscribe([B, A, B]) == [B]
    assert await stream.unsubscribe([A, C]) == [A]
    assert stream.assets == (B,)
    assert json.loads(stream._subscription()) == {"assets_ids": [B], "type": "market", "custom_feature_enabled": True}


def _best(asset: str, bid: str, ask: str) -> str:
    return json.dumps(
        {
            "event_type": "best_bid_ask",
            "market": MARKET,
            "asset_id": asset,
            "best_bid": bid,
            "best_ask": ask,
            "spread": "0.01",
            "timestamp": str(TS_MS),
        }
    )


def test_a_quote_that_flickers_back_within_one_millisecond_is_delivered_not_deduplicated() -> None:
    stream = _stream(A)
    first, moved, back = _best(A, "0.30", "0.40"), _best(A, "0.29", "0.40"), _best(A, "0.30", "0.40")
    assert len(stream._accept(first, RECV)) == 1
    assert len(stream._accept(moved, RECV)) == 1
    # same key as `first` (same content, same ms), but the quote changed in between: a real move back
    assert len(stream._accept(back, RECV)) == 1
    # an immediate replay of that frame is a duplicate again
    assert stream._accept(back, RECV) == []
    assert (stream.counters.duplicates, stream.counters.delivered) == (1, 0)


def test_a_price_level_set_back_to_an_earlier_size_in_the_same_millisecond_is_delivered() -> None:
    stream = _stream(A)
    level = _price_change((A, "0.31", "h0"))
    cancelled = json.dumps(
        {
            "market": MARKET,
            "price_changes": [{"asset_id": A, "price": "0.31", "size": "0", "side": "BUY", "hash": "h1"}],
            "timestamp": str(TS_MS),
            "event_type": "price_change",
        }
    )
    assert len(stream._accept(level, RECV)) == 1
    assert len(stream._accept(cancelled, RECV)) == 1
    assert len(stream._accept(level, RECV)) == 1  # the order came back: the book hash repeats
    assert stream._accept(level, RECV) == []
    # a trade carries no state: its key in the window is always a replay
    assert len(stream._accept(_trade(A, "0x07"), RECV)) == 1
    assert len(stream._accept(_trade(A, "0x08"), RECV)) == 1
    assert stream._accept(_trade(A, "0x07"), RECV) == []


async def test_unsubscribing_forgets_the_state_slots_of_the_removed_assets() -> None:
    stream = _stream(A, B)
    stream._accept(_price_change((A, "0.31", "h1"), (B, "0.69", "h2")), RECV)
    assert {slot[1] for slot in stream._latest} == {A, B}
    await stream.unsubscribe([A])
    assert {slot[1] for slot in stream._latest} == {B}
