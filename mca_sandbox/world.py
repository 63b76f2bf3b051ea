"""A seeded universe of prediction markets with known ground truth.

Every event carries one latent Brownian motion Z (Z = 0 at creation, variance ``sigma**2`` per day). Its markets
partition the real line into intervals; market i resolves YES when ``Z(T) + c`` falls in its interval. The true
probability ``p_i(t) = P(Z(T) + c in I_i | Z(t))`` is therefore an exact martingale that ends at the outcome: the
outcome is drawn from the true probability, and a negRisk event has exactly one winner.

The market price follows the truth through an information lag (a martingale seen late is still calibrated) and a
per-category recalibration map: ``logit(p_true) = alpha + beta * logit(p_market)``. So a logistic fit of outcomes
on ``logit(price)`` recovers ``(alpha, beta)``; ``beta > 1`` means prices are too timid, ``beta < 1`` too extreme.

Z is drawn at every UTC midnight inside an event's life (vectorised at start-up) and filled in minute by minute
with Brownian bridges seeded per (event, day), so any window of the minute path is computed on demand in
microseconds and is identical whatever window or fidelity asked for it. The same seed gives the same world.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

DAY = 86_400
MINUTE = 60
BLOCK_MINUTES = 1024  # Z is pinned every 1024 minutes and refined dyadically inside
BLOCK_LEVELS = 10
BLOCK = BLOCK_MINUTES * MINUTE

CATEGORIES = ("politics", "crypto", "sports", "economics", "culture", "science")

#: Default recalibration map per category, (alpha, beta): logit(p_true) = alpha + beta * logit(p_market).
DEFAULT_DISTORTION: dict[str, tuple[float, float]] = {
    "politics": (0.0, 1.25),  # prices compressed toward 50% (under-confident), as published for politics
    "crypto": (0.0, 1.0),
    "sports": (-0.15, 0.85),  # favourite-longshot bias: longshots overpriced
    "economics": (0.0, 1.0),
    "culture": (0.1, 0.9),
    "science": (0.0, 1.0),
}

#: Label codes in the ground truth.
RESOLVED_TRUE, RESOLVED_FALSE, VOID_5050, VOID_ZERO_ZERO, UNRESOLVED, LIVE = range(6)
LABEL_NAMES = {
    RESOLVED_TRUE: "RESOLVED_TRUE",
    RESOLVED_FALSE: "RESOLVED_FALSE",
    VOID_5050: "VOID",
    VOID_ZERO_ZERO: "VOID",
    UNRESOLVED: "UNRESOLVED",
    LIVE: "LIVE",
}


@dataclass(frozen=True)
class WorldConfig:
    """What defines a world: the same config always builds the same world."""

    seed: int = 7
    markets: int = 2000
    start: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=120))
    end: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: Instant the venue is observed at (default: end of ``end``). Markets resolving later are live.
    as_of: datetime | None = None
    distortion: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_DISTORTION))
    neg_risk_share: float = 0.25  # share of markets that sit in multi-market negRisk events
    void_share: float = 0.03
    unresolved_share: float = 0.04
    zero_zero_share: float = 0.02
    slug_change_share: float = 0.03
    max_lag_minutes: int = 180  # information lag of the market behind the truth

    @property
    def as_of_ts(self) -> int:
        moment = self.as_of or datetime.combine(self.end, datetime.min.time(), UTC) + timedelta(days=1)
        return int(moment.timestamp())

    @property
    def start_ts(self) -> int:
        return int(datetime.combine(self.start, datetime.min.time(), UTC).timestamp())

    @property
    def end_ts(self) -> int:
        return int(datetime.combine(self.end, datetime.min.time(), UTC).timestamp()) + DAY


def _hex_id(seed: int, kind: str, index: int, nbytes: int = 32) -> str:
    return "0x" + hashlib.sha256(f"{seed}:{kind}:{index}".encode()).hexdigest()[: nbytes * 2]


def _token_id(seed: int, index: int, side: int) -> str:
    """A uint256 decimal string of 76-78 digits, like Polymarket's CLOB token ids."""
    digest = hashlib.sha256(f"{seed}:token:{index}:{side}".encode()).digest()
    value = int.from_bytes(digest, "big") | (1 << 252)
    return str(value)


class World:
    """Arrays describing every market and event, plus on-demand minute paths.

    Per-market arrays are indexed by market index ``m`` (0..n-1, ordered by creation time, which is also the
    order of their Gamma ids); per-event arrays by event index ``e``.
    """

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        cfg = config
        rng = np.random.default_rng([cfg.seed, 0])
        n = cfg.markets
        window = cfg.end_ts - cfg.start_ts

        # --- events: sizes (1 for plain markets, 3..8 for negRisk groups) -------------------------------------
        sizes: list[int] = []
        remaining = n
        draws = rng.random(n)
        group_sizes = rng.integers(3, 9, n)
        k = 0
        while remaining > 0:
            size = int(group_sizes[k]) if draws[k] < cfg.neg_risk_share / 4 else 1
            size = min(size, remaining)
            sizes.append(size)
            remaining -= size
            k += 1
        n_events = len(sizes)
        self.event_size = np.asarray(sizes, dtype=np.int64)
        self.event_first = np.concatenate([[0], np.cumsum(self.event_size)[:-1]])
        self.market_event = np.repeat(np.arange(n_events), self.event_size)
        self.event_neg_risk = self.event_size > 1

        # --- event timing: created within [start - 60d, end], life 6h..120d (log-uniform) ----------------------
        created = cfg.start_ts - 60 * DAY + rng.random(n_events) * (window + 60 * DAY)
        life = np.exp(rng.uniform(np.log(6 * 3600), np.log(120 * DAY), n_events))
        self.event_created = np.sort(created).astype(np.int64)  # ids follow creation order
        self.event_end = (self.event_created + life).astype(np.int64)  # scheduled endDate
        # actual resolution: usually at or a little before endDate (early resolution of some questions)
        early = np.where(rng.random(n_events) < 0.3, rng.random(n_events) * 0.3, 0.0)
        self.event_resolved = (self.event_end - early * life).astype(np.int64)
        self.event_sigma = np.exp(rng.normal(np.log(0.35), 0.4, n_events))  # latent vol per sqrt(day)
        self.event_category = rng.integers(0, len(CATEGORIES), n_events)
        life_days = (self.event_resolved - self.event_created) / DAY
        total_sd = self.event_sigma * np.sqrt(life_days)
        # c sets the prior: P(YES) at creation for a single market = Phi(c / total_sd)
        prior = rng.beta(0.7, 1.1, n_events)
        self.event_c = total_sd * _probit(np.clip(prior, 0.02, 0.98))

        # --- negRisk intervals: cut the line into `size` intervals with Dirichlet prior masses ----------------
        self.market_lo = np.full(n, 0.0)
        self.market_hi = np.full(n, np.inf)
        for e in np.flatnonzero(self.event_neg_risk):
            size = int(self.event_size[e])
            masses = rng.dirichlet(np.full(size, 0.8))
            cuts = np.concatenate([[0.0], np.cumsum(masses)])
            bounds = total_sd[e] * _probit(np.clip(cuts, 1e-12, 1 - 1e-12)) - self.event_c[e]
            bounds[0], bounds[-1] = -np.inf, np.inf
            first = int(self.event_first[e])
            self.market_lo[first : first + size] = bounds[:-1]
            self.market_hi[first : first + size] = bounds[1:]
        # single markets: YES iff Z(T) + c > 0  <=>  Z(T) in (-c, inf)
        single = ~self.event_neg_risk[self.market_event]
        self.market_lo[single] = -self.event_c[self.market_event[single]]
        self.market_hi[single] = np.inf

        # --- block anchors of Z (CSR: anchors of event e live in [anchor_off[e], anchor_off[e+1])) -----------
        # Z is a Brownian motion on the whole timeline, pinned at every BLOCK boundary and refined dyadically
        # inside a block, so Z at any minute is computed alone (see `latent_z`).
        self.event_created = (self.event_created // MINUTE) * MINUTE
        self.event_resolved = np.maximum((self.event_resolved // MINUTE) * MINUTE, self.event_created + 3600)
        self.event_end = np.maximum(self.event_end, self.event_resolved)
        b0 = self.event_created // BLOCK
        b1 = self.event_resolved // BLOCK + 1
        counts = b1 - b0 + 1
        self.anchor_block0 = b0
        self.anchor_off = np.concatenate([[0], np.cumsum(counts)])
        total = int(self.anchor_off[-1])
        ev_of_anchor = np.repeat(np.arange(n_events), counts)
        pos = np.arange(total) - self.anchor_off[ev_of_anchor]
        steps = rng.standard_normal(total) * self.event_sigma[ev_of_anchor] * np.sqrt(BLOCK / DAY)
        steps[pos == 0] = 0.0
        cums = np.cumsum(steps)
        self.anchor_z = cums - cums[self.anchor_off[ev_of_anchor]]
        events = np.arange(n_events)
        z0 = self.latent_z(events, self.event_created)
        z_final = self.latent_z(events, self.event_resolved) - z0
        self.event_z0 = z0

        # --- outcomes (the truth) and labels ------------------------------------------------------------------
        zt = z_final[self.market_event]
        self.market_outcome = ((zt >= self.market_lo) & (zt < self.market_hi)).astype(np.int8)
        resolved_before = self.event_resolved[self.market_event] <= cfg.as_of_ts
        label = np.where(self.market_outcome == 1, RESOLVED_TRUE, RESOLVED_FALSE)
        fate = rng.random(n_events)[self.market_event]  # whole events share a fate
        void = fate < cfg.void_share
        unresolved = (fate >= cfg.void_share) & (fate < cfg.void_share + cfg.unresolved_share)
        zero = (fate >= cfg.void_share + cfg.unresolved_share) & (
            fate < cfg.void_share + cfg.unresolved_share + cfg.zero_zero_share
        )
        label = np.where(void, VOID_5050, label)
        label = np.where(unresolved, UNRESOLVED, label)
        label = np.where(zero, VOID_ZERO_ZERO, label)
        self.market_label = np.where(resolved_before, label, LIVE).astype(np.int8)

        # --- market attributes -------------------------------------------------------------------------------
        self.market_category = self.event_category[self.market_event]
        self.market_volume = np.round(np.exp(rng.normal(np.log(20_000), 1.8, n)), 6)
        self.market_liquidity = np.round(self.market_volume * rng.uniform(0.02, 0.3, n), 6)
        self.market_open_interest = np.round(self.market_volume * rng.uniform(0.05, 0.5, n), 6)
        self.market_tick = np.where(rng.random(n) < 0.7, 0.001, 0.01)
        self.market_lag_min = rng.integers(0, cfg.max_lag_minutes + 1, n)
        self.market_history_offset = rng.integers(0, 60, n)  # history `t` is not aligned on the bucket
        self.market_has_category = rng.random(n) < 0.5  # older-style markets carry `category`
        slug_change = rng.random(n) < cfg.slug_change_share
        created_m = self.event_created[self.market_event]
        end_m = self.event_resolved[self.market_event]
        change_at = created_m + rng.random(n) * (end_m - created_m)
        self.market_slug_change_ts = np.where(slug_change, change_at.astype(np.int64), -1)
        self.trades_per_day = np.maximum(1, (self.market_volume / 500).astype(np.int64))

        # category distortion arrays (alpha, beta) per market
        alpha = np.array([cfg.distortion.get(c, (0.0, 1.0))[0] for c in CATEGORIES])
        beta = np.array([cfg.distortion.get(c, (0.0, 1.0))[1] for c in CATEGORIES])
        self.market_alpha = alpha[self.market_category]
        self.market_beta = beta[self.market_category]

        self.n_markets = n
        self.n_events = n_events
        self._snapshot = self._price_snapshot()

    # --- identifiers -----------------------------------------------------------------------------------------
    def market_id(self, m: int) -> str:
        return str(500_000 + m)

    def market_index(self, market_id: str) -> int | None:
        if not market_id.isdigit():
            return None
        m = int(market_id) - 500_000
        return m if 0 <= m < self.n_markets else None

    def event_id(self, e: int) -> str:
        return str(90_000 + e)

    def event_index(self, event_id: str) -> int | None:
        if not event_id.isdigit():
            return None
        e = int(event_id) - 90_000
        return e if 0 <= e < self.n_events else None

    @lru_cache(maxsize=200_000)  # noqa: B019 - the world lives as long as the process
    def condition_id(self, m: int) -> str:
        return _hex_id(self.config.seed, "condition", m)

    @lru_cache(maxsize=200_000)  # noqa: B019
    def token_ids(self, m: int) -> tuple[str, str]:
        return _token_id(self.config.seed, m, 0), _token_id(self.config.seed, m, 1)

    def question_id(self, m: int) -> str:
        return _hex_id(self.config.seed, "question", m)

    def neg_risk_market_id(self, e: int) -> str:
        return _hex_id(self.config.seed, "negrisk", e)

    def slug(self, m: int, at_ts: int | None = None) -> str:
        """The slug as seen at ``at_ts`` (default: as_of); a few markets are renamed once in their life."""
        at = self.config.as_of_ts if at_ts is None else at_ts
        base = f"{CATEGORIES[self.market_category[m]]}-question-{self.market_id(m)}"
        change = self.market_slug_change_ts[m]
        return f"{base}-v2" if change >= 0 and at >= change else base

    # --- paths -----------------------------------------------------------------------------------------------
    def latent_z(self, events: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Z of each event at each (minute-aligned) time, vectorised; times are clipped to the event's blocks."""
        events = np.asarray(events, dtype=np.int64)
        ts = np.asarray(ts, dtype=np.int64)
        lo_t = self.anchor_block0[events] * BLOCK
        hi_t = (self.anchor_block0[events] + (self.anchor_off[events + 1] - self.anchor_off[events]) - 1) * BLOCK
        t = np.clip(ts, lo_t, hi_t - MINUTE)
        block = t // BLOCK
        idx = self.anchor_off[events] + (block - self.anchor_block0[events])
        left = self.anchor_z[idx].astype(float)
        right = self.anchor_z[idx + 1].astype(float)
        k = (t - block * BLOCK) // MINUTE
        lo = np.zeros_like(k)
        hi = np.full_like(k, BLOCK_MINUTES)
        var_minute = self.event_sigma[events] ** 2 / (DAY / MINUTE)
        key = _mix(_mix(_mix(np.uint64(self.config.seed)) + events.astype(np.uint64)) + block.astype(np.uint64))
        for level in range(BLOCK_LEVELS):
            mid = (lo + hi) // 2
            u = _uniform(_mix(key + (np.uint64(level) << np.uint64(16)) + lo.astype(np.uint64)))
            z_mid = 0.5 * (left + right) + np.sqrt(var_minute * (hi - lo) / 4.0) * ndtri(u)
            go_right = k >= mid
            lo = np.where(go_right, mid, lo)
            left = np.where(go_right, z_mid, left)
            hi = np.where(go_right, hi, mid)
            right = np.where(go_right, right, z_mid)
        return left

    def true_probability_at(self, m: int, ts: np.ndarray) -> np.ndarray:
        """p_true of market m at minute-aligned times (0/1 at and after resolution)."""
        e = int(self.market_event[m])
        t = np.minimum(np.asarray(ts, dtype=np.int64), self.event_resolved[e])
        t = np.maximum(t, self.event_created[e])
        z = self.latent_z(np.full(t.size, e), t) - self.event_z0[e]
        return self.true_probability(m, t, z)

    def paths(self, m: int, t0: int, t1: int, step: int = MINUTE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, true probability, market YES mid price) every ``step`` seconds over [t0, t1).

        Timestamps are clipped to the market's life [created, resolved]; the grid is aligned on ``step``.
        """
        e = int(self.market_event[m])
        start = max(t0, int(self.event_created[e]))
        stop = min(t1, int(self.event_resolved[e]) + 1)
        step = max(MINUTE, (step // MINUTE) * MINUTE)
        first = -(-start // step) * step
        ts = np.arange(first, stop, step, dtype=np.int64)
        if ts.size == 0:
            return ts, np.empty(0), np.empty(0)
        p_true = self.true_probability_at(m, ts)
        belief = self.true_probability_at(m, ts - int(self.market_lag_min[m]) * MINUTE)
        return ts, p_true, self.market_price_from_belief(m, belief)

    def true_probability(self, m: int, ts: np.ndarray, z: np.ndarray) -> np.ndarray:
        """p_true(t) = P(Z(T) in [lo, hi) | Z(t)); 0/1 at and after resolution."""
        e = int(self.market_event[m])
        remaining = np.maximum(self.event_resolved[e] - ts, 0) / DAY
        sd = self.event_sigma[e] * np.sqrt(remaining)
        lo, hi = self.market_lo[m], self.market_hi[m]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = ndtr((hi - z) / sd) - ndtr((lo - z) / sd)
        done = sd <= 0
        p[done] = ((z[done] >= lo) & (z[done] < hi)).astype(float)
        return np.clip(p, 0.0, 1.0)

    def market_price_from_belief(self, m: int, belief: np.ndarray) -> np.ndarray:
        """Invert the recalibration map and round to the market's tick, inside [tick, 1 - tick]."""
        return _price_vec(belief, self.market_alpha[m], self.market_beta[m], self.market_tick[m])

    def spread(self, m: int) -> float:
        """Bid-ask spread widening as liquidity falls, in ticks."""
        tick = float(self.market_tick[m])
        raw = 0.002 + 0.6 / np.sqrt(max(float(self.market_liquidity[m]), 1.0))
        return float(np.clip(np.round(raw / tick) * tick, tick, 0.2))

    # --- state at as_of ----------------------------------------------------------------------------------------
    def _price_snapshot(self) -> dict[str, np.ndarray]:
        """Last YES price at as_of (or just before resolution) and a day earlier, for every market at once."""
        markets = np.arange(self.n_markets)
        e = self.market_event
        t_end = np.minimum(self.event_resolved[e] - MINUTE, (self.config.as_of_ts // MINUTE) * MINUTE)
        t_end = np.maximum(t_end, self.event_created[e])
        lag = self.market_lag_min * MINUTE
        out: dict[str, np.ndarray] = {}
        for name, at in (("last", t_end), ("day_ago", np.maximum(t_end - DAY, self.event_created[e]))):
            seen = np.maximum(at - lag, self.event_created[e])
            z = self.latent_z(e, seen) - self.event_z0[e]
            sd = self.event_sigma[e] * np.sqrt(np.maximum(self.event_resolved[e] - seen, 0) / DAY)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = ndtr((self.market_hi - z) / sd) - ndtr((self.market_lo - z) / sd)
            out[name] = _price_vec(p, self.market_alpha, self.market_beta, self.market_tick[markets])
        return out

    def last_price(self, m: int) -> float:
        return float(self._snapshot["last"][m])

    def day_change(self, m: int) -> float:
        return float(self._snapshot["last"][m] - self._snapshot["day_ago"][m])

    # --- ground truth ------------------------------------------------------------------------------------------
    def truth(self, m: int) -> dict[str, object]:
        """What a perfect platform would report for market m."""
        e = int(self.market_event[m])
        yes, no = self.token_ids(m)
        label = int(self.market_label[m])
        alpha, beta = float(self.market_alpha[m]), float(self.market_beta[m])
        return {
            "market_id": self.market_id(m),
            "event_id": self.event_id(e),
            "condition_id": self.condition_id(m),
            "yes_token_id": yes,
            "no_token_id": no,
            "category": CATEGORIES[int(self.market_category[m])],
            "neg_risk": bool(self.event_neg_risk[e]),
            "created_ts": int(self.event_created[e]),
            "end_ts": int(self.event_end[e]),
            "resolved_ts": int(self.event_resolved[e]) if label != LIVE else None,
            "label": LABEL_NAMES[label],
            "outcome": int(self.market_outcome[m]) if label in (RESOLVED_TRUE, RESOLVED_FALSE) else None,
            "distortion": {"alpha": alpha, "beta": beta},
            "volume_usd": float(self.market_volume[m]),
            "liquidity_usd": float(self.market_liquidity[m]),
            "open_interest_usd": float(self.market_open_interest[m]),
            "information_lag_minutes": int(self.market_lag_min[m]),
            "slug_change_ts": int(self.market_slug_change_ts[m]) if self.market_slug_change_ts[m] >= 0 else None,
        }


def _probit(p: np.ndarray | float) -> np.ndarray:
    return np.asarray(ndtri(p))


def _price_vec(belief, alpha, beta, tick) -> np.ndarray:
    """Market price from a calibrated belief: inverse recalibration map, then rounding to the tick."""
    b = np.clip(np.nan_to_num(belief, nan=0.5), 1e-9, 1 - 1e-9)
    price = expit((logit(b) - alpha) / beta)
    return np.round(np.clip(np.round(price / tick) * tick, tick, 1 - tick), 6)


_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a counter-based hash, so each random draw is addressable on its own."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLD
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _uniform(h: np.ndarray) -> np.ndarray:
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def build_world(config: WorldConfig) -> World:
    """Build (deterministically) the world a config describes."""
    return World(config)
