"""Frames -> ticks: the dedupe rule, the unique stored key, ordering by exchange time, and what is not a tick."""

from __future__ import annotations

import json

import polars as pl

from mca_core.ticks import TICK_COLUMNS, TICK_ORDER, build_ticks, parse_frames


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
