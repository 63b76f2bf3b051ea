"""A seeded universe of prediction markets with known ground truth.

Every event carries one latent process Z (Z = 0 at creation): a Brownian motion (variance ``sigma**2`` per day)
plus the jumps of its information shocks (``episodes.py``: N(0, s^2) at times fixed by the seed). Its markets
partition the real line into intervals; market i resolves YES when ``Z(T) + c`` falls in its interval. The true
probability ``p_i(t) = P(Z(T) + c in I_i | Z(t))``, with ``Var(Z(T) - Z(t))`` = the diffusion's remaining variance
plus the variances of the jumps still to come, is therefore an exact martingale that ends at the outcome: the
outcome is drawn from the true probability, and a negRisk event has exactly one winner.

The market price follows the truth through an information lag (a martingale seen late is still calibrated) and a
per-category recalibration map: ``logit(p_true) = alpha + beta * logit(p_market)``. So a logistic fit of outcomes
on ``logit(price)`` recovers ``(alpha, beta)``; ``beta > 1`` means prices are too timid, ``beta < 1`` too extreme.
Pump-and-revert episodes displace the market price (never the truth) for a few hours.

Z is pinned every 1024 minutes (vectorised at start-up) and filled in minute by minute with Brownian bridges
seeded per (event, block), so any window of the minute path is computed on demand in microseconds and is identical
whatever window or fidelity asked for it. Volume and open interest (``volume.py``) are exact functions of time the
same way. The world is built once; ``label_at``, ``flows_at`` and ``snapshot`` show it at any instant (the venue's
clock), and the ``market_*`` arrays named below hold it at ``config.as_of``. The same seed gives the same world.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

from mca_sandbox.draws import mix, uniform
from mca_sandbox.episodes import Episodes, Shocks, combine, draw_manipulation, shock_episodes
from mca_sandbox.texts import draw_clarity, kinds_of
from mca_sandbox.volume import VolumePaths

DAY = 86_400
MINUTE = 60
BLOCK_MINUTES = 1024  # Z is pinned every 1024 minutes and refined dyadically inside
BLOCK_LEVELS = 10
BLOCK = BLOCK_MINUTES * MINUTE

CATEGORIES = ("politics", "crypto", "sports", "economics", "culture", "science")
CLOCKS = ("fixed", "live")

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
    """What defines a world (and how the venue's clock runs over it): the same config builds the same world."""

    seed: int = 7
    markets: int = 2000
    start: date = field(default_factory=lambda: datetime.now(UTC).date() - timedelta(days=120))
    end: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: Instant the venue is observed at (fixed clock; default: end of ``end``), or where a live clock starts
    #: (default: start-up time). Markets resolving later are live.
    as_of: datetime | None = None
    distortion: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_DISTORTION))
    neg_risk_share: float = 0.25  # share of markets that sit in multi-market negRisk events
    void_share: float = 0.03  # of clear markets; ambiguous ones: times ambiguous_risk
    unresolved_share: float = 0.04  # of clear markets; ambiguous ones: times ambiguous_risk
    zero_zero_share: float = 0.02
    slug_change_share: float = 0.03
    max_lag_minutes: int = 180  # information lag of the market behind the truth
    manipulation_rate: float = 1.0  # pump-and-revert and wash episodes per market per 30 days of life
    shock_rate: float = 1.0  # information shocks per event per 30 days of life
    ambiguous_share: float = 0.15  # share of events (with their markets) whose texts are ambiguous
    ambiguous_risk: float = 6.0  # how many times more often an ambiguous market ends VOID or UNRESOLVED
    clock: str = "fixed"  # "fixed": frozen at as_of; "live": now = as_of + wall-clock time elapsed * speed
    view_refresh_s: float = 0.0  # live clock: least wall seconds between REST view rebuilds (0 = adaptive)

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {self.clock!r}")
        for name in ("manipulation_rate", "shock_rate", "ambiguous_risk", "view_refresh_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ambiguous_share <= 1.0:
            raise ValueError(f"ambiguous_share must be in [0, 1], got {self.ambiguous_share}")
        if self.clock == "live" and self.as_of is None:
            object.__setattr__(self, "as_of", datetime.now(UTC).replace(microsecond=0))

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


@dataclass(frozen=True)
class Flows:
    """Per market at one instant each: cumulative volume (USD), open interest (USD, 0 outside the live life),
    cumulative trade count (fractional) and volume rate (USD per second)."""

    volume: np.ndarray
    open_interest: np.ndarray
    trades: np.ndarray
    rate: np.ndarray


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

    categories = CATEGORIES

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
        # c sets the prior: P(YES) at creation for a single market = Phi(c / total_sd) (before shocks)
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
        # Z's diffusion is a Brownian motion on the whole timeline, pinned at every BLOCK boundary and refined
        # dyadically inside a block, so Z at any minute is computed alone (see `latent_z`).
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
        self.shocks = Shocks.draw(cfg.seed, cfg.shock_rate, self.event_created, self.event_resolved, self.event_sigma)
        events = np.arange(n_events)
        z0 = self.latent_z(events, self.event_created)
        z_final = self.latent_z(events, self.event_resolved) - z0
        self.event_z0 = z0

        # --- outcomes (the truth), clarity and fates -----------------------------------------------------------
        zt = z_final[self.market_event]
        self.market_outcome = ((zt >= self.market_lo) & (zt < self.market_hi)).astype(np.int8)
        self.event_ambiguity = draw_clarity(cfg.seed, n_events, cfg.ambiguous_share)  # bit mask, 0 = clear
        label = np.where(self.market_outcome == 1, RESOLVED_TRUE, RESOLVED_FALSE)
        fate = rng.random(n_events)[self.market_event]  # whole events share a fate
        risk = np.where(self.event_ambiguity[self.market_event] > 0, cfg.ambiguous_risk, 1.0)
        void_p, unresolved_p = cfg.void_share * risk, cfg.unresolved_share * risk
        label = np.where(fate < void_p, VOID_5050, label)
        label = np.where((fate >= void_p) & (fate < void_p + unresolved_p), UNRESOLVED, label)
        zero = (fate >= void_p + unresolved_p) & (fate < void_p + unresolved_p + cfg.zero_zero_share)
        #: The label each market gets when it resolves (``label_at`` shows LIVE before that).
        self.market_fate = np.where(zero, VOID_ZERO_ZERO, label).astype(np.int8)
        self.market_label = self.label_at(cfg.as_of_ts)

        # --- market attributes -------------------------------------------------------------------------------
        self.market_category = self.event_category[self.market_event]
        #: Background volume traded over the whole life (USD); episode bursts come on top.
        self.market_volume_total = np.round(np.exp(rng.normal(np.log(20_000), 1.8, n)), 6)
        self.market_liquidity = np.round(self.market_volume_total * rng.uniform(0.02, 0.3, n), 6)
        kappa = rng.uniform(0.05, 0.5, n)  # open interest per USD of background volume traded
        self.market_tick = np.where(rng.random(n) < 0.7, 0.001, 0.01)
        self.market_lag_min = rng.integers(0, cfg.max_lag_minutes + 1, n)
        self.market_history_offset = rng.integers(0, 60, n)  # history `t` is not aligned on the bucket
        self.market_has_category = rng.random(n) < 0.5  # older-style markets carry `category`
        slug_change = rng.random(n) < cfg.slug_change_share
        created_m = self.event_created[self.market_event]
        end_m = self.event_resolved[self.market_event]
        change_at = created_m + rng.random(n) * (end_m - created_m)
        self.market_slug_change_ts = np.where(slug_change, change_at.astype(np.int64), -1)
        self.market_trade_size = np.exp(np.random.default_rng([cfg.seed, 0x7A]).normal(np.log(40.0), 0.5, n))

        # category distortion arrays (alpha, beta) per market
        alpha = np.array([cfg.distortion.get(c, (0.0, 1.0))[0] for c in CATEGORIES])
        beta = np.array([cfg.distortion.get(c, (0.0, 1.0))[1] for c in CATEGORIES])
        self.market_alpha = alpha[self.market_category]
        self.market_beta = beta[self.market_category]

        self.n_markets = n
        self.n_events = n_events

        # --- volume, open interest and episodes ---------------------------------------------------------------
        self.volume_paths = VolumePaths(cfg.seed, created_m, end_m, self.market_volume_total, kappa)
        #: Mean background volume per hour of life (USD): the unit of episode bursts.
        self.market_hourly_volume = self.market_volume_total / ((end_m - created_m) / 3600)
        manipulation = draw_manipulation(
            cfg.seed,
            cfg.manipulation_rate,
            created_m,
            end_m,
            self.market_hourly_volume,
            self.market_trade_size,
            self.market_tick,
            self.base_prices,
        )
        shocks = shock_episodes(
            cfg.seed,
            self.shocks,
            self.event_first,
            self.event_size,
            end_m,
            self.market_lag_min * MINUTE,
            self.market_hourly_volume,
            self.market_trade_size,
            self._shock_jump,
        )
        self.episodes: Episodes = combine([manipulation, shocks], self.market_event, n)

        flows = self.flows_at(np.full(n, cfg.as_of_ts, dtype=np.int64))
        #: At ``config.as_of``: volume traded so far (what Gamma shows) and open interest (0 once closed).
        self.market_volume = np.round(flows.volume, 6)
        self.market_open_interest = np.round(flows.open_interest, 6)
        self._snapshot = self.snapshot(cfg.as_of_ts)

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

    def label_at(self, ts: int) -> np.ndarray:
        """Every market's label at ``ts``: its fate once its resolution time has passed, LIVE before."""
        resolved = self.event_resolved[self.market_event] <= ts
        return np.where(resolved, self.market_fate, LIVE).astype(np.int8)

    # --- the truth's paths -------------------------------------------------------------------------------------
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
        key = mix(mix(mix(np.uint64(self.config.seed)) + events.astype(np.uint64)) + block.astype(np.uint64))
        for level in range(BLOCK_LEVELS):
            mid = (lo + hi) // 2
            u = uniform(mix(key + (np.uint64(level) << np.uint64(16)) + lo.astype(np.uint64)))
            z_mid = 0.5 * (left + right) + np.sqrt(var_minute * (hi - lo) / 4.0) * ndtri(u)
            go_right = k >= mid
            lo = np.where(go_right, mid, lo)
            left = np.where(go_right, z_mid, left)
            hi = np.where(go_right, hi, mid)
            right = np.where(go_right, right, z_mid)
        return left + self.shocks.jumps_until(events, t)

    def remaining_sd(self, events: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """sd of Z(T) - Z(t): the diffusion's remaining variance plus the variances of the jumps still to come."""
        diffusion = self.event_sigma[events] ** 2 * np.maximum(self.event_resolved[events] - ts, 0) / DAY
        return np.sqrt(diffusion + self.shocks.variance_after(events, ts))

    def _interval_probability(self, markets: np.ndarray, z: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """P(Z(T) in [lo, hi) of each market | Z(t) = z) when Z(T) - z ~ N(0, sd^2); the indicator when sd = 0."""
        lo, hi = self.market_lo[markets], self.market_hi[markets]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = ndtr((hi - z) / sd) - ndtr((lo - z) / sd)
        p = np.where(sd <= 0, ((z >= lo) & (z < hi)).astype(float), p)
        return np.clip(p, 0.0, 1.0)

    def true_probabilities(self, markets: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """p_true at (market, minute-aligned time) pairs, times clipped to the life (0/1 at and after resolution)."""
        markets = np.asarray(markets, dtype=np.int64)
        e = self.market_event[markets]
        t = np.clip(np.asarray(ts, dtype=np.int64), self.event_created[e], self.event_resolved[e])
        z = self.latent_z(e, t) - self.event_z0[e]
        return self._interval_probability(markets, z, self.remaining_sd(e, t))

    def true_probability_at(self, m: int, ts: np.ndarray) -> np.ndarray:
        """p_true of market m at minute-aligned times (0/1 at and after resolution)."""
        ts = np.asarray(ts, dtype=np.int64)
        return self.true_probabilities(np.full(ts.size, m), ts)

    def _shock_jump(self, markets: np.ndarray, shock: np.ndarray) -> np.ndarray:
        """The jump of p_true of each market at its event's shock (just after minus just before)."""
        s = self.shocks
        e, tau = s.event[shock], s.ts[shock]
        z_after = self.latent_z(e, tau) - self.event_z0[e]
        sd_after = self.remaining_sd(e, tau)
        after = self._interval_probability(markets, z_after, sd_after)
        before = self._interval_probability(markets, z_after - s.size[shock], np.sqrt(sd_after**2 + s.var[shock]))
        return after - before

    # --- the market's price ----------------------------------------------------------------------------------------
    def base_prices(self, markets: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """The market YES price the (lagged) belief alone gives at (market, time) pairs: no manipulation."""
        markets = np.asarray(markets, dtype=np.int64)
        belief = self.true_probabilities(markets, np.asarray(ts, dtype=np.int64) - self.market_lag_min[markets] * 60)
        return _price_vec(belief, self.market_alpha[markets], self.market_beta[markets], self.market_tick[markets])

    def _displaced(self, markets: np.ndarray, price: np.ndarray, displacement: np.ndarray) -> np.ndarray:
        """A price moved by a manipulation displacement, back on the tick grid inside [tick, 1 - tick]."""
        tick = self.market_tick[markets]
        moved = np.round(np.clip(np.round((price + displacement) / tick) * tick, tick, 1 - tick), 6)
        return np.where(displacement != 0, moved, price)

    def paths(self, m: int, t0: int, t1: int, step: int = MINUTE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(timestamps, true probability, market YES mid price) every ``step`` seconds over [t0, t1).

        Timestamps are clipped to the market's life [created, resolved]; the grid is aligned on ``step``.
        """
        ts = self.grid(m, t0, t1, step)
        if ts.size == 0:
            return ts, np.empty(0), np.empty(0)
        markets = np.full(ts.size, m)
        price = self.base_prices(markets, ts)
        displacement = self.episodes.path(m, ts)[0]
        return ts, self.true_probabilities(markets, ts), self._displaced(markets, price, displacement)

    def grid(self, m: int, t0: int, t1: int, step: int = MINUTE) -> np.ndarray:
        """Times every ``step`` seconds (aligned on it) in [t0, t1) inside the market's life [created, resolved]."""
        e = int(self.market_event[m])
        start = max(t0, int(self.event_created[e]))
        stop = min(t1, int(self.event_resolved[e]) + 1)
        step = max(MINUTE, (step // MINUTE) * MINUTE)
        return np.arange(-(-start // step) * step, stop, step, dtype=np.int64)

    def market_prices(self, markets: np.ndarray, times: np.ndarray) -> np.ndarray:
        """The YES price of each market at its own time (manipulation included)."""
        markets = np.asarray(markets, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        displacement = self.episodes.at(markets, times)[0]
        return self._displaced(markets, self.base_prices(markets, times), displacement)

    def spread(self, m: int) -> float:
        """Bid-ask spread widening as liquidity falls, in ticks."""
        tick = float(self.market_tick[m])
        raw = 0.002 + 0.6 / np.sqrt(max(float(self.market_liquidity[m]), 1.0))
        return float(np.clip(np.round(raw / tick) * tick, tick, 0.2))

    # --- volume and open interest --------------------------------------------------------------------------------
    def _flows(self, markets: np.ndarray, ts: np.ndarray, extra: tuple[np.ndarray, ...]) -> Flows:
        vp = self.volume_paths
        background, rate = vp.background(markets, ts)
        e = self.market_event[markets]
        live = (ts >= self.event_created[e]) & (ts < self.event_resolved[e])
        _, volume, oi, trades, burst = extra
        open_interest = vp.kappa[markets] * background * vp.wiggle(markets, ts) + oi
        return Flows(
            volume=background + volume,
            open_interest=np.where(live, open_interest, 0.0),
            trades=background / self.market_trade_size[markets] + trades,
            rate=np.where(live, rate + burst, 0.0),
        )

    def flows(self, markets: np.ndarray, times: np.ndarray) -> Flows:
        """Volume, open interest, trades and volume rate of each market at its own time."""
        markets = np.asarray(markets, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        return self._flows(markets, times, self.episodes.at(markets, times))

    def flows_at(self, times: np.ndarray) -> Flows:
        """Every market's flows, each at its own time ``times[m]``."""
        return self.flows(np.arange(self.n_markets), times)

    def flow_path(self, m: int, ts: np.ndarray) -> Flows:
        """Market m's volume, open interest, trades and volume rate at each time of ``ts``."""
        ts = np.asarray(ts, dtype=np.int64)
        return self._flows(np.full(ts.size, m), ts, self.episodes.path(m, ts))

    # --- state at an instant ----------------------------------------------------------------------------------------
    def snapshot(self, at_ts: int) -> dict[str, np.ndarray]:
        """Last YES price at ``at_ts`` (or just before resolution) and a day earlier, for every market at once."""
        e = self.market_event
        last = np.minimum(self.event_resolved[e] - MINUTE, (at_ts // MINUTE) * MINUTE)
        last = np.maximum(last, self.event_created[e])
        day_ago = np.maximum(last - DAY, self.event_created[e])
        markets = np.arange(self.n_markets)
        return {"last": self.market_prices(markets, last), "day_ago": self.market_prices(markets, day_ago)}

    def last_price(self, m: int) -> float:
        return float(self._snapshot["last"][m])

    def day_change(self, m: int) -> float:
        return float(self._snapshot["last"][m] - self._snapshot["day_ago"][m])

    # --- ground truth ------------------------------------------------------------------------------------------
    def clarity(self, m: int) -> dict[str, object]:
        """Whether market m's texts are clear, and the ambiguity kinds applied to them (its event's)."""
        mask = int(self.event_ambiguity[self.market_event[m]])
        return {"clear": mask == 0, "kinds": kinds_of(mask)}

    def truths(self, markets: list[int], at: int | None = None) -> list[dict[str, object]]:
        """``truth`` of several markets, their volumes and open interests computed together."""
        at = self.config.as_of_ts if at is None else at
        flows = self.flows(np.asarray(markets, dtype=np.int64), np.full(len(markets), at, dtype=np.int64))
        volume, oi = np.round(flows.volume, 6).tolist(), np.round(flows.open_interest, 6).tolist()
        return [self._truth(m, at, volume[i], oi[i]) for i, m in enumerate(markets)]

    def truth(self, m: int, at: int | None = None) -> dict[str, object]:
        """What a perfect platform would report for market m at ``at`` (default: config.as_of)."""
        return self.truths([m], at)[0]

    def _truth(self, m: int, at: int, volume: float, open_interest: float) -> dict[str, object]:
        e = int(self.market_event[m])
        yes, no = self.token_ids(m)
        label = int(self.market_fate[m]) if self.event_resolved[e] <= at else LIVE
        alpha, beta = float(self.market_alpha[m]), float(self.market_beta[m])
        episodes = self.episodes.of_market(m)
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
            "volume_usd": volume,
            "liquidity_usd": float(self.market_liquidity[m]),
            "open_interest_usd": open_interest,
            "information_lag_minutes": int(self.market_lag_min[m]),
            "slug_change_ts": int(self.market_slug_change_ts[m]) if self.market_slug_change_ts[m] >= 0 else None,
            "clarity": self.clarity(m),
            "episodes": self.episodes.rows(episodes[self.episodes.start[episodes] <= at]),
        }


def _probit(p: np.ndarray | float) -> np.ndarray:
    return np.asarray(ndtri(p))


def _price_vec(belief, alpha, beta, tick) -> np.ndarray:
    """Market price from a calibrated belief: inverse recalibration map, then rounding to the tick."""
    b = np.clip(np.nan_to_num(belief, nan=0.5), 1e-9, 1 - 1e-9)
    price = expit((logit(b) - alpha) / beta)
    return np.round(np.clip(np.round(price / tick) * tick, tick, 1 - tick), 6)


def build_world(config: WorldConfig) -> World:
    """Build (deterministically) the world a config describes."""
    return World(config)
