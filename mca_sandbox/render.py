"""What the venue shows of a world, shared by the Gamma, CLOB and ground-truth routes, plus JSON formatting helpers.

``Venue`` is one *view*: it derives, for one instant ``as_of`` and vectorised over every market and event,
everything the REST routes render: lifecycle flags, the timestamps shown (with the variable fraction digits Gamma
prints), the volume traded so far and its trailing windows (real differences of the world's cumulative volume),
open interest, outcome prices per label, the best bid/ask of the book at ``as_of``. ``Catalog`` holds what never
changes (every market's ids with their lookup indexes, texts, fixed timestamps) and is built once per world, so a
live clock only rebuilds the view (``clock.Views``). Gamma's ``bestBid``/``bestAsk`` and the CLOB ``/book`` best
levels come from the same numbers, so the two APIs agree as they do upstream. For 100,000 markets the catalog takes
about 1 s (mostly the sha256 ids) and a view about 0.4 s; the first view is built on app startup.

Decisions (documented for the clients and tests that rely on them):

- A market or event whose creation is after ``as_of`` does not exist yet: it is hidden from every route.
- ``active`` is true and ``archived`` false on every market (as on most real markets, closed ones included).
- Markets with less than 100 USD traded by ``as_of`` are shown as zero-volume markets: their volume fields are
  omitted, as upstream omits them (they count as 0 in volume filters and orderings).
- Volume is the world's cumulative volume V(as_of) rounded to the micro-dollar; ``volume24hr``/``1wk``/``1mo``/
  ``1yr`` are ``V(as_of) - V(as_of - window)`` of the same rounded values. Open interest (events' ``openInterest``)
  is the world's at ``as_of``, summed over the event's markets, 0 once closed.
- Liquidity is shown on live markets only (0 / omitted once closed).
- Lifecycle from ``world.label_at(as_of)``: LIVE = open and accepting orders; RESOLVED_TRUE/FALSE = closed, UMA
  "resolved", outcome prices 1/0; VOID_5050 = closed, "resolved", 0.5/0.5; VOID_ZERO_ZERO = closed legacy 0/0 with
  no UMA status; UNRESOLVED = closed with UMA "proposed" or "disputed" (drawn per market: disputed half the
  time, 80 % of the time for ambiguous markets) and the last prices.
- The book at ``as_of``: best bid/ask straddle the last price with ``world.spread(m)`` between them (in ticks).
- Timestamps: ``startDate`` shows 3 fraction digits, ``createdAt``/``updatedAt`` (and event start/creation dates) 6,
  ``endDate``/``umaEndDate`` none, ``closedTime`` Postgres style; the last fraction digit is never 0, so every
  string is exactly what Gamma's trimming would print. Filters and orderings use these exact instants.
- Texts (questions, descriptions, titles, resolution sources) come from ``texts.py``; slugs are ``world.slug``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from mca_sandbox.appkeys import STATE
from mca_sandbox.draws import hash_draws
from mca_sandbox.texts import Texts
from mca_sandbox.world import (
    CATEGORIES,
    DAY,
    LIVE,
    RESOLVED_FALSE,
    RESOLVED_TRUE,
    UNRESOLVED,
    VOID_5050,
    VOID_ZERO_ZERO,
    World,
)

if TYPE_CHECKING:
    from aiohttp import web

MICRO = 1_000_000
DUST_VOLUME = 100.0  # below this simulated volume a market is shown as a zero-volume market

#: Detailed label names (the truth's ``label`` merges both voids into "VOID").
LABEL_DETAIL = {
    RESOLVED_TRUE: "RESOLVED_TRUE",
    RESOLVED_FALSE: "RESOLVED_FALSE",
    VOID_5050: "VOID_5050",
    VOID_ZERO_ZERO: "VOID_ZERO_ZERO",
    UNRESOLVED: "UNRESOLVED",
    LIVE: "LIVE",
}

#: Tag per category: (id, label, slug); plus one generic tag on every negRisk (multi-outcome) event.
CATEGORY_TAGS: tuple[tuple[int, str, str], ...] = (
    (2, "Politics", "politics"),
    (21, "Crypto", "crypto"),
    (1, "Sports", "sports"),
    (107, "Economics", "economics"),
    (596, "Culture", "culture"),
    (74, "Science", "science"),
)
assert len(CATEGORY_TAGS) == len(CATEGORIES)
MULTI_TAG: tuple[int, str, str] = (101, "Multi Outcome", "multi-outcome")


# --- formatting ---------------------------------------------------------------------------------------------------
def fmt_micro(u: int) -> str:
    """A probability held in millionths as Polymarket's short decimal string: 1000000 -> "1", 10500 -> "0.0105"."""
    whole, frac = divmod(int(u), MICRO)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


def rfc3339_us(us: int) -> str:
    """RFC3339 UTC with as many fraction digits as needed (0..6), like Gamma: "2025-07-11T18:36:02.893Z"."""
    s, frac = divmod(int(us), MICRO)
    t = time.gmtime(s)
    base = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if frac:
        return f"{base}.{frac:06d}".rstrip("0") + "Z"
    return base + "Z"


def date_only(s: int) -> str:
    t = time.gmtime(int(s))
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def jstr(text: str) -> str:
    """A JSON string literal (fast path for plain printable text without quotes or backslashes)."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def iso_arr(us: np.ndarray, unit: str) -> np.ndarray:
    """RFC3339 strings without the trailing "Z" at a fixed precision ("D", "s", "ms" or "us"), vectorised."""
    texts = np.datetime_as_string(np.asarray(us, dtype=np.int64).astype("datetime64[us]"), unit=unit)
    width = max(1, int(np.char.str_len(texts).max())) if texts.size else 1
    return texts.astype(f"U{width}")


_FLOATS = msgspec.json.Encoder()


def floats_vec(values: np.ndarray) -> list[str]:
    """JSON numbers (shortest round-trip) for an array of floats, formatted in one C call."""
    if len(values) == 0:
        return []
    return _FLOATS.encode(np.asarray(values, dtype=np.float64).tolist())[1:-1].decode().split(",")


def floats_cols(*columns: np.ndarray) -> list[list[str]]:
    """``floats_vec`` of several equally long columns in a single call."""
    n = len(columns[0])
    flat = floats_vec(np.concatenate([np.asarray(c, dtype=np.float64) for c in columns]))
    return [flat[k * n : (k + 1) * n] for k in range(len(columns))]


def _frac(h: np.ndarray, digits: int) -> np.ndarray:
    """Microseconds with exactly ``digits`` (3 or 6) fraction digits, the last one non-zero."""
    if digits == 3:
        return ((h % np.uint64(100)) * np.uint64(10) + np.uint64(1) + (h >> np.uint64(7)) % np.uint64(9)).astype(
            np.int64
        ) * 1000
    return ((h % np.uint64(100_000)) * np.uint64(10) + np.uint64(1) + (h >> np.uint64(17)) % np.uint64(9)).astype(
        np.int64
    )


def hex_id(seed: int, kind: str, index: int, nbytes: int = 32) -> str:
    return "0x" + hashlib.sha256(f"{seed}:{kind}:{index}".encode()).hexdigest()[: nbytes * 2]


# --- the venue ---------------------------------------------------------------------------------------------------
class Catalog:
    """What a world shows that never changes with the clock: ids and their indexes, texts, fixed times, cosmetics.

    Built once per world (the sha256 ids are most of the cost) and shared by every view of it.
    """

    def __init__(self, world: World) -> None:
        w = world
        n, ne = w.n_markets, w.n_events
        seed = w.config.seed
        e = w.market_event
        self.h1 = hash_draws(seed, 101, n)
        self.h2 = hash_draws(seed, 102, n)
        self.he = hash_draws(seed, 103, ne)
        created = w.event_created[e].astype(np.int64)
        self.start_us = created * MICRO + _frac(self.h1, 3)
        self.created_us = (
            created - 60 - ((self.h1 >> np.uint64(10)) % np.uint64(3600)).astype(np.int64)
        ) * MICRO + _frac(self.h1 >> np.uint64(22), 6)
        ev_created = w.event_created.astype(np.int64)
        he = self.he
        self.ev_start_us = ev_created * MICRO - 30 * MICRO + _frac(he, 6)
        self.ev_creation_us = self.ev_start_us - 10 * ((he >> np.uint64(20)) % np.uint64(100)).astype(np.int64)
        self.ev_created_us = (ev_created - 90 - ((he >> np.uint64(30)) % np.uint64(3600)).astype(np.int64)) * (
            MICRO
        ) + _frac(he >> np.uint64(42), 6)
        self.ev_comments = ((he >> np.uint64(8)) % np.uint64(400)).astype(np.int64)
        # UNRESOLVED markets are disputed (else only proposed) half the time, 80 % of the time when ambiguous
        ambiguous = w.event_ambiguity[e] > 0
        self.uma_disputed = (self.h2 >> np.uint64(30)) % np.uint64(10) < np.where(ambiguous, 8, 5).astype(np.uint64)
        self.fees_enabled = (self.h2 >> np.uint64(31)) % np.uint64(10) < np.uint64(3)
        self.condition_ids = [w.condition_id(m) for m in range(n)]
        self.question_ids = [w.question_id(m) for m in range(n)]
        tokens = [w.token_ids(m) for m in range(n)]
        self.yes_tokens = [t[0] for t in tokens]
        self.no_tokens = [t[1] for t in tokens]
        self.condition_index = {c: m for m, c in enumerate(self.condition_ids)}
        self.token_index = {t: (m, 0) for m, t in enumerate(self.yes_tokens)}
        self.token_index.update({t: (m, 1) for m, t in enumerate(self.no_tokens)})
        self.neg_risk_market_ids = {e: w.neg_risk_market_id(e) for e in np.flatnonzero(w.event_neg_risk).tolist()}
        self.neg_risk_request_ids = {
            m: hex_id(seed, "negrisk-request", m) for m in np.flatnonzero(w.event_neg_risk[e]).tolist()
        }
        self.texts = Texts(w)


_CATALOGS: weakref.WeakKeyDictionary[World, Catalog] = weakref.WeakKeyDictionary()
_CATALOG_LOCK = threading.Lock()


def catalog(world: World) -> Catalog:
    """The world's catalog, built on first use (views are built in worker threads: one build only)."""
    with _CATALOG_LOCK:
        found = _CATALOGS.get(world)
        if found is None:
            found = _CATALOGS[world] = Catalog(world)
        return found


class Venue:
    """Everything the REST routes show of a world at one instant ``as_of`` (default: the config's), derived once
    (vectorised) from the world's arrays: one *view* of the venue."""

    def __init__(self, world: World, as_of: int | None = None) -> None:
        self.world = w = world
        cfg = w.config
        cat = catalog(w)
        self.catalog = cat
        self.seed = cfg.seed
        self.as_of = as_of = cfg.as_of_ts if as_of is None else int(as_of)
        n = w.n_markets
        e = w.market_event
        label = w.market_label if as_of == cfg.as_of_ts else w.label_at(as_of)
        self.label = label
        self.closed = label != LIVE
        #: Per-module derived state of this view (Gamma tables...), built on first use.
        self.cache: dict[str, Any] = {}

        # --- times (seconds, and microseconds where Gamma shows fractions) -----------------------------------
        created = w.event_created[e].astype(np.int64)
        resolved = w.event_resolved[e].astype(np.int64)
        self.created_s = created
        self.resolved_s = resolved
        self.end_s = w.event_end[e].astype(np.int64)
        self.visible = created <= as_of
        # Fraction digits are fixed per field (last digit never 0), so a vectorised format needs no trimming:
        # startDate has 3 digits, createdAt/updatedAt 6, endDate/closedTime/umaEndDate none (as seen upstream).
        self.start_us = cat.start_us
        self.created_us = cat.created_us
        self.end_us = self.end_s * MICRO
        h1 = cat.h1
        upd_closed = np.minimum(as_of - 1, resolved + 60 + ((h1 >> np.uint64(42)) % np.uint64(7200)).astype(np.int64))
        upd_live = as_of - 1 - ((h1 >> np.uint64(42)) % np.uint64(3600)).astype(np.int64)
        self.updated_us = np.where(self.closed, upd_closed, upd_live) * MICRO + _frac(cat.h2, 6)
        self.updated_us = np.maximum(self.updated_us, self.created_us)
        self.closed_ts = np.where(self.closed, resolved, -1)

        # --- volumes (the world's cumulative volume at as_of, and its trailing differences) -------------------
        now = w.flows_at(np.full(n, as_of, dtype=np.int64))
        total = np.round(now.volume, 6)
        vol = np.where(total < DUST_VOLUME, 0.0, total)
        self.dust = vol == 0
        self.volume = vol
        self.open_interest = np.round(now.open_interest, 6)
        self.liquidity = np.where(self.closed, 0.0, w.market_liquidity)
        self.windows: dict[str, np.ndarray] = {}
        for name, span in (("24hr", DAY), ("1wk", 7 * DAY), ("1mo", 30 * DAY), ("1yr", 365 * DAY)):
            then = np.round(w.flows_at(np.full(n, as_of - span, dtype=np.int64)).volume, 6)
            self.windows[name] = np.where(self.dust, 0.0, np.round(np.maximum(total - then, 0.0), 6))

        # --- prices ------------------------------------------------------------------------------------------
        snapshot = w._snapshot if as_of == cfg.as_of_ts else w.snapshot(as_of)
        yes_u = np.rint(snapshot["last"] * MICRO).astype(np.int64)
        day_ago_u = np.rint(snapshot["day_ago"] * MICRO).astype(np.int64)
        self.yes_u = yes_u
        self.day_change = (yes_u - day_ago_u) / MICRO
        out_yes = yes_u.copy()
        out_yes[label == RESOLVED_TRUE] = MICRO
        out_yes[label == RESOLVED_FALSE] = 0
        out_yes[label == VOID_5050] = MICRO // 2
        out_yes[label == VOID_ZERO_ZERO] = 0
        out_no = MICRO - out_yes
        out_no[label == VOID_5050] = MICRO // 2
        out_no[label == VOID_ZERO_ZERO] = 0
        self.outcome_yes_u, self.outcome_no_u = out_yes, out_no
        self.tick = w.market_tick
        self.tick_u = np.rint(w.market_tick * MICRO).astype(np.int64)
        n_ticks = MICRO // self.tick_u
        # world.spread(m), vectorised (a unit test checks they agree), in ticks
        raw = 0.002 + 0.6 / np.sqrt(np.maximum(w.market_liquidity, 1.0))
        spread = np.clip(np.round(raw / w.market_tick) * w.market_tick, w.market_tick, 0.2)
        spread_ticks = np.maximum(1, np.rint(spread / w.market_tick)).astype(np.int64)
        p_ticks = np.clip(np.rint(yes_u / self.tick_u).astype(np.int64), 1, n_ticks - 1)
        bid = p_ticks - spread_ticks // 2
        ask = bid + spread_ticks
        over = ask > n_ticks - 1
        ask = np.where(over, n_ticks - 1, ask)
        bid = np.where(over, ask - spread_ticks, bid)
        bid = np.maximum(bid, 1)
        ask = np.maximum(ask, bid + 1)
        self.bid_ticks, self.ask_ticks, self.n_ticks = bid, ask, n_ticks
        self.spread_u = (ask - bid) * self.tick_u

        # --- per-market cosmetics ----------------------------------------------------------------------------
        self.uma_disputed = cat.uma_disputed
        self.fees_enabled = cat.fees_enabled
        self.neg_risk = w.event_neg_risk[e]
        self.position = np.arange(n) - w.event_first[e]
        self.has_category = w.market_has_category
        self.category = w.market_category
        tag_ids = np.array([t[0] for t in CATEGORY_TAGS], dtype=np.int64)
        self.tag_id = tag_ids[self.category]

        # --- events ------------------------------------------------------------------------------------------
        first = w.event_first
        self.ev_first = first
        self.ev_size = w.event_size
        self.ev_created_s = w.event_created.astype(np.int64)
        self.ev_resolved_s = w.event_resolved.astype(np.int64)
        self.ev_end_s = w.event_end.astype(np.int64)
        self.ev_visible = self.ev_created_s <= as_of
        self.ev_closed = self.closed[first]
        self.ev_neg_risk = w.event_neg_risk
        self.ev_category = w.event_category
        self.ev_tag_id = tag_ids[w.event_category]
        self.ev_has_category = self.has_category[first]
        self.ev_start_us = cat.ev_start_us
        self.ev_creation_us = cat.ev_creation_us
        self.ev_created_us = cat.ev_created_us
        self.ev_end_us = self.ev_end_s * MICRO
        self.ev_updated_us = np.maximum.reduceat(self.updated_us, first)
        self.ev_closed_ts = np.where(self.ev_closed, self.ev_resolved_s, -1)
        self.ev_volume = np.add.reduceat(vol, first)
        self.ev_liquidity = np.add.reduceat(self.liquidity, first)
        self.ev_open_interest = np.round(np.add.reduceat(self.open_interest, first), 6)  # 0 once closed
        self.ev_windows = {k: np.add.reduceat(v, first) for k, v in self.windows.items()}
        self.ev_comments = cat.ev_comments

        # world.slug(m) at as_of for every market (a unit test checks they agree)
        changed = (w.market_slug_change_ts >= 0) & (as_of >= w.market_slug_change_ts)
        self.slugs = [
            f"{CATEGORIES[c]}-question-{500_000 + m}{'-v2' if ch else ''}"
            for m, (c, ch) in enumerate(zip(self.category.tolist(), changed.tolist(), strict=True))
        ]
        self.condition_ids = cat.condition_ids
        self.question_ids = cat.question_ids
        self.yes_tokens = cat.yes_tokens
        self.no_tokens = cat.no_tokens
        self.neg_risk_market_ids = cat.neg_risk_market_ids
        self.neg_risk_request_ids = cat.neg_risk_request_ids
        self._slug_index: dict[str, int] | None = None
        self._event_slug_index: dict[str, int] | None = None

    # --- identities and lookups (markets created after as_of do not exist yet) ---------------------------------------
    def event_slug(self, e: int) -> str:
        return f"{CATEGORIES[int(self.ev_category[e])]}-event-{self.world.event_id(e)}"

    def neg_risk_request_id(self, m: int) -> str:
        return self.neg_risk_request_ids.get(m, "")

    def market_by_slug(self, slug: str) -> int | None:
        if self._slug_index is None:
            self._slug_index = {self.slugs[m]: m for m in np.flatnonzero(self.visible).tolist()}
        return self._slug_index.get(slug)

    def event_by_slug(self, slug: str) -> int | None:
        if self._event_slug_index is None:
            self._event_slug_index = {self.event_slug(e): e for e in range(self.world.n_events) if self.ev_visible[e]}
        return self._event_slug_index.get(slug)

    def market_by_condition(self, condition_id: str) -> int | None:
        m = self.catalog.condition_index.get(condition_id.lower())
        return m if m is not None and self.visible[m] else None

    def market_by_token(self, token_id: str) -> tuple[int, int] | None:
        """(market, side) of a CLOB token id, side 0 = YES, 1 = NO."""
        found = self.catalog.token_index.get(token_id)
        return found if found is not None and self.visible[found[0]] else None

    def market_index(self, market_id: str) -> int | None:
        m = self.world.market_index(market_id)
        return m if m is not None and self.visible[m] else None

    def event_index(self, event_id: str) -> int | None:
        e = self.world.event_index(event_id)
        return e if e is not None and self.ev_visible[e] else None

    # --- derived per-market values --------------------------------------------------------------------------------
    def question(self, m: int) -> str:
        return self.catalog.texts.market(m)[0]

    def description(self, m: int) -> str:
        return self.catalog.texts.market(m)[1]

    def uma_status(self, m: int) -> str | None:
        label = int(self.label[m])
        if label in (RESOLVED_TRUE, RESOLVED_FALSE, VOID_5050):
            return "resolved"
        if label == UNRESOLVED:
            return "disputed" if self.uma_disputed[m] else "proposed"
        return None

    def winner(self, m: int) -> int | None:
        """0 = YES won, 1 = NO won, None when no token won (live, void, unresolved)."""
        label = int(self.label[m])
        if label == RESOLVED_TRUE:
            return 0
        if label == RESOLVED_FALSE:
            return 1
        return None


def venue(app: web.Application) -> Venue:
    """The app's current view (``clock.Views``): the one fixed view, or the latest rebuild of a live clock."""
    return app[STATE]["views"].current()
