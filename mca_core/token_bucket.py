"""Token buckets per key (an identity, or a client address): O(1) per request, memory bounded.

Why not Litestar's RateLimitMiddleware: it stores every timestamp of a fixed window and answers 429 without
``Retry-After``. A bucket holds ``burst`` tokens and refills at ``rate_per_s``; :meth:`take` spends one and returns
0, or returns how many seconds until one is available (the ``Retry-After``). Beyond ``max_keys`` keys the least
recently used bucket is dropped: it has had the longest time to refill, so forgetting it loses the least.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["KeyedTokenBuckets"]


class KeyedTokenBuckets:
    def __init__(
        self, rate_per_s: float, burst: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("need rate_per_s > 0, burst >= 1 and max_keys >= 1")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated_at)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 when allowed, else the seconds to wait for the next token."""
        now = self._clock()
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate_per_s)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate_per_s

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)  # least recently used first
