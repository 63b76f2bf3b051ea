"""Sandbox start-up: building a 100,000-market world, against the floor of drawing its random numbers in numpy.

Also times what follows the build: the catalog (ids, texts), the first REST view with its Gamma tables, and one
rebuild of the view as a live clock does it (``clock.Views``), plus one subgraph snapshot at an earlier block.

Goal (issue 2): a universe of 100,000 markets starts in a few seconds.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np

from mca_sandbox.gamma import Gamma
from mca_sandbox.render import Venue, catalog
from mca_sandbox.subgraph import BUILDERS, SubgraphState
from mca_sandbox.world import World, WorldConfig


def main(markets: int = 100_000) -> None:
    config = WorldConfig(seed=7, markets=markets, start=date(2026, 7, 1), end=date(2026, 11, 22))
    began = time.perf_counter()
    world = World(config)
    build_s = time.perf_counter() - began
    draws = int(world.anchor_off[-1]) + 10 * markets
    began = time.perf_counter()
    np.random.default_rng(1).standard_normal(draws)
    floor_s = time.perf_counter() - began
    began = time.perf_counter()
    for m in range(0, markets, markets // 200):
        world.paths(m, 0, 2**40, 3600)
    path_ms = (time.perf_counter() - began) / 200 * 1000
    print(f"world of {markets:,} markets / {world.n_events:,} events built in {build_s:.2f} s")
    print(f"peer: {draws:,} numpy normal draws in {floor_s:.3f} s -> build/floor ratio {build_s / floor_s:.1f}x")
    print(f"one market's whole hourly history: {path_ms:.2f} ms on average")
    print(f"episodes: {len(world.episodes):,}; information shocks' jumps: {world.shocks.ts.size:,}")
    began = time.perf_counter()
    catalog(world)
    catalog_s = time.perf_counter() - began
    began = time.perf_counter()
    Gamma(Venue(world))
    view_s = time.perf_counter() - began
    began = time.perf_counter()
    Gamma(Venue(world, config.as_of_ts - 3600))
    rebuild_s = time.perf_counter() - began
    began = time.perf_counter()
    snapshot = SubgraphState(world).at(config.as_of_ts - 86_400)
    for name in BUILDERS:
        snapshot.deployment(name)
    block_s = time.perf_counter() - began
    print(f"route warm-up: catalog (ids, text draws) {catalog_s:.2f} s, first view + Gamma tables {view_s:.2f} s")
    print(f"live clock: view rebuild + Gamma tables {rebuild_s:.2f} s; subgraph at an earlier block {block_s:.2f} s")


if __name__ == "__main__":
    main()
