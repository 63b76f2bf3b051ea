"""CLOB REST (``clob.polymarket.com``) served under ``/clob`` from the world.

Routes (name in brackets):

- ``GET /clob/prices-history`` [clob.prices_history]: ``market`` = CLOB token id (YES or NO; the NO series is
  ``1 - YES``), required (missing -> 400). Either ``interval`` (``1m`` = 30 days, ``1w``, ``1d``, ``6h``, ``1h``,
  ``max``/``all`` = whole life; windows end at ``as_of``) or ``startTs`` + ``endTs`` (unix seconds, both required
  together); sending both forms -> 400, neither -> 400. ``fidelity`` = minutes between points, integer >= 1,
  **default 1**. Response ``{"history": [{"t": int, "p": float}]}``: the market price of ``world.paths(m, ...)`` on a
  grid aligned on ``fidelity`` minutes, grid points in ``[startTs, endTs)`` (half-open, so consecutive windows never
  repeat a point), shown at ``t = grid + world.market_history_offset[m]`` seconds (not bucket-aligned, as observed
  live), only points with ``t <= as_of``.
  **Range limit** (clients must window): ``endTs - startTs`` at most **15 days when fidelity <= 60**, at most
  **90 days when fidelity > 60**; longer -> 400 ``{"error": "..."}``. ``interval`` requests are not range-limited.
  Upstream traps reproduced: ``interval=max``/``all`` on a CLOSED market with ``fidelity < 720`` returns
  ``{"history": []}``; an unknown token returns ``{"history": []}`` (not 404).
- ``POST /clob/batch-prices-history`` [clob.batch_prices_history]: JSON body ``{"markets": [token ids, 1..20],
  "start_ts": int, "end_ts": int, "interval": "max|all|1m|1w|1d|6h|1h", "fidelity": int minutes}`` (``start_ts`` /
  ``end_ts`` / ``interval`` / ``fidelity`` play the roles of ``startTs`` / ``endTs`` / ``interval`` / ``fidelity``
  above, with the same rules, defaults and range limits, checked once for the whole batch). Response
  ``{"history": {"<token id>": [{"t", "p"}, ...]}}``: each list is exactly what ``/prices-history`` answers for
  that token; an unknown token (or one created after ``as_of``) gets ``[]`` under its key, as the single route
  answers ``{"history": []}``; a token listed twice appears once. 400 ``{"error": "..."}`` for a body that is not
  a JSON object, an unknown field, ``markets`` missing, empty, not a list of strings or longer than 20, a
  non-integer number or a string where an integer is expected, and for every error of the single route. For the
  ``throttle`` fault it counts against the ``/prices-history`` limit (1,000 requests per 10 s): Polymarket's
  rate-limit page lists no limit of its own for it.
- ``GET /clob/book?token_id=`` [clob.book]: the book at ``as_of`` (shape of ``shape_clob__book.json``): ``bids``
  ascending and ``asks`` descending (best level LAST in both), prices/sizes as strings, ``timestamp`` ms string,
  ``hash`` = sha1 hex of the book content, ``last_trade_price`` ("" when no trade). Best levels straddle the last
  price by ``world.spread(m)``; 2..20 levels per side (fewer with less liquidity), sizes scale with liquidity;
  everything is deterministic per market. Closed market or unknown token -> 404
  ``{"error": "No orderbook exists for the requested token id"}``; missing token_id -> 400.
- ``POST /clob/books`` [clob.books]: body ``[{"token_id": ...}, ...]`` (at most 500) -> array of books; tokens
  without a book are left out.
- ``GET /clob/markets/{condition_id}`` [clob.market]: shape of ``shape_clob__markets_condition_id.json``;
  ``tokens[].winner`` true only for the winning token of a RESOLVED market, ``is_50_50_outcome`` true for a 50-50 void.
  Unknown condition id -> 404 ``{"error": "market not found"}``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from aiohttp import web

from mca_sandbox.render import CATEGORY_TAGS, MICRO, MULTI_TAG, Venue, date_only, fmt_micro, rfc3339_us, venue
from mca_sandbox.world import DAY, MINUTE, VOID_5050

MAX_RANGE_FINE = 15 * DAY  # fidelity <= 60 minutes
MAX_RANGE_COARSE = 90 * DAY  # fidelity > 60 minutes
MAX_BOOKS = 500
MAX_FIDELITY = 525_600  # one year, in minutes
MAX_TS = 1 << 40
INTERVALS = {"1m": 30 * DAY, "1w": 7 * DAY, "1d": DAY, "6h": 6 * 3600, "1h": 3600, "max": None, "all": None}
MAX_BATCH_MARKETS = 20
BATCH_FIELDS = frozenset({"markets", "start_ts", "end_ts", "interval", "fidelity"})
NO_BOOK = "No orderbook exists for the requested token id"
_encode = msgspec.json.Encoder().encode


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=_encode(payload), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


class BadRequest(Exception):
    pass


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip(), 10)
    except ValueError:
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"invalid {name}: {raw!r}") from None
        if not math.isfinite(value) or value != int(value):
            raise BadRequest(f"invalid {name}: {raw!r}") from None
        return int(value)


# --- prices history -----------------------------------------------------------------------------------------------
def history_grid(v: Venue, m: int, side: int, t0: int, t1: int, fidelity: int) -> tuple[list[int], list[float]]:
    """(t, p) of token ``side`` of market m: grid points in [t0, t1) every ``fidelity`` minutes, t <= as_of."""
    w = v.world
    ts, _, price = w.paths(m, t0, t1, step=fidelity * MINUTE)
    t = ts + int(w.market_history_offset[m])
    keep = t <= v.as_of
    t, price = t[keep], price[keep]
    if side == 1:
        price = np.round(1.0 - price, 6)
    return t.tolist(), price.tolist()


@dataclass(frozen=True)
class HistoryQuery:
    """A validated prices-history request, the same for every token it is asked for."""

    start: int | None
    end: int | None
    interval: str | None
    fidelity: int


def history_query(start: int | None, end: int | None, interval: str | None, fidelity: int | None) -> HistoryQuery:
    """Check the parameters of /prices-history (and of each batch request); raises BadRequest with the reason."""
    fidelity = 1 if fidelity is None else fidelity
    if not 1 <= fidelity <= MAX_FIDELITY:
        raise BadRequest(f"fidelity must be an integer between 1 and {MAX_FIDELITY} (minutes)")
    if interval is not None and (start is not None or end is not None):
        raise BadRequest("interval and startTs/endTs are mutually exclusive")
    if interval is None and (start is None or end is None):
        raise BadRequest("send either interval or both startTs and endTs")
    if interval is not None and interval not in INTERVALS:
        raise BadRequest(f"invalid interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    if start is not None and end is not None:
        if start < 0 or end < start or end > MAX_TS:
            raise BadRequest(f"invalid time range: need 0 <= startTs <= endTs <= {MAX_TS}")
        limit = MAX_RANGE_FINE if fidelity <= 60 else MAX_RANGE_COARSE
        if end - start > limit:
            raise BadRequest(
                f"invalid filters: time range too long ({end - start} s) for fidelity {fidelity}; at most "
                f"{limit // DAY} days per request at this fidelity (15 days when fidelity <= 60, else 90): "
                "split the range into windows"
            )
    return HistoryQuery(start, end, interval, fidelity)


def history_points(v: Venue, token: str, query: HistoryQuery) -> list[dict[str, float | int]]:
    """The ``history`` list of one token (empty for an unknown token, as upstream)."""
    found = v.market_by_token(token)
    if found is None:
        return []
    m, side = found
    start, end = query.start, query.end
    if query.interval is not None:
        span = INTERVALS[query.interval]
        if span is None:
            if v.closed[m] and query.fidelity < 720:
                return []  # upstream trap: closed + max + fine fidelity
            start, end = 0, v.as_of + 1
        else:
            start, end = v.as_of - span, v.as_of + 1
    assert start is not None
    assert end is not None
    t, p = history_grid(v, m, side, start, end, query.fidelity)
    return [{"t": ti, "p": pi} for ti, pi in zip(t, p, strict=True)]


async def prices_history(request: web.Request) -> web.Response:
    v = venue(request.app)
    q = request.query
    token = (q.get("market") or "").strip()
    if not token:
        return _error("market is required (a CLOB token id)")
    try:
        query = history_query(
            _int_param(request, "startTs"),
            _int_param(request, "endTs"),
            q.get("interval"),
            _int_param(request, "fidelity"),
        )
    except BadRequest as exc:
        return _error(str(exc))
    return _json({"history": history_points(v, token, query)})


def _body_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        raise BadRequest(f"invalid {name}: {value!r} (expected an integer)")
    return int(value)


async def batch_prices_history(request: web.Request) -> web.Response:
    v = venue(request.app)
    try:
        body = msgspec.json.decode(await request.read())
    except msgspec.DecodeError:
        return _error(
            'invalid JSON body: expected {"markets": [token ids], "start_ts", "end_ts", "interval", "fidelity"}'
        )
    try:
        if not isinstance(body, dict):
            raise BadRequest('invalid body: expected a JSON object {"markets": [...], ...}')
        unknown = sorted(set(body) - BATCH_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(BATCH_FIELDS))}")
        markets = body.get("markets")
        if not isinstance(markets, list) or not markets or not all(isinstance(t, str) and t for t in markets):
            raise BadRequest("markets must be a non-empty list of CLOB token id strings")
        if len(markets) > MAX_BATCH_MARKETS:
            raise BadRequest(f"too many markets: {len(markets)} (at most {MAX_BATCH_MARKETS} per request)")
        interval = body.get("interval")
        if interval is not None and not isinstance(interval, str):
            raise BadRequest(f"invalid interval: {interval!r} (expected a string)")
        query = history_query(
            _body_int(body, "start_ts"), _body_int(body, "end_ts"), interval, _body_int(body, "fidelity")
        )
    except BadRequest as exc:
        return _error(str(exc))
    return _json({"history": {token: history_points(v, token, query) for token in markets}})


# --- books --------------------------------------------------------------------------------------------------------
def _levels(v: Venue, m: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """YES book levels as (price in ticks, size), each side from best outwards."""
    liq = max(float(v.world.market_liquidity[m]), 1.0)
    rng = np.random.default_rng([v.seed, 7_001, m])
    depth = int(np.clip(2 + 2 * math.log10(liq), 2, 20))
    n_ticks = int(v.n_ticks[m])
    per_level = liq / (2 * depth)
    sides = []
    for best, direction in ((int(v.bid_ticks[m]), -1), (int(v.ask_ticks[m]), 1)):
        gaps = rng.integers(1, 4, depth)
        gaps[0] = 0
        prices = best + direction * np.cumsum(gaps)
        sizes = np.round(np.maximum(5.0, per_level * rng.lognormal(0.0, 0.6, depth)), 2)
        keep = (prices >= 1) & (prices <= n_ticks - 1)
        sides.append([(int(p), float(s)) for p, s in zip(prices[keep], sizes[keep], strict=True)])
    return sides[0], sides[1]


def _size(s: float) -> str:
    text = f"{s:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def book(v: Venue, m: int, side: int) -> dict[str, object]:
    """The book of token ``side`` (0 YES, 1 NO) of market m at as_of, in the upstream shape."""
    w = v.world
    tick_u = int(v.tick_u[m])
    n_ticks = int(v.n_ticks[m])
    bids, asks = _levels(v, m)
    if side == 1:  # the NO book mirrors the YES book: NO bid = 1 - YES ask
        bids, asks = [(n_ticks - p, s) for p, s in asks], [(n_ticks - p, s) for p, s in bids]
    # best level LAST: bids ascending, asks descending
    bid_levels = [{"price": fmt_micro(p * tick_u), "size": _size(s)} for p, s in sorted(bids)]
    ask_levels = [{"price": fmt_micro(p * tick_u), "size": _size(s)} for p, s in sorted(asks, reverse=True)]
    yes_u = int(v.yes_u[m])
    last = "" if v.dust[m] else fmt_micro(yes_u if side == 0 else MICRO - yes_u)
    stamp = str(v.as_of * 1000 - int(v.world.market_history_offset[m]) * 997 - (m % 1000))
    token = w.token_ids(m)[side]
    out: dict[str, object] = {
        "market": w.condition_id(m),
        "asset_id": token,
        "timestamp": stamp,
        "hash": "",
        "bids": bid_levels,
        "asks": ask_levels,
        "min_order_size": "5",
        "tick_size": fmt_micro(tick_u),
        "neg_risk": bool(v.neg_risk[m]),
        "last_trade_price": last,
    }
    out["hash"] = hashlib.sha1(_encode(out)).hexdigest()  # sha1 as upstream (not for security)
    return out


def _book_for(v: Venue, token: str) -> dict[str, object] | None:
    found = v.market_by_token(token)
    if found is None or v.closed[found[0]]:
        return None
    return book(v, *found)


async def get_book(request: web.Request) -> web.Response:
    v = venue(request.app)
    token = (request.query.get("token_id") or "").strip()
    if not token:
        return _error("Invalid token id")
    found = _book_for(v, token)
    if found is None:
        return _error(NO_BOOK, 404)
    return _json(found)


async def post_books(request: web.Request) -> web.Response:
    v = venue(request.app)
    try:
        body = msgspec.json.decode(await request.read())
    except msgspec.DecodeError:
        return _error('invalid JSON body: expected [{"token_id": ...}]')
    if not isinstance(body, list) or not all(isinstance(i, dict) and isinstance(i.get("token_id"), str) for i in body):
        return _error('invalid body: expected [{"token_id": ...}]')
    if len(body) > MAX_BOOKS:
        return _error(f"too many token ids: {len(body)} (at most {MAX_BOOKS})")
    books = [b for b in (_book_for(v, i["token_id"]) for i in body) if b is not None]
    return _json(books)


# --- markets ------------------------------------------------------------------------------------------------------
def clob_market(v: Venue, m: int) -> dict[str, object]:
    w = v.world
    e = int(w.market_event[m])
    closed = bool(v.closed[m])
    neg = bool(v.neg_risk[m])
    slug = v.slugs[m]
    yes, no = w.token_ids(m)
    winner = v.winner(m)
    cat = int(v.category[m])
    tags = [CATEGORY_TAGS[cat][1]] + ([MULTI_TAG[1]] if neg else [])
    tick = float(v.tick[m])
    fees = bool(v.fees_enabled[m])
    img = f"https://polymarket-upload.s3.us-east-2.amazonaws.com/{slug}.png"
    prices = (int(v.outcome_yes_u[m]) / MICRO, int(v.outcome_no_u[m]) / MICRO)
    return {
        "accepting_order_timestamp": rfc3339_us(int(v.created_s[m]) * MICRO),
        "accepting_orders": not closed,
        "active": True,
        "archived": False,
        "closed": closed,
        "condition_id": w.condition_id(m),
        "description": v.description(m),
        "enable_order_book": not closed,
        "end_date_iso": date_only(v.end_s[m]) + "T00:00:00Z",
        "fpmm": "",
        "game_start_time": None,
        "icon": img,
        "image": img,
        "is_50_50_outcome": int(v.label[m]) == VOID_5050,
        "maker_base_fee": 1000 if fees else 0,
        "market_slug": slug,
        "minimum_order_size": 5,
        "minimum_tick_size": tick,
        "neg_risk": neg,
        "neg_risk_market_id": w.neg_risk_market_id(e) if neg else "",
        "neg_risk_request_id": v.neg_risk_request_id(m),
        "notifications_enabled": True,
        "question": v.question(m),
        "question_id": w.question_id(m),
        "rewards": {
            "max_spread": 3.5 if tick == 0.001 else 4.5,
            "min_size": 20 if tick == 0.001 else 50,
            "rates": None,
        },
        "seconds_delay": 0,
        "tags": tags,
        "taker_base_fee": 1000 if fees else 0,
        "tokens": [
            {"outcome": "Yes", "price": _num(prices[0]), "token_id": yes, "winner": winner == 0},
            {"outcome": "No", "price": _num(prices[1]), "token_id": no, "winner": winner == 1},
        ],
    }


def _num(x: float) -> float | int:
    return int(x) if x == int(x) else x


async def get_market(request: web.Request) -> web.Response:
    v = venue(request.app)
    m = v.market_by_condition(request.match_info["condition_id"])
    if m is None:
        return _error("market not found", 404)
    return _json(clob_market(v, m))


def setup(app: web.Application) -> None:
    """Register the CLOB routes under /clob."""
    r = app.router
    r.add_get("/clob/prices-history", prices_history, name="clob.prices_history")
    r.add_post("/clob/batch-prices-history", batch_prices_history, name="clob.batch_prices_history")
    r.add_get("/clob/book", get_book, name="clob.book")
    r.add_post("/clob/books", post_books, name="clob.books")
    r.add_get("/clob/markets/{condition_id}", get_market, name="clob.market")
