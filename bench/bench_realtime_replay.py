"""Benchmark: replay market-channel frames through the capture's load path (parse, dedupe, 1m + 5m bars).

Frames come from the sandbox's own generator (``mca_sandbox.ws_stream``: Polymarket's shapes and field order, a
book dump, then new-schema two-token ``price_change``, ``best_bid_ask``, ``last_trade_price``, ``tick_size_change``)
for ``--markets`` markets, 10 ms batches, with ``--dup-rate`` of the frames replayed as a venue does. They are made
chunk by chunk (untimed) and never all held in memory. Timed on one core, in the same process:

- the floor: ``json.loads`` of every frame (untyped dicts, nothing else);
- end to end: ``mca_core.ticks.parse_frames`` of every frame (typed, validated, keyed rows), then
  ``build_ticks`` (dedupe, unique keys, order) and ``build_bars`` for 1m and 5m.

Pinned to one CPU. Prints messages/s for both, the ratio, and the peak resident memory (``ru_maxrss``).
Goal: >= 100,000 messages/s end to end.

Run: .venv/bin/python bench/bench_realtime_replay.py [--frames 5000000] [--markets 200] [--chunk 250000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import time
from collections.abc import Iterator

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, set before Polars starts its thread pool

import polars as pl  # noqa: E402

from mca_core.bars import build_bars  # noqa: E402
from mca_core.ticks import build_ticks, parse_frames  # noqa: E402
from mca_sandbox.ws_stream import MarketSpec, Stream  # noqa: E402


def frame_chunks(n_frames: int, markets: int, chunk: int, dup_rate: float, seed: int) -> Iterator[list[str]]:
    """``n_frames`` frames in lists of ``chunk``: one book dump, then batches of market events every 10 ms."""
    rnd = random.Random(seed)
    specs: dict[str, tuple[MarketSpec, bool]] = {}
    for m in range(markets):
        spec = MarketSpec(m, f"0x{rnd.getrandbits(256):064x}", str(rnd.getrandbits(250)), str(rnd.getrandbits(250)),
                          round(rnd.uniform(0.05, 0.95), 3), 0.001 if rnd.random() < 0.5 else 0.01, 0.02)  # fmt: skip
        specs[spec.yes], specs[spec.no] = (spec, True), (spec, False)
    stream = Stream(specs, seed=seed)
    tokens = list(specs)
    stream.subscribe(tokens)
    ts = 1_790_658_661_234
    out: list[str] = [stream.dump(tokens, str(ts))]
    produced = 0
    batch: list[tuple[str, tuple[str, ...]]] = []
    while produced < n_frames:
        ts += 10
        batch.clear()
        stream.events(rnd.choices(range(markets), k=markets // 4 or 1), str(ts), True, batch)
        for text, _assets in batch:
            out.append(text)
            if rnd.random() < dup_rate:
                out.append(text)
        if len(out) >= chunk:
            yield out[:chunk]
            produced += chunk
            out = out[chunk:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=5_000_000)
    p.add_argument("--markets", type=int, default=200)
    p.add_argument("--chunk", type=int, default=250_000)
    p.add_argument("--dup-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    json_s = parse_s = 0.0
    frames = 0
    raws: list[pl.DataFrame] = []
    recv_us = 1_790_658_661_234_000
    gc.collect()
    for chunk in frame_chunks(args.frames, args.markets, args.chunk, args.dup_rate, args.seed):
        chunk = chunk[: args.frames - frames]
        items = [(1, recv_us + i, text) for i, text in enumerate(chunk, frames)]
        began = time.perf_counter()
        for text in chunk:
            json.loads(text)
        json_s += time.perf_counter() - began
        began = time.perf_counter()
        raw, _ = parse_frames(items)
        parse_s += time.perf_counter() - began
        raws.append(raw.with_columns(seq=raw["seq"] + sum(r.height for r in raws)))
        frames += len(chunk)
        del items, chunk
        if frames >= args.frames:
            break
    began = time.perf_counter()
    raw = pl.concat(raws, rechunk=True)
    raws.clear()
    ticks = build_ticks(raw, "bench")
    bars_1m = build_bars(ticks, "1m")
    bars_5m = build_bars(ticks, "5m")
    tail_s = time.perf_counter() - began
    total_s = parse_s + tail_s
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"frames {frames:,}  events {raw.height:,}  ticks kept {ticks.height:,} (duplicates dropped "
          f"{raw.height - ticks.height:,})  bars 1m {bars_1m.height:,}  5m {bars_5m.height:,}")  # fmt: skip
    print(f"json.loads floor   {json_s:7.2f} s  {frames / json_s:12,.0f} msg/s")
    print(f"parse to rows      {parse_s:7.2f} s  {frames / parse_s:12,.0f} msg/s")
    print(f"dedupe + bars      {tail_s:7.2f} s")
    print(f"end to end         {total_s:7.2f} s  {frames / total_s:12,.0f} msg/s  "
          f"= {total_s / json_s:.2f}x the json.loads time  (goal >= 100,000 msg/s)")  # fmt: skip
    print(f"peak RSS           {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
