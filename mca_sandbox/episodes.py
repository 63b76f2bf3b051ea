"""Ground-truth episodes: manipulation of a market's price and volume, and information shocks of an event's truth.

Kinds (rates are expected counts per 30 days of life; every draw is seeded, separate from the base world's):

- ``pump_and_revert`` (share 0.6 of manipulation episodes, 2-6 h): the *market price* is pushed away from its belief
  by ``magnitude`` (signed, 0.03-0.15 in probability, never out of the price range): a linear push over the first
  35 % of the window, a hold to 55 %, a linear revert to 90 %, nothing in the last 10 %. Volume runs at 4-12 times
  the market's mean hourly rate over the whole window; open interest rises with the push by 20-50 % of the burst
  volume and falls back with the revert. The latent truth is untouched.
- ``wash`` (1-4 h): a volume burst of 5-15 times the mean hourly rate, made of small trades (4 times as many trades
  per USD as the market's usual size), with no price move (``magnitude`` 0) and no open-interest change.
- ``information_shock``: the event's latent Z jumps at ``start_ts`` by a N(0, s^2) amount (s = 0.6-1.4 times the
  diffusion's remaining sd at that time). The jump times and their variances are part of the model, so
  ``p_true = P(Z(T) in I | Z(t))`` uses ``Var(Z(T) - Z(t)) = sigma^2 (T - t) + sum of s^2 of the jumps still to
  come``: p_true stays an exact martingale and outcomes (decided by Z(T), jumps included) stay drawn from it. One
  episode per market of the event: ``magnitude`` = that market's jump of p_true; its market price follows after
  the market's information lag (``price_ts = start_ts + lag``), with a 1-3 h volume burst of 3 + 25 |magnitude|
  times (at most 20) the mean hourly rate and an open-interest increase of 10-30 % of the burst volume.

Every episode's extra volume accrues linearly over ``[volume_start, volume_end)`` and its extra trade count with it.
Manipulation episodes lie inside the market's life and end at least an hour before it resolves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DAY = 86_400
HOUR = 3600
MINUTE = 60
WINDOW_DAYS = 30  # rates are expected episodes per this many days
KINDS = ("pump_and_revert", "wash", "information_shock")
PUMP, WASH, SHOCK = range(3)
PUMP_SHARE = 0.6
MARKET_ID_BASE, EVENT_ID_BASE = 500_000, 90_000  # Gamma ids of market 0 and event 0 (world.market_id/event_id)


@dataclass
class Shocks:
    """Jumps of the events' latent Z, sorted by (event, time); ``off`` is the CSR offset per event."""

    event: np.ndarray
    ts: np.ndarray
    size: np.ndarray
    var: np.ndarray
    off: np.ndarray

    @classmethod
    def draw(cls, seed: int, rate: float, created: np.ndarray, resolved: np.ndarray, sigma: np.ndarray) -> Shocks:
        rng = np.random.default_rng([seed, 0x5C0])
        ne = created.size
        life = resolved - created
        eligible = life >= 6 * HOUR
        counts = np.where(eligible, rng.poisson(rate * np.maximum(life, 0) / (WINDOW_DAYS * DAY)), 0)
        event = np.repeat(np.arange(ne), counts)
        lo, hi = created[event] + HOUR, resolved[event] - 2 * HOUR
        ts = (lo + rng.random(event.size) * (hi - lo)) // MINUTE * MINUTE
        order = np.lexsort((ts, event))
        event, ts = event[order], ts[order].astype(np.int64)
        scale = rng.uniform(0.6, 1.4, event.size) * sigma[event] * np.sqrt((resolved[event] - ts) / DAY)
        size = scale * rng.standard_normal(event.size)
        off = np.concatenate([[0], np.cumsum(np.bincount(event, minlength=ne))]).astype(np.int64)
        return cls(event, ts, size, scale**2, off)

    def __post_init__(self) -> None:
        self._key = (self.event.astype(np.int64) << 32) | self.ts
        self._cum_size = np.concatenate([[0.0], np.cumsum(self.size)])
        self._cum_var = np.concatenate([[0.0], np.cumsum(self.var)])

    def _split(self, events: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Index of the first jump of each event after t (jumps at or before t come before it)."""
        return np.searchsorted(self._key, (events.astype(np.int64) << 32) | ts, side="right")

    def jumps_until(self, events: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Sum of the jumps of each event at or before t."""
        if not self.ts.size:
            return np.zeros(np.shape(ts))
        i = self._split(events, ts)
        return self._cum_size[i] - self._cum_size[self.off[events]]

    def variance_after(self, events: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Variance of the jumps of each event still to come after t."""
        if not self.ts.size:
            return np.zeros(np.shape(ts))
        i = self._split(events, ts)
        return self._cum_var[self.off[events + 1]] - self._cum_var[i]


@dataclass
class Episodes:
    """Every episode of the world, sorted by (market, start); ``off`` is the CSR offset per market.

    Times are unix seconds; ``volume``, ``oi`` in USD (``oi`` = peak change for a pump, final gain for a shock);
    ``trades`` the extra trade count; ``price_ts`` when the market price starts moving (-1 for wash).
    """

    market: np.ndarray
    event: np.ndarray
    kind: np.ndarray
    start: np.ndarray
    end: np.ndarray
    magnitude: np.ndarray
    volume: np.ndarray
    multiple: np.ndarray
    volume_start: np.ndarray
    volume_end: np.ndarray
    oi: np.ndarray
    trades: np.ndarray
    price_ts: np.ndarray
    off: np.ndarray
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.market.size)

    def rows(self, idx: np.ndarray) -> list[dict[str, Any]]:
        """Episodes as the truth lists them (times unix seconds, USD amounts, ``magnitude`` in probability)."""
        if self._rows is None:  # every row at once on first use: the table never changes
            every = np.arange(len(self))
            cols = {
                "market": self.market.tolist(),
                "event": self.event.tolist(),
                "kind": self.kind.tolist(),
                "start": self.start.tolist(),
                "end": self.end.tolist(),
                "magnitude": self.magnitude.tolist(),
                "price_ts": self.price_ts.tolist(),
                "vs": self.volume_start.tolist(),
                "ve": self.volume_end.tolist(),
                "volume": np.round(self.volume, 6).tolist(),
                "multiple": np.round(self.multiple, 3).tolist(),
                "oi": np.round(self.oi, 6).tolist(),
                "trades": np.floor(self.trades).astype(np.int64).tolist(),
            }
            self._rows = [
                {
                    "episode_id": i,
                    "market_id": str(MARKET_ID_BASE + cols["market"][i]),
                    "event_id": str(EVENT_ID_BASE + cols["event"][i]),
                    "kind": KINDS[cols["kind"][i]],
                    "start_ts": cols["start"][i],
                    "end_ts": cols["end"][i],
                    "magnitude": cols["magnitude"][i],
                    "price_move_ts": cols["price_ts"][i] if cols["price_ts"][i] >= 0 else None,
                    "volume_start_ts": cols["vs"][i],
                    "volume_end_ts": cols["ve"][i],
                    "volume_usd": cols["volume"][i],
                    "volume_multiple": cols["multiple"][i],
                    "open_interest_usd": cols["oi"][i],
                    "trades": cols["trades"][i],
                }
                for i in every.tolist()
            ]
        rows = self._rows
        return [rows[i] for i in np.asarray(idx).tolist()]

    def of_market(self, m: int) -> np.ndarray:
        return np.arange(self.off[m], self.off[m + 1])

    def effects(self, idx: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, ...]:
        """(price displacement, extra volume, extra open interest, extra trades, extra volume rate per second) of
        episodes ``idx`` at times ``ts`` (broadcast together)."""
        vs, ve = self.volume_start[idx], self.volume_end[idx]
        span = np.maximum(ve - vs, 1)
        f = np.clip((ts - vs) / span, 0.0, 1.0)
        x = (ts - self.start[idx]) / np.maximum(self.end[idx] - self.start[idx], 1)
        profile = np.clip(np.minimum(x / 0.35, (0.9 - x) / 0.35), 0.0, 1.0)
        kind = self.kind[idx]
        pump = kind == PUMP
        displacement = np.where(pump, self.magnitude[idx] * profile, 0.0)
        oi = self.oi[idx] * np.where(pump, profile, np.where(kind == SHOCK, f, 0.0))
        rate = np.where((ts >= vs) & (ts < ve), self.volume[idx] / span, 0.0)
        return displacement, self.volume[idx] * f, oi, self.trades[idx] * f, rate

    def path(self, m: int, ts: np.ndarray) -> tuple[np.ndarray, ...]:
        """``effects`` of market m's episodes summed at each time of ``ts``."""
        idx = self.of_market(m)
        if not idx.size:
            zero = np.zeros(ts.shape)
            return zero, zero, zero, zero, zero
        parts = self.effects(idx[:, None], ts[None, :])
        return tuple(p.sum(axis=0) for p in parts)

    def at(self, markets: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, ...]:
        """``effects`` summed per market of ``markets``, each at its own time ``times[i]``."""
        k = markets.size
        counts = self.off[markets + 1] - self.off[markets]
        total = int(counts.sum())
        if not total:
            zero = np.zeros(k)
            return zero, zero, zero, zero, zero
        owner = np.repeat(np.arange(k), counts)
        first = np.cumsum(counts) - counts
        idx = self.off[markets][owner] + (np.arange(total) - first[owner])
        parts = self.effects(idx, times[owner])
        return tuple(np.bincount(owner, weights=p, minlength=k) for p in parts)


def draw_manipulation(
    seed: int,
    rate: float,
    created: np.ndarray,
    resolved: np.ndarray,
    hourly: np.ndarray,
    trade_size: np.ndarray,
    tick: np.ndarray,
    base_price: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> dict[str, np.ndarray]:
    """Pump-and-revert and wash episodes per market (columns of ``Episodes`` without ``off``)."""
    rng = np.random.default_rng([seed, 0x3A1])
    n = created.size
    life = resolved - created
    counts = np.where(life >= 8 * HOUR, rng.poisson(rate * np.maximum(life, 0) / (WINDOW_DAYS * DAY)), 0)
    market = np.repeat(np.arange(n), counts)
    k = market.size
    pump = rng.random(k) < PUMP_SHARE
    length = np.where(pump, rng.uniform(2, 6, k), rng.uniform(1, 4, k)) * HOUR // MINUTE * MINUTE
    lo = created[market] + 30 * MINUTE
    hi = resolved[market] - length - HOUR
    start = (lo + rng.random(k) * np.maximum(hi - lo, 0)) // MINUTE * MINUTE
    multiple = np.where(pump, rng.uniform(4, 12, k), rng.uniform(5, 15, k))
    up = rng.random(k) < 0.6
    size = rng.uniform(0.03, 0.15, k)
    oi_share = rng.uniform(0.2, 0.5, k)
    keep = hi > lo
    market, pump, length, start = market[keep], pump[keep], length[keep], start[keep].astype(np.int64)
    multiple, up, size, oi_share = multiple[keep], up[keep], size[keep], oi_share[keep]
    end = start + length.astype(np.int64)
    # the pump's direction has room to move: away from the bound the price is near, never out of the range
    p0 = base_price(market, start + (0.45 * length).astype(np.int64))
    t = tick[market]
    room_up, room_down = 1 - t - p0, p0 - t
    up = np.where(up, room_up >= 0.04, room_down < 0.04)
    room = np.where(up, room_up, room_down)
    magnitude = np.where(pump, np.where(up, 1.0, -1.0) * np.minimum(size, 0.8 * room), 0.0)
    volume = multiple * hourly[market] * length / HOUR
    return {
        "market": market,
        "kind": np.where(pump, PUMP, WASH),
        "start": start,
        "end": end,
        "magnitude": np.round(magnitude, 6),
        "volume": volume,
        "multiple": multiple,
        "volume_start": start,
        "volume_end": end,
        "oi": np.where(pump, oi_share * volume, 0.0),
        "trades": volume / np.where(pump, trade_size[market], 0.25 * trade_size[market]),
        "price_ts": np.where(pump, start, -1),
    }


def shock_episodes(
    seed: int,
    shocks: Shocks,
    event_first: np.ndarray,
    event_size: np.ndarray,
    resolved: np.ndarray,
    lag_s: np.ndarray,
    hourly: np.ndarray,
    trade_size: np.ndarray,
    jump_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> dict[str, np.ndarray]:
    """One episode per (shock, market of its event); ``jump_of(markets, shock index)`` gives p_true's jump."""
    rng = np.random.default_rng([seed, 0x5C1])
    per_shock = event_size[shocks.event]
    shock = np.repeat(np.arange(shocks.ts.size), per_shock)
    first = np.concatenate([[0], np.cumsum(per_shock)[:-1]]).astype(np.int64)
    market = event_first[shocks.event][shock] + (np.arange(shock.size) - first[shock])
    k = market.size
    tau = shocks.ts[shock]
    r = resolved[market]
    volume_start = np.minimum(tau + lag_s[market], r - MINUTE)
    volume_end = np.minimum(volume_start + (rng.uniform(1, 3, k) * HOUR // MINUTE * MINUTE).astype(np.int64), r)
    volume_end = np.maximum(volume_end, volume_start + MINUTE)
    magnitude = np.round(jump_of(market, shock), 6)
    multiple = np.minimum(3 + 25 * np.abs(magnitude), 20)
    volume = multiple * hourly[market] * (volume_end - volume_start) / HOUR
    return {
        "market": market,
        "kind": np.full(k, SHOCK),
        "start": tau,
        "end": volume_end,
        "magnitude": magnitude,
        "volume": volume,
        "multiple": multiple,
        "volume_start": volume_start,
        "volume_end": volume_end,
        "oi": rng.uniform(0.1, 0.3, k) * volume,
        "trades": volume / (1.5 * trade_size[market]),
        "price_ts": volume_start,
    }


def combine(parts: list[dict[str, np.ndarray]], market_event: np.ndarray, n_markets: int) -> Episodes:
    """All episodes in one table sorted by (market, start, kind)."""
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((cols["kind"], cols["start"], cols["market"]))
    cols = {name: values[order] for name, values in cols.items()}
    for name in ("market", "kind", "start", "end", "volume_start", "volume_end", "price_ts"):
        cols[name] = cols[name].astype(np.int64)
    off = np.concatenate([[0], np.cumsum(np.bincount(cols["market"], minlength=n_markets))]).astype(np.int64)
    return Episodes(event=market_event[cols["market"]], off=off, **cols)
