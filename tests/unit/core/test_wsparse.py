"""parse_ws_frame: arrays and single objects, control words, both price_change schemas, and bad
events isolated as rejections without losing the good events of the same frame; expand_frame gives the same
framing to other expanders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from mca_core._fields import Invalid
from mca_core._wswire import WIRE_BY_TAG, WirePriceChange
from mca_core.records import WsBook, WsEvent, WsLastTradePrice, WsPriceChange
from mca_core.wsparse import blank, dedupe_key, expand_frame, parse_ws_frame, price_changes

RECV = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
YES = "76670567130917723816490572615540605537878462672464291990940067659127658071111"
NO = "54179564009642723353355316176091991063553046330768303687769988635499280029688"
MARKET = "0x285746de0e4f751fd4dc8f9dc2cecd0101ba9ad0096a43145ed9643b09514f01"


def trade(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "asset_id": YES,
        "event_type": "last_trade_price",
        "fee_rate_bps": "0",
        "market": MARKET,
        "price": "0.491",
        "side": "SELL",
        "size": "85.36",
        "timestamp": "1724564136087",
        "transaction_hash": "0xabc",
    }
    raw.update(overrides)
    return raw


def book(asset: str = YES, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event_type": "book",
        "market": MARKET,
        "asset_id": asset,
        "timestamp": "1790658661234",
        "hash": "5511583ad6f3eb4678e0a374e0cc2bd3b1975d07",
        "bids": [{"price": "0.1", "size": "5"}, {"price": "0.3", "size": "7"}, {"price": "0.2", "size": "6"}],
        "asks": [{"price": "0.9", "size": "1"}, {"price": "0.4", "size": "2"}],
    }
    raw.update(overrides)
    return raw


def new_schema_change(**entry_overrides: Any) -> dict[str, Any]:
    second: dict[str, Any] = {
        "asset_id": NO,
        "price": "0.699",
        "size": "1000",
        "side": "SELL",
        "hash": "c0978ce48e525b35579b9fb4556a08538ebf265a",
        "best_bid": "0.603",
        "best_ask": "0.699",
    }
    second.update(entry_overrides)
    return {
        "market": MARKET,
        "price_changes": [
            {
                "asset_id": YES,
                "price": "0.301",
                "size": "1000",
                "side": "BUY",
                "hash": "b7623b6417b3ae46dbe5d608a65474c9cec84ef9",
                "best_bid": "0.301",
                "best_ask": "0.397",
            },
            second,
        ],
        "timestamp": "1790658674035",
        "event_type": "price_change",
    }


def frame(obj: Any) -> str:
    return json.dumps(obj)


def test_single_object_and_array_frames_give_the_same_events() -> None:
    single = parse_ws_frame(frame(trade()), RECV)
    batch = parse_ws_frame(frame([trade(), trade(price="0.5")]), RECV)
    assert single.rejections == batch.rejections == []
    assert single.control is None
    assert len(single.events) == 1
    assert len(batch.events) == 2
    assert batch.events[0] == single.events[0]
    second = batch.events[1]
    assert isinstance(second, WsLastTradePrice)
    assert second.price == 0.5


def test_bytes_frames_are_accepted() -> None:
    result = parse_ws_frame(frame(trade()).encode(), RECV)
    (event,) = result.events
    assert isinstance(event, WsLastTradePrice)
    assert event.transaction_hash == "0xabc"
    assert event.recv_ts == RECV
    assert event.ts == datetime(2024, 8, 25, 5, 35, 36, 87000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "word"), [("PONG", "PONG"), (b"PONG", "PONG"), ("NO NEW ASSETS", "NO NEW ASSETS"), (" pong\n", "PONG")]
)
def test_control_messages_are_not_errors(text: str | bytes, word: str) -> None:
    result = parse_ws_frame(text, RECV)
    assert result.control == word
    assert result.events == []
    assert result.rejections == []


@pytest.mark.parametrize("text", ["hello", "", "{not json", b"\xff\xfe"])
def test_non_json_text_is_one_rejection(text: str | bytes) -> None:
    result = parse_ws_frame(text, RECV)
    assert result.control is None
    assert result.events == []
    assert len(result.rejections) == 1
    assert result.rejections[0].source == "ws.market"


def test_empty_array_is_nothing() -> None:
    assert parse_ws_frame("[]", RECV) == parse_ws_frame(b"[]", RECV)
    assert parse_ws_frame("[]", RECV).events == []
    assert parse_ws_frame("[]", RECV).rejections == []


def test_initial_dump_books_are_sorted_best_first() -> None:
    result = parse_ws_frame(frame([book(YES), book(NO)]), RECV)
    assert [type(e) for e in result.events] == [WsBook, WsBook]
    first = result.events[0]
    assert isinstance(first, WsBook)
    assert [lv.price for lv in first.bids] == [0.3, 0.2, 0.1]
    assert [lv.price for lv in first.asks] == [0.4, 0.9]
    assert first.mid == pytest.approx(0.35)
    assert first.last_trade_price is None
    assert first.tick_size is None


def test_new_schema_yields_one_record_per_entry_sharing_frame_fields() -> None:
    result = parse_ws_frame(frame(new_schema_change()), RECV)
    changes = [e for e in result.events if isinstance(e, WsPriceChange)]
    assert len(changes) == len(result.events) == 2
    assert [(c.asset_id, c.side, c.price) for c in changes] == [(YES, "BUY", 0.301), (NO, "SELL", 0.699)]
    assert {(c.market, c.ts_ms, c.recv_ts) for c in changes} == {(MARKET, 1790658674035, RECV)}
    assert (changes[1].best_bid, changes[1].best_ask) == (0.603, 0.699)


def test_old_schema_maps_to_the_same_record_type() -> None:
    old = {
        "asset_id": YES,
        "event_type": "price_change",
        "hash": "bf32b3746fff40c76c98021b7f3f07261169dd26",
        "market": MARKET,
        "price": "0.514",
        "side": "SELL",
        "size": "21574.08",
        "timestamp": "1723967931411",
    }
    (change,) = parse_ws_frame(frame(old), RECV).events
    assert isinstance(change, WsPriceChange)
    assert (change.asset_id, change.price, change.size, change.side) == (YES, 0.514, 21574.08, "SELL")
    assert change.best_bid is None


def test_old_schema_without_side_is_rejected() -> None:
    old = {
        "event_type": "price_change",
        "market": MARKET,
        "asset_id": YES,
        "price": "0.5",
        "size": "1",
        "timestamp": "1723967931411",
    }
    result = parse_ws_frame(frame(old), RECV)
    assert result.events == []
    assert "neither price_changes[] nor asset_id/price/size/side" in result.rejections[0].reason


def test_unknown_event_type_is_rejected_and_other_events_survive() -> None:
    result = parse_ws_frame(frame([trade(), {"event_type": "mystery", "asset_id": YES}, book()]), RECV)
    assert [type(e) for e in result.events] == [WsLastTradePrice, WsBook]
    (rejection,) = result.rejections
    assert rejection.reason == "unknown event_type 'mystery'"
    assert rejection.record_id == YES


def test_missing_event_type_and_non_object_items_are_rejected() -> None:
    result = parse_ws_frame(frame([{"market": MARKET}, 42, trade()]), RECV)
    assert len(result.events) == 1
    assert [r.reason for r in result.rejections] == ["missing event_type", "expected an event object, got int"]


@pytest.mark.parametrize(
    ("bad", "reason_part"),
    [
        (trade(price="1.5"), "<= 1.0"),
        (trade(price="NaN"), "last_trade_price"),
        (trade(size="-3"), ">= 0.0"),
        (trade(side="HOLD"), "side"),
        (trade(timestamp="soon"), "timestamp"),
        (trade(asset_id=""), "asset_id"),
        (book(bids=[{"price": "2", "size": "1"}]), "bids"),
        (book(last_trade_price="7"), "last_trade_price"),
        (new_schema_change(best_bid="1.7"), "best_bid"),
        (new_schema_change(price="nan"), "price_changes"),
    ],
)
def test_invalid_event_is_rejected_with_reason_and_neighbours_kept(bad: dict[str, Any], reason_part: str) -> None:
    result = parse_ws_frame(frame([trade(price="0.2"), bad]), RECV)
    assert len(result.events) == 1
    assert isinstance(result.events[0], WsLastTradePrice)
    assert result.events[0].price == 0.2
    (rejection,) = result.rejections
    assert reason_part in rejection.reason
    assert rejection.raw_excerpt


def test_price_change_with_one_bad_entry_rejects_the_whole_message() -> None:
    result = parse_ws_frame(frame(new_schema_change(side="SIDEWAYS")), RECV)
    assert result.events == []
    assert len(result.rejections) == 1


def test_blank_optional_numbers_become_none() -> None:
    top = {
        "event_type": "best_bid_ask",
        "market": MARKET,
        "asset_id": YES,
        "best_bid": "",
        "best_ask": "0.77",
        "spread": "",
        "timestamp": "1766789469958",
    }
    (event,) = parse_ws_frame(frame(top), RECV).events
    assert event.best_bid is None  # type: ignore[union-attr]
    assert event.best_ask == 0.77  # type: ignore[union-attr]


def test_records_encode_as_a_tagged_union() -> None:
    (event,) = parse_ws_frame(frame(trade()), RECV).events
    encoded = msgspec.json.decode(msgspec.json.encode(event))
    assert encoded["event_type"] == "last_trade_price"
    assert event.event_type == "last_trade_price"
    assert msgspec.json.decode(msgspec.json.encode(event), type=WsEvent) == event


def test_dedupe_key_identifies_replays_and_separates_distinct_messages() -> None:
    first = parse_ws_frame(frame(new_schema_change()), RECV).events
    replay = parse_ws_frame(frame(new_schema_change()), datetime(2026, 8, 1, 12, 5, tzinfo=UTC)).events
    assert [dedupe_key(e) for e in first] == [dedupe_key(e) for e in replay]
    assert dedupe_key(first[0]) != dedupe_key(first[1])
    assert dedupe_key(first[0]) == (
        f"price_change|{YES}|1790658674035|BUY|0.301|1000.0|b7623b6417b3ae46dbe5d608a65474c9cec84ef9"
    )
    (t1,) = parse_ws_frame(frame(trade(price="0.50")), RECV).events
    (t2,) = parse_ws_frame(frame(trade(price="0.5")), RECV).events
    (t3,) = parse_ws_frame(frame(trade(price="0.5", size="1")), RECV).events
    assert dedupe_key(t1) == dedupe_key(t2) != dedupe_key(t3)
    (b,) = parse_ws_frame(frame(book()), RECV).events
    assert dedupe_key(b) == f"book|{YES}|5511583ad6f3eb4678e0a374e0cc2bd3b1975d07"


def test_every_event_gets_a_distinct_dedupe_key_per_type() -> None:
    events: list[WsEvent] = list(parse_ws_frame(frame([book(), trade(), new_schema_change()]), RECV).events)
    keys = [dedupe_key(e) for e in events]
    assert len(set(keys)) == len(keys) == 4
    assert [k.split("|")[0] for k in keys] == ["book", "last_trade_price", "price_change", "price_change"]


def _tag(wire: Any, context: str, out: list[str]) -> None:
    out.append(f"{context}:{type(wire).__name__}")


TAGGER = dict.fromkeys(WIRE_BY_TAG.values(), _tag)
LEGACY = {"event_type": "price_change", "market": MARKET, "asset_id": YES, "price": "0.47", "size": "3",
          "side": "BUY", "hash": "h", "timestamp": "1723967931411"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        (frame([trade(), book()]), ["c:WireLastTrade", "c:WireBook"]),
        (frame([trade(price="0.2"), trade(price="1.5"), {"event_type": "mystery"}]), ["c:WireLastTrade"]),
        (frame([new_schema_change(best_bid="nan"), trade(size="-1")]), []),
        (frame(new_schema_change()).encode(), ["c:WirePriceChange"]),
        ("PONG", []),
        ("not json", []),
    ],
)
def test_expand_frame_drives_any_expanders_with_the_framing_and_rejections_of_parse_ws_frame(
    text: str | bytes, tags: list[str]
) -> None:
    result = parse_ws_frame(text, RECV)
    assert expand_frame(text, TAGGER, "c") == (tags, result.rejections, result.control)


def test_blank_numbers_and_legacy_price_changes_have_one_reading() -> None:
    assert [blank(""), blank(None), blank(0.0), blank(0.5)] == [None, None, 0.0, 0.5]
    (change,) = price_changes(msgspec.convert(LEGACY, WirePriceChange, strict=False))
    assert (change.asset_id, change.price, change.size, change.side, change.hash) == (YES, 0.47, 3.0, "BUY", "h")
    assert (change.best_bid, change.best_ask) == (None, None)
    with pytest.raises(Invalid):
        price_changes(msgspec.convert(LEGACY | {"side": None}, WirePriceChange, strict=False))
