"""Bars from ticks against a slow, independent reference written with plain loops over ``json.loads`` output.

``reference_ticks`` / ``reference_bars`` are also used by the realtime integration tests to compute bars from the
sandbox's truth log.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from mca_core.bars import BAR_COLUMNS, build_bars
from mca_core.ticks import build_ticks, parse_frames

# ------------------------------------------------------------------------------------------ the slow reference


def _key_and_slot(ev: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    kind = ev["type"]
    if kind == "book":
        return (kind, ev["asset"], ev["hash"]), (kind, ev["asset"])
    if kind == "price_change":
        return (kind, ev["asset"], ev["ts"], ev["side"], ev["price"], ev["size"], ev["hash"]), (
            kind, ev["asset"], ev["side"], ev["price"],
        )  # fmt: skip
    if kind == "last_trade_price":
        return (kind, ev["asset"], ev["ts"], ev["price"], ev["size"], ev["side"], ev["tx"]), None
    if kind == "best_bid_ask":
        return (kind, ev["asset"], ev["ts"], ev["best_bid"], ev["best_ask"]), (kind, ev["asset"])
    return (kind, ev["asset"], ev["ts"], ev["price"]), (kind, ev["asset"])


def _num(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _events_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    kind = obj.get("event_type")
    base = {"type": kind, "asset": obj.get("asset_id"), "ts": int(obj.get("timestamp", 0)), "price": None}
    base |= {"size": None, "best_bid": None, "best_ask": None}
    if kind == "book":
        bids = [float(level["price"]) for level in obj.get("bids", [])]
        asks = [float(level["price"]) for level in obj.get("asks", [])]
        top = {"best_bid": max(bids) if bids else None, "best_ask": min(asks) if asks else None}
        return [base | top | {"hash": obj.get("hash")}]
    if kind == "price_change":
        return [
            base
            | {"asset": c["asset_id"], "hash": c.get("hash"), "price": float(c["price"]), "size": float(c["size"])}
            | {"side": c["side"], "best_bid": _num(c.get("best_bid")), "best_ask": _num(c.get("best_ask"))}
            for c in obj["price_changes"]
        ]
    if kind == "last_trade_price":
        trade_ = {"price": float(obj["price"]), "size": float(obj["size"]), "side": obj.get("side")}
        return [base | trade_ | {"tx": obj.get("transaction_hash")}]
    if kind == "best_bid_ask":
        return [base | {"best_bid": _num(obj.get("best_bid")), "best_ask": _num(obj.get("best_ask"))}]
    if kind == "tick_size_change":
        return [base | {"price": float(obj["new_tick_size"])}]
    return []


def reference_ticks(frames: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """Deduplicated ticks in (asset, ts, recv, arrival) order, from ``(conn, recv_us, frame)`` with plain loops."""
    kept: list[dict[str, Any]] = []
    seen_trades: set[tuple[Any, ...]] = set()
    last_setter: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    arrival = 0
    for _conn, recv_us, text in frames:
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            continue  # PONG and other control words
        for obj in decoded if isinstance(decoded, list) else [decoded]:
            for ev in _events_of(obj):
                key, slot = _key_and_slot(ev)
                if slot is None:
                    if key in seen_trades:
                        continue
                    seen_trades.add(key)
                else:
                    if last_setter.get(slot) == key:
                        continue
                    last_setter[slot] = key
                ev["recv"] = recv_us
                ev["arrival"] = arrival
                arrival += 1
                kept.append(ev)
    kept.sort(key=lambda e: (e["asset"], e["ts"], e["recv"], e["arrival"]))
    return kept


def reference_bars(ticks: list[dict[str, Any]], width_s: int) -> dict[tuple[str, datetime], dict[str, Any]]:
    """Bars keyed (asset, bucket_start) from ``reference_ticks`` output, with plain loops."""
    groups: dict[tuple[str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for ev in ticks:
        seconds = ev["ts"] // 1000
        start = datetime.fromtimestamp(seconds - seconds % width_s, UTC)
        groups[(ev["asset"], start)].append(ev)
    bars: dict[tuple[str, datetime], dict[str, Any]] = {}
    for key, evs in groups.items():
        mids = [
            (e["best_bid"] + e["best_ask"]) / 2 for e in evs if e["best_bid"] is not None and e["best_ask"] is not None
        ]
        trades = [e for e in evs if e["type"] == "last_trade_price"]
        volume = sum(t["size"] for t in trades)
        volume_usd = sum(t["price"] * t["size"] for t in trades)
        squares = [(math.log(b) - math.log(a)) ** 2 for a, b in itertools.pairwise(mids)]
        bars[key] = {
            "open": mids[0] if mids else None,
            "high": max(mids) if mids else None,
            "low": min(mids) if mids else None,
            "close": mids[-1] if mids else None,
            "volume": volume,
            "trade_count": len(trades),
            "trade_open": trades[0]["price"] if trades else None,
            "trade_high": max(t["price"] for t in trades) if trades else None,
            "trade_low": min(t["price"] for t in trades) if trades else None,
            "trade_close": trades[-1]["price"] if trades else None,
            "vwap": volume_usd / volume if volume > 0 else None,
            "volume_usd": volume_usd,
            "realized_vol": math.sqrt(sum(squares)) if mids else None,
            "n_mid": len(mids),
            "n_ticks": len(evs),
        }
    return bars


def assert_bars_equal(frame: pl.DataFrame, expected: dict[tuple[str, datetime], dict[str, Any]]) -> None:
    """Every bar of ``frame`` equals the reference (floats to 1e-9) and no bar is missing or extra."""
    got = {(row["asset_id"], row["bucket_start"]): row for row in frame.iter_rows(named=True)}
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        for name, value in want.items():
            actual = row[name]
            if value is None or isinstance(value, int):
                assert actual == value, (key, name, actual, value)
            else:
                assert actual == pytest.approx(value, rel=1e-9, abs=1e-12), (key, name, actual, value)


# --------------------------------------------------------------------------------------------- synthetic feed


def book(asset: str, ts: int, hash_: str) -> str:
    bids = [{"price": "0.3", "size": "5"}, {"price": "0.4", "size": "5"}]
    body = {"event_type": "book", "market": "m", "asset_id": asset, "timestamp": str(ts), "hash": hash_}
    return json.dumps(body | {"bids": bids, "asks": [{"price": "0.6", "size": "5"}]})


def trade(asset: str, ts: int, price: str, size: str, side: str = "BUY", tx: str | None = None) -> str:
    body = {"asset_id": asset, "event_type": "last_trade_price", "market": "m", "price": price, "side": side}
    body |= {"size": size, "timestamp": str(ts)} | ({"transaction_hash": tx} if tx else {})
    return json.dumps(body)


def best_bid_ask(asset: str, ts: int, bid: str, ask: str) -> str:
    body = {"event_type": "best_bid_ask", "market": "m", "asset_id": asset, "best_bid": bid, "best_ask": ask}
    return json.dumps(body | {"spread": "0", "timestamp": str(ts)})


def price_change(asset: str, ts: int, price: str, size: str, hash_: str, bid: str, ask: str) -> str:
    entry = {"asset_id": asset, "price": price, "size": size, "side": "BUY", "hash": hash_}
    entry |= {"best_bid": bid, "best_ask": ask}
    return json.dumps({"market": "m", "price_changes": [entry], "timestamp": str(ts), "event_type": "price_change"})


def tick_size_change(asset: str, ts: int) -> str:
    body = {"asset_id": asset, "event_type": "tick_size_change", "market": "m", "new_tick_size": "0.001"}
    return json.dumps(body | {"old_tick_size": "0.01", "timestamp": str(ts)})


def synthetic_frames(seed: int, n: int = 3000) -> list[tuple[int, int, str]]:
    """A random market-channel feed over 3 assets and ~3 minutes: every event type, same-ms bursts, quote
    flickers, replayed frames and swapped neighbours, as ``(conn, recv_us, frame)``."""
    rnd = random.Random(seed)
    t0 = 1_790_000_000_000
    ts = t0
    assets = ["a1", "a2", "a3"]
    frames = [book(a, ts, f"h{a}{seed}") for a in assets]
    bid = dict.fromkeys(assets, 0.40)
    for i in range(n):
        ts += rnd.choice((0, 0, 1, 37, 250))
        a = rnd.choice(assets)
        r = rnd.random()
        if r < 0.2:
            price, size = f"{rnd.randint(30, 70) / 100}", str(rnd.randint(1, 500))
            frames.append(trade(a, ts, price, size, rnd.choice(("BUY", "SELL")), f"0x{i:x}"))
        elif r < 0.6:
            bid[a] = min(max(bid[a] + rnd.choice((-0.01, 0.0, 0.01)), 0.05), 0.9)
            frames.append(best_bid_ask(a, ts, f"{bid[a]:.2f}", f"{bid[a] + 0.05:.2f}"))
        elif r < 0.98:
            level = f"{bid[a]:.2f}"
            frames.append(price_change(a, ts, level, str(rnd.randint(0, 9)), f"{i:x}", level, f"{bid[a] + 0.04:.2f}"))
        else:
            frames.append(tick_size_change(a, ts))
    sent: list[str] = []
    held: str | None = None
    for frame in frames:
        if held is not None:
            sent += [frame, held]
            held = None
        elif rnd.random() < 0.05:
            held = frame
        else:
            sent.append(frame)
        if rnd.random() < 0.05:
            sent.append(sent[-1])
        if rnd.random() < 0.02:
            sent.append("PONG")
    recv0 = t0 * 1000
    return [(1, recv0 + i * 997, text) for i, text in enumerate(sent)]


def engine_bars(frames: list[tuple[int, int, str]], width: str) -> pl.DataFrame:
    raw, _ = parse_frames(frames)
    return build_bars(build_ticks(raw, "run-1"), width)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("width", "width_s"), [("1m", 60), ("5m", 300)])
def test_bars_equal_the_slow_reference_on_a_faulty_feed(seed: int, width: str, width_s: int) -> None:
    frames = synthetic_frames(seed)
    bars = engine_bars(frames, width)
    assert bars.columns == list(BAR_COLUMNS)
    assert bars.height >= 3
    assert_bars_equal(bars, reference_bars(reference_ticks(frames), width_s))


def test_bars_are_keyed_sorted_inside_their_day_and_ohlc_consistent() -> None:
    bars = engine_bars(synthetic_frames(4), "1m")
    assert bars.select(pl.struct("asset_id", "bucket_start").is_unique().all()).item()
    assert bars["bucket_start"].dt.date().to_list() == bars["dt"].to_list()
    mid = bars.drop_nulls("open")
    assert ((mid["low"] <= mid["open"]) & (mid["open"] <= mid["high"]) & (mid["low"] <= mid["close"])).all()
    assert (mid["close"] <= mid["high"]).all()
    assert (bars["trade_count"] >= 0).all()
    no_trades = bars.filter(pl.col("trade_count") == 0)
    assert no_trades["trade_open"].null_count() == no_trades.height
    assert (no_trades["volume"] == 0).all()


def test_a_bar_depends_only_on_its_own_bucket() -> None:
    """Bars of any subset of buckets rebuilt from just their ticks equal the same bars built from all ticks."""
    raw, _ = parse_frames(synthetic_frames(5))
    ticks = build_ticks(raw, "run-1")
    full = build_bars(ticks, "1m")
    middle: datetime = ticks["ts"].min() + (ticks["ts"].max() - ticks["ts"].min()) / 2  # type: ignore[operator]
    cut = middle - timedelta(seconds=middle.timestamp() % 60)
    later = build_bars(ticks.filter(pl.col("ts") >= cut), "1m")
    assert later.height > 0
    assert later.equals(full.filter(pl.col("bucket_start") >= cut))


def test_mid_realized_vol_and_trade_bar_by_hand() -> None:
    t = 1_790_000_040_000  # 40 s into a minute
    frames = [
        best_bid_ask("x", t, "0.4", "0.6"),
        best_bid_ask("x", t + 1, "0.5", "0.7"),
        trade("x", t + 2, "0.6", "10"),
        trade("x", t + 3, "0.5", "30", "SELL"),
    ]
    [bar] = engine_bars([(1, t * 1000 + i, f) for i, f in enumerate(frames)], "1m").iter_rows(named=True)
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == pytest.approx((0.5, 0.6, 0.5, 0.6))
    assert bar["realized_vol"] == pytest.approx(abs(math.log(0.6 / 0.5)))
    assert (bar["trade_open"], bar["trade_close"], bar["trade_high"], bar["trade_low"]) == (0.6, 0.5, 0.6, 0.5)
    assert (bar["volume"], bar["trade_count"], bar["volume_usd"]) == pytest.approx((40.0, 2, 21.0))
    assert bar["vwap"] == pytest.approx(21.0 / 40.0)
    assert (bar["n_mid"], bar["n_ticks"]) == (2, 4)
