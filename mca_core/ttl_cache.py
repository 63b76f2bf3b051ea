"""A bounded TTL cache that can still serve an entry after it goes stale, when the upstream fails.

RFC 5861 ``stale-if-error``: an entry is *fresh* for ``fresh_s`` after it was stored; for ``stale_if_error_s``
more it is *stale* and may only be served when the upstream call fails (marked stale, with its age); after that
it is gone. Keys are digests of the canonical request (:func:`request_digest`), so a token, a timestamp format or
key order never splits or merges entries. The oldest-used entry is evicted beyond ``maxsize``.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = ["CacheHit", "StaleIfErrorCache", "request_digest"]

V = TypeVar("V")


def request_digest(canonical: bytes) -> str:
    """sha256 hex of a canonical encoding (e.g. ``msgspec.json.encode`` of the normalised request)."""
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class CacheHit(Generic[V]):
    value: V
    age_s: float
    freshness: Literal["fresh", "stale"]


class StaleIfErrorCache(Generic[V]):
    """``lookup`` returns fresh or stale hits (the caller decides when stale may be used); ``put`` stores."""

    def __init__(
        self,
        fresh_s: float = 60.0,
        stale_if_error_s: float = 120.0,
        maxsize: int = 4096,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fresh_s < 0 or stale_if_error_s < 0 or maxsize < 1:
            raise ValueError("need fresh_s >= 0, stale_if_error_s >= 0 and maxsize >= 1")
        self.fresh_s = fresh_s
        self.stale_if_error_s = stale_if_error_s
        self.maxsize = maxsize
        self._clock = clock
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> CacheHit[V] | None:
        """The entry with its age, or None when absent or older than ``fresh_s + stale_if_error_s``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        age = self._clock() - stored_at
        if age > self.fresh_s + self.stale_if_error_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return CacheHit(value, age, "fresh" if age <= self.fresh_s else "stale")

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (value, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
