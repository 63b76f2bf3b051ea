"""Background traded volume and open interest of every market, as exact functions of time.

Each market trades a background volume ``total`` (USD) over its life ``[created, resolved)``. The life is cut into
UTC days; each day gets a share drawn at start-up (its in-life hours weighted by the intraday shape ``HOUR_SHAPE``,
a trend rising toward resolution, and log-normal day noise), so the cumulative volume at every UTC midnight is
known. Inside a day the volume is split over hours by the shape times log-normal hourly noise (counter-based draws
per (market, day, hour)) and spread **linearly inside each hour**: the cumulative volume V(t) is exact at the
second, piecewise linear within hours, and any window of it is identical whatever asked for it.

Open interest follows the positions the volume leaves open: ``OI(t) = kappa * V(t) * exp(0.3 X(t) - 0.045)``, where
X is a smooth wiggle (standard normals at every UTC midnight, linear in between), so open interest can fall during
a day while it grows with the market over its life. Episode bursts (``episodes.py``) are added on top by the world.
"""

from __future__ import annotations

import numpy as np

from mca_sandbox.draws import key, mix, normal

DAY = 86_400
HOUR = 3600
_HOUR_STREAM = 0x401
_OI_STREAM = 0x402

#: Relative trading activity per UTC hour (quiet in the European night, busiest in the US afternoon), mean 1.
_NIGHT = [0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.4, 0.45, 0.55, 0.7, 0.85]  # 00-11 UTC
_DAY = [1.0, 1.2, 1.4, 1.55, 1.6, 1.6, 1.55, 1.5, 1.4, 1.3, 1.15, 1.0]  # 12-23 UTC
HOUR_SHAPE = np.array([*_NIGHT, *_DAY])
HOUR_SHAPE = HOUR_SHAPE / HOUR_SHAPE.mean()
_CUM_SHAPE = np.concatenate([[0.0], np.cumsum(HOUR_SHAPE)])
HOUR_NOISE = 0.5  # log-sd of the hourly noise
DAY_NOISE = 0.4  # log-sd of the daily noise
OI_WIGGLE = 0.3
CHUNK = 4096  # markets per chunk of the start-up computation


def _shape_hours(t: np.ndarray) -> np.ndarray:
    """Integral of the intraday shape from the epoch to t, in shape-weighted hours."""
    hod = (t % DAY) // HOUR
    return (t // DAY) * 24.0 + _CUM_SHAPE[hod] + HOUR_SHAPE[hod] * ((t % HOUR) / HOUR)


class VolumePaths:
    """Cumulative background volume and open interest per market; per-day anchors in CSR arrays."""

    def __init__(
        self,
        seed: int,
        created: np.ndarray,
        resolved: np.ndarray,
        total: np.ndarray,
        kappa: np.ndarray,
    ) -> None:
        self.seed = seed
        self.created = created.astype(np.int64)
        self.resolved = resolved.astype(np.int64)
        self.total = total.astype(np.float64)
        self.kappa = kappa.astype(np.float64)
        n = created.size
        self.day0 = self.created // DAY
        counts = (self.resolved - 1) // DAY - self.day0 + 1
        self.off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        noise = np.random.default_rng([seed, 0x400]).standard_normal(int(self.off[-1]))
        self.daily = np.empty(noise.size)
        self.before = np.empty(noise.size)
        for first in range(0, n, CHUNK):  # chunks keep the temporaries small (and in cache)
            self._days(first, min(n, first + CHUNK), counts, noise)

    def _days(self, a: int, b: int, counts: np.ndarray, noise: np.ndarray) -> None:
        """Daily volumes of markets [a, b) and the exact cumulative volume at each day's start."""
        r0, r1 = int(self.off[a]), int(self.off[b])
        owner = np.repeat(np.arange(a, b), counts[a:b])
        pos = np.arange(r0, r1) - self.off[owner]
        c, r = self.created[owner], self.resolved[owner]
        start = (self.day0[owner] + pos) * DAY
        lo, hi = np.maximum(start, c), np.minimum(start + DAY, r)
        in_life = np.full(owner.size, 24.0)  # shape-weighted hours of each day inside the life (24 on whole days)
        partial = np.flatnonzero((lo != start) | (hi != start + DAY))
        in_life[partial] = _shape_hours(hi[partial]) - _shape_hours(lo[partial])
        trend = 0.5 + ((lo + hi) / 2 - c) / (r - c)
        weight = in_life * trend * np.exp(DAY_NOISE * noise[r0:r1] - DAY_NOISE**2 / 2)
        local = owner - a
        daily = weight / np.add.reduceat(weight, self.off[a:b] - r0)[local] * self.total[owner]
        # per market, sequential sums in a padded matrix: exact, no cross-market rounding
        shifted = np.zeros((b - a, int(counts[a:b].max()) + 1))
        shifted[local, pos + 1] = daily
        self.daily[r0:r1] = daily
        self.before[r0:r1] = np.cumsum(shifted, axis=1)[local, pos]

    def background(self, markets: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cumulative volume in USD, volume rate in USD per second) at each (market, t) pair."""
        m = np.asarray(markets, dtype=np.int64)
        t = np.asarray(ts, dtype=np.int64)
        m, t = np.broadcast_arrays(m, t)
        c, r = self.created[m], self.resolved[m]
        volume = np.where(t >= r, self.total[m], 0.0)
        rate = np.zeros(t.shape)
        inside = (t > c) & (t < r)
        if not inside.any():
            return volume, rate
        mi, ti, ci, ri = m[inside], t[inside], c[inside], r[inside]
        day = ti // DAY
        row = self.off[mi] + day - self.day0[mi]
        hour_key = key(self.seed, _HOUR_STREAM, mi, day)
        done = np.zeros(ti.size)
        whole = np.zeros(ti.size)
        current = np.zeros(ti.size)
        for h in range(24):
            a = day * DAY + h * HOUR
            lo = np.maximum(a, ci)
            span = np.maximum(np.minimum(a + HOUR, ri) - lo, 0)
            w = HOUR_SHAPE[h] * np.exp(HOUR_NOISE * normal(mix(hour_key + np.uint64(h))) - HOUR_NOISE**2 / 2)
            whole += w * span
            done += w * np.clip(ti - lo, 0, span)
            current = np.where((ti >= a) & (ti < a + HOUR), w, current)
        volume[inside] = self.before[row] + self.daily[row] * done / whole
        rate[inside] = self.daily[row] * current / whole
        return volume, rate

    def wiggle(self, markets: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """The open-interest multiplier ``exp(0.3 X(t) - 0.045)`` at each (market, t) pair."""
        m = np.asarray(markets, dtype=np.int64)
        t = np.asarray(ts, dtype=np.int64)
        day = t // DAY
        frac = (t - day * DAY) / DAY
        a = normal(key(self.seed, _OI_STREAM, m, day))
        b = normal(key(self.seed, _OI_STREAM, m, day + 1))
        x = (1.0 - frac) * a + frac * b
        return np.exp(OI_WIGGLE * x - OI_WIGGLE**2 / 2)
