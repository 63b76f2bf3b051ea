"""Counter-based random draws: every draw is a hash of what it is about, so it can be made alone, in any order.

The world's minute paths (latent Z, hourly volume, open-interest wiggles) use these, so any window of any path is
computed on demand and is identical whatever window, fidelity or route asked for it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray | np.uint64 | int) -> np.ndarray:
    """splitmix64 finaliser: a counter-based hash, so each random draw is addressable on its own."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLD
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(h: np.ndarray) -> np.ndarray:
    """A uniform in (0, 1) from a hash (53 bits, never exactly 0 or 1)."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(h: np.ndarray) -> np.ndarray:
    """A standard normal from a hash."""
    return np.asarray(ndtri(uniform(h)))


def key(seed: int, stream: int, *parts: np.ndarray | int) -> np.ndarray:
    """The hash of (seed, stream, parts...): nest ``mix`` over the parts, as ``mix(mix(a) + b)``."""
    with np.errstate(over="ignore"):
        h = mix(np.uint64(seed) * np.uint64(1_000_003) + np.uint64(stream))
        for part in parts:
            h = mix(h + np.asarray(part).astype(np.uint64))
        return h


def hash_draws(seed: int, kind: int, n: int) -> np.ndarray:
    """n hashes for items 0..n-1 of one kind (per-item cosmetics of the venue)."""
    with np.errstate(over="ignore"):
        base = mix(np.uint64(seed) * np.uint64(1_000_003) + np.uint64(kind))
        return mix(base + np.arange(n, dtype=np.uint64))
