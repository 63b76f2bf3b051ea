"""Stale-if-error cache: fresh, then stale (servable only on error), then gone; bounded; canonical keys."""

from __future__ import annotations

import msgspec

from mca_core.ttl_cache import StaleIfErrorCache, request_digest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_fresh_then_stale_then_gone() -> None:
    clock = Clock()
    cache: StaleIfErrorCache[str] = StaleIfErrorCache(60.0, 120.0, clock=clock)
    cache.put("k", "v")
    clock.now = 60.0
    hit = cache.lookup("k")
    assert hit is not None
    assert hit.freshness == "fresh"
    assert hit.value == "v"
    clock.now = 60.1
    hit = cache.lookup("k")
    assert hit is not None
    assert hit.freshness == "stale"
    assert hit.age_s == 60.1
    clock.now = 180.0
    assert cache.lookup("k") is not None
    clock.now = 180.1
    assert cache.lookup("k") is None
    assert len(cache) == 0


def test_put_renews_and_the_least_recently_used_is_evicted() -> None:
    clock = Clock()
    cache: StaleIfErrorCache[int] = StaleIfErrorCache(1.0, 1.0, maxsize=2, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.lookup("a") is not None  # "a" is now the most recently used
    cache.put("c", 3)
    assert cache.lookup("b") is None
    assert cache.lookup("a") is not None
    assert cache.lookup("c") is not None
    clock.now = 1.5
    cache.put("a", 10)
    hit = cache.lookup("a")
    assert hit is not None
    assert hit.value == 10
    assert hit.freshness == "fresh"


def test_request_digest_is_canonical() -> None:
    a = request_digest(msgspec.json.encode({"y": [0.1, 0.2], "h": 3}))
    b = request_digest(msgspec.json.encode({"y": [0.1, 0.2], "h": 3}))
    c = request_digest(msgspec.json.encode({"y": [0.1, 0.2], "h": 4}))
    assert a == b != c
    assert len(a) == 64
