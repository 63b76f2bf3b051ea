"""Benchmark: mca_core.wsparse.parse_ws_frame vs bare json.loads on market-channel frames.

Builds ~200k realistic frames (initial-dump style book arrays, new-schema price_change with two
complementary entries, last_trade_price, best_bid_ask; field order and string-typed numbers as
Polymarket sends them), then times, in the same process, ``json.loads`` of every frame (the
floor: untyped, unvalidated dicts) against ``parse_ws_frame`` of every frame (typed, validated,
timestamped records). Prints messages/s for both and the ratio parse/json (goal <= 2.0).

Run: .venv/bin/python bench/bench_ws_parse.py [--frames N] [--repeats R] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mca_core.wsparse import parse_ws_frame

MIX = (("book", 0.05), ("price_change", 0.60), ("last_trade_price", 0.15), ("best_bid_ask", 0.20))


def _token(rng: random.Random) -> str:
    return str(rng.getrandbits(252) | (1 << 251))  # 76-ish digit uint256 decimal


def _hex(rng: random.Random, n_bytes: int) -> str:
    return rng.getrandbits(n_bytes * 8).to_bytes(n_bytes, "big").hex()


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def _book(rng: random.Random, market: str, asset: str, ts: int, mid: float) -> dict[str, object]:
    n = rng.randint(10, 40)
    bids = [{"price": _fmt(max(0.001, mid - 0.001 * (n - i))), "size": f"{rng.uniform(5, 5e4):.2f}"} for i in range(n)]
    asks = [{"price": _fmt(min(0.999, mid + 0.001 * (n - i))), "size": f"{rng.uniform(5, 5e4):.2f}"} for i in range(n)]
    return {
        "market": market,
        "asset_id": asset,
        "timestamp": str(ts),
        "hash": _hex(rng, 20),
        "bids": bids,
        "asks": asks,
        "tick_size": "0.001",
        "event_type": "book",
        "last_trade_price": _fmt(mid),
    }


def build_frames(n_frames: int, seed: int = 7) -> list[str]:
    """Deterministic list of JSON text frames with the MIX proportions."""
    rng = random.Random(seed)
    markets = [("0x" + _hex(rng, 32), _token(rng), _token(rng)) for _ in range(100)]
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    ts = 1_790_658_661_234
    frames: list[str] = []
    for kind in rng.choices(kinds, weights, k=n_frames):
        market, yes, no = rng.choice(markets)
        ts += rng.randint(1, 50)
        p = round(rng.uniform(0.02, 0.98), 3)
        if kind == "book":
            frame: object = [_book(rng, market, yes, ts, p), _book(rng, market, no, ts, round(1 - p, 3))]
        elif kind == "price_change":
            side = rng.choice(("BUY", "SELL"))
            other = "SELL" if side == "BUY" else "BUY"
            size = f"{rng.uniform(0, 5e3):.2f}"
            frame = {
                "market": market,
                "price_changes": [
                    {
                        "asset_id": yes,
                        "price": _fmt(p),
                        "size": size,
                        "side": side,
                        "hash": _hex(rng, 20),
                        "best_bid": _fmt(p - 0.01),
                        "best_ask": _fmt(p + 0.01),
                    },
                    {
                        "asset_id": no,
                        "price": _fmt(1 - p),
                        "size": size,
                        "side": other,
                        "hash": _hex(rng, 20),
                        "best_bid": _fmt(1 - p - 0.01),
                        "best_ask": _fmt(1 - p + 0.01),
                    },
                ],
                "timestamp": str(ts),
                "event_type": "price_change",
            }
        elif kind == "last_trade_price":
            frame = {
                "asset_id": yes,
                "event_type": "last_trade_price",
                "fee_rate_bps": "0",
                "market": market,
                "price": _fmt(p),
                "side": rng.choice(("BUY", "SELL")),
                "size": f"{rng.uniform(1, 500):.2f}",
                "timestamp": str(ts),
                "transaction_hash": "0x" + _hex(rng, 32),
            }
        else:
            frame = {
                "event_type": "best_bid_ask",
                "market": market,
                "asset_id": yes,
                "best_bid": _fmt(p - 0.01),
                "best_ask": _fmt(p + 0.01),
                "spread": "0.02",
                "timestamp": str(ts),
            }
        frames.append(json.dumps(frame, separators=(",", ":")))
    return frames


def _time(fn: Callable[[str], object], frames: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        for frame in frames:
            fn(frame)
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    frames = build_frames(args.frames, args.seed)
    recv_ts = datetime.now(UTC)
    n_events = sum(len(parse_ws_frame(f, recv_ts).events) for f in frames)
    assert all(not parse_ws_frame(f, recv_ts).rejections for f in frames[:1000])
    total_mb = sum(len(f) for f in frames) / 1e6

    t_json = _time(json.loads, frames, args.repeats)
    t_parse = _time(lambda f: parse_ws_frame(f, recv_ts), frames, args.repeats)

    print(f"frames: {len(frames):,} ({total_mb:.1f} MB), records out: {n_events:,}, best of {args.repeats}")
    print(f"json.loads      : {t_json:7.3f} s  {len(frames) / t_json:12,.0f} msg/s")
    print(f"parse_ws_frame  : {t_parse:7.3f} s  {len(frames) / t_parse:12,.0f} msg/s")
    print(f"ratio parse/json: {t_parse / t_json:.2f}  (goal <= 2.0)")

    by_kind: dict[str, list[str]] = {}
    for frame in frames:
        decoded = json.loads(frame)
        kind = (decoded[0] if isinstance(decoded, list) else decoded)["event_type"]
        by_kind.setdefault(kind, []).append(frame)
    print("per kind (us/frame json.loads -> parse_ws_frame, ratio):")
    for kind, subset in sorted(by_kind.items()):
        kj = _time(json.loads, subset, args.repeats) / len(subset) * 1e6
        kp = _time(lambda f: parse_ws_frame(f, recv_ts), subset, args.repeats) / len(subset) * 1e6
        print(f"  {kind:17s} n={len(subset):7,}  {kj:7.2f} -> {kp:7.2f}  ratio {kp / kj:.2f}")


if __name__ == "__main__":
    main()
