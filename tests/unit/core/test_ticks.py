"""Frames -> ticks: rows equal to the live parser's events, the dedupe rule, the unique stored key, ordering by
exchange time, and what is not a tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from mca_core.records import WsBestBidAsk, WsBook, WsEvent, WsLastTradePrice, WsPriceChange, WsTickSizeChange
from mca_core.ticks import CHUNK_FRAMES, RAW_SCHEMA, TICK_COLUMNS, TICK_ORDER, build_ticks, parse_frames
from mca_core.wsparse import parse_ws_frame


def bba(asset: str, bid: str, ask: str, ts: int) -> str:
    return json.dumps({"event_type": "best_bid_ask", "market": "m", "asset_id": asset, "best_bid": bid,
                       "best_ask": ask, "spread": "0", "timestamp": str(ts)})  # fmt: skip


def trade(asset: str, price: str, ts: int, tx: str = "") -> str:
    body = {"asset_id": asset, "event_type": "last_trade_price", "market": "m", "price": price, "side": "BUY",
            "size": "5", "timestamp": str(ts)}  # fmt: skip
    if tx:
        body["transaction_hash"] = tx
    return json.dumps(body)


def ticks_of(frames: list[str]) -> pl.DataFrame:
    raw, _ = parse_frames([(1, 1_000_000 + i, f) for i, f in enumerate(frames)])
    return build_ticks(raw, "r")


def test_a_replayed_frame_is_dropped_but_a_quote_flicker_within_one_ms_is_kept_with_a_distinct_key() -> None:
    a, b = bba("x", "0.4", "0.6", 7), bba("x", "0.5", "0.6", 7)
    ticks = ticks_of([a, a, b, a, a])  # replay, change, return to A (real), replay of the return
    assert ticks.height == 3
    assert ticks["best_bid"].to_list() == [0.4, 0.5, 0.4]
    keys = ticks["dedupe_key"].to_list()
    assert len(set(keys)) == 3
    assert keys[2] == keys[0] + "#1"
    assert keys[0] == "best_bid_ask|x|7||||0.4|0.6|"  # type|asset|ts_ms|side|price|size|best_bid|best_ask|ref


def test_a_trade_seen_before_is_a_duplicate_even_after_other_events() -> None:
    t = trade("x", "0.5", 9, "0xab")
    ticks = ticks_of([t, bba("x", "0.4", "0.6", 9), t, trade("x", "0.5", 9, "0xcd")])
    assert ticks.filter(pl.col("event_type") == "last_trade_price").height == 2


def test_ticks_are_ordered_by_exchange_time_then_arrival_and_control_frames_are_ignored() -> None:
    late, early = trade("x", "0.5", 20, "0x1"), trade("x", "0.6", 10, "0x2")
    same_ms = [trade("x", "0.7", 30, "0x3"), trade("x", "0.8", 30, "0x4")]
    ticks = ticks_of([late, "PONG", early, "NO NEW ASSETS", *same_ms, "not json"]).sort(TICK_ORDER)
    assert ticks["price"].to_list() == [0.6, 0.5, 0.7, 0.8]
    assert ticks.columns == list(TICK_COLUMNS)
    assert ticks["ts"].dt.epoch("ms").to_list() == [10, 20, 30, 30]
    assert ticks["run_id"].unique().to_list() == ["r"]


def test_book_and_two_entry_price_change_expand_to_one_tick_per_asset_with_top_of_book() -> None:
    book = json.dumps([{"event_type": "book", "market": "m", "asset_id": "y", "timestamp": "5", "hash": "h",
                        "bids": [{"price": "0.1", "size": "1"}, {"price": "0.3", "size": "1"}],
                        "asks": [{"price": "0.9", "size": "1"}, {"price": "0.6", "size": "1"}]}])  # fmt: skip
    change = json.dumps({"market": "m", "event_type": "price_change", "timestamp": "6", "price_changes": [
        {"asset_id": "y", "price": "0.31", "size": "4", "side": "BUY", "hash": "a", "best_bid": "0.31",
         "best_ask": "0.6"},
        {"asset_id": "n", "price": "0.69", "size": "4", "side": "SELL", "hash": "b", "best_bid": "0.4",
         "best_ask": "0.69"}]})  # fmt: skip
    ticks = ticks_of([book, change, book])  # the book replayed after a change of another state: still a replay
    rows = {(r["asset_id"], r["event_type"]): r for r in ticks.iter_rows(named=True)}
    assert set(rows) == {("y", "book"), ("y", "price_change"), ("n", "price_change")}
    assert (rows[("y", "book")]["best_bid"], rows[("y", "book")]["best_ask"]) == (0.3, 0.6)
    assert rows[("n", "price_change")]["side"] == "SELL"


FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "polymarket"
RECV = datetime(2026, 8, 1, tzinfo=UTC)


def _event_row(e: WsEvent) -> tuple[object, ...] | None:
    """The tick row of a parsed event (the reference the fast path must match), None for events without a quote."""
    if isinstance(e, WsPriceChange):
        return e.ts_ms, e.asset_id, "price_change", e.price, e.size, e.side, e.best_bid, e.best_ask, e.hash
    if isinstance(e, WsBestBidAsk):
        return e.ts_ms, e.asset_id, "best_bid_ask", None, None, None, e.best_bid, e.best_ask, None
    if isinstance(e, WsLastTradePrice):
        return e.ts_ms, e.asset_id, "last_trade_price", e.price, e.size, e.side, None, None, e.transaction_hash
    if isinstance(e, WsBook):
        bid, ask = (e.bids[0].price if e.bids else None), (e.asks[0].price if e.asks else None)
        return e.ts_ms, e.asset_id, "book", None, None, None, bid, ask, e.hash
    if isinstance(e, WsTickSizeChange):
        return e.ts_ms, e.asset_id, "tick_size_change", e.new_tick_size, None, None, None, None, None
    return None


def test_parse_frames_gives_the_rows_of_parse_ws_frame_for_every_fixture_and_for_rejected_content() -> None:
    fixtures = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("ws_market_*.json"))]
    bad_bid = json.dumps({"event_type": "best_bid_ask", "market": "m", "asset_id": "a", "best_bid": "1.5",
                          "best_ask": "0.6", "timestamp": "5"})  # fmt: skip
    nan_bid = json.loads(bba("b", "0.4", "0.6", 6)) | {"best_bid": "NaN"}
    blank_bid = json.loads(bba("c", "0.4", "0.6", 7)) | {"best_bid": "", "spread": ""}
    legacy_incomplete = {"event_type": "price_change", "market": "m", "timestamp": "8", "asset_id": "d"}
    frames = [*fixtures, bad_bid, json.dumps([nan_bid, blank_bid, json.loads(trade("e", "0.5", 9, "0x1"))]),
              json.dumps([legacy_incomplete, {"event_type": "mystery"}, 3, json.loads(bba("f", "0.1", "0.2", 10))]),
              "PONG", "not json", "", trade("g", "1.01", 11)]  # fmt: skip
    raw, other = parse_frames([(2, 1_000 + i, f) for i, f in enumerate(frames)])
    expected = []
    no_quote = 0
    for i, frame in enumerate(frames):
        for event in parse_ws_frame(frame, RECV).events:
            row = _event_row(event)
            if row is None:
                no_quote += 1
            else:
                expected.append((len(expected), 2, 1_000 + i, *row))
    assert raw.schema == RAW_SCHEMA
    assert raw.rows() == expected
    assert other == no_quote == 2  # the resolution and the new market fixtures
    assert {"a", "b", "d", "g"}.isdisjoint(raw["asset_id"])  # rejected events yield no row
    assert raw.filter(pl.col("asset_id") == "c")["best_bid"].to_list() == [None]  # "" is absent, not rejected
    assert raw.filter(pl.col("asset_id").is_in(["e", "f"])).height == 2  # neighbours of rejected events kept


def test_parse_frames_packs_rows_in_chunks_without_changing_them() -> None:
    frames = [bba("x", f"0.{i % 9 + 1}", "0.95", i) for i in range(2 * CHUNK_FRAMES + 7)]
    raw, _ = parse_frames([(1, i, f) for i, f in enumerate(frames)])
    assert raw["seq"].to_list() == list(range(len(frames)))
    assert raw["recv_us"].to_list() == list(range(len(frames)))
    assert raw["ts_ms"].to_list() == list(range(len(frames)))
