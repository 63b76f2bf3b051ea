"""Gamma API (``gamma-api.polymarket.com``) served under ``/gamma`` from the world.

Routes (name in brackets, the fault plan targets these):

- ``GET /gamma/markets`` [gamma.markets]: legacy list, bare JSON array. ``limit`` default 20, silently capped at 100;
  ``offset`` default 0, ``offset > 2000`` -> 422 ``offset too large, use /markets/keyset for deeper pagination``.
- ``GET /gamma/markets/keyset`` [gamma.markets_keyset]: ``{"markets": [...], "next_cursor": "..."}``; ``limit``
  default 20, 1..100 (else 422); any ``offset`` -> 422; continue with ``after_cursor=<next_cursor>``;
  ``next_cursor`` is absent on the last page (also when the last page is exactly full). ``cursor=`` and
  ``next_cursor=`` are silently ignored (page 1 again), as upstream.
- ``GET /gamma/markets/{id}`` [gamma.market], ``GET /gamma/markets/slug/{slug}`` [gamma.market_slug].
- ``GET /gamma/events`` [gamma.events] (legacy, same caps as markets), ``GET /gamma/events/keyset``
  [gamma.events_keyset] (``{"events": [...], "next_cursor": ...}``, limit default 20, 1..500),
  ``GET /gamma/events/{id}`` [gamma.event], ``GET /gamma/events/slug/{slug}`` [gamma.event_slug].

Errors: validation problems -> 422 ``{"type": "validation error", "error": "..."}`` (bad booleans, dates, numbers,
unknown ``order`` field -> ``order fields are not valid``, more than 100 ``condition_ids``, bad cursor); unknown
id/slug -> 404 ``{"error": "not found"}``. Unknown query parameters are ignored, as upstream.

Filters (markets): ``closed active archived include_tag`` (true/false/1/0), ``end_date_min/max start_date_min/max``
(ISO date = midnight UTC, or RFC3339; bounds inclusive, compared with the instant shown), ``tag_id``, ``id``
(repeated or comma-joined), ``slug`` (repeated or comma-joined), ``condition_ids`` (repeated or comma-joined, <= 100),
``clob_token_ids`` (REPEATED form only: a comma-joined value is one unknown token, the upstream trap),
``liquidity_num_min/max volume_num_min/max``, ``order`` (comma-separated camelCase fields) and ``ascending``
(default true). Events: ``closed active archived tag_id tag_slug end/start_date_min/max id slug liquidity_min/max
volume_min/max order ascending``. Ties in every ordering break on id ascending, so each ordering is total and a
keyset walk returns every matching item exactly once. Default order: id ascending.

The cursor is opaque (urlsafe base64, no padding) and carries the rank of the last item returned in the query's
ordering, a hash of the originating query (filters + order + ascending, not ``limit``: page size may change
between pages) and a checksum keyed by the world seed. A cursor sent with other filters -> 422; a garbled or
forged cursor -> 422.

Rendering follows the live type contracts (``shape_gamma__markets.json``, ``shape_gamma__events.json``): numbers as
strings where Gamma sends strings (``volume``, ``liquidity``, ``umaBond``...), JSON-encoded strings for
``outcomes``/``outcomePrices``/``clobTokenIds``/``umaResolutionStatuses``, fields omitted rather than null when
empty. Markets carry ``events[]`` (event objects without their markets); events carry ``markets[]`` (market objects
without ``events``) and ``tags``; markets carry ``tags`` only with ``include_tag=true``.

Tags: one per category (Politics 2, Crypto 21, Sports 1, Economics 107, Culture 596, Science 74) plus
``{"id": "101", "label": "Multi Outcome", "slug": "multi-outcome"}`` on negRisk markets/events; ``tag_id`` and
``tag_slug`` match either. ``category`` (the tag label) is present on about half of the markets (``world``'s draw).
Market ``events[]`` and event objects never include ``closedTime``/``category`` in the nested form (the contracts
for nested events do not have them); top-level events do when applicable.

Texts: ``question``/``description`` come from ``texts.py`` (clear or ambiguous by the market's clarity);
``resolutionSource`` is the URL of the source the text names, "" when it names none. An event's ``title`` and
``description`` are a multi-outcome event's own, else its single market's question and description.

Time: everything shows the current view (``clock.py``). With a live clock the tables (orderings, caches) are
rebuilt with each view; a cursor stays valid across a rebuild (same query hash), and its rank applies to the new
ordering: in the default id order new markets only append, other orderings may move items across a rebuild.

Speed: the view, the filter/order arrays and every date string are built once per view (on app startup, and in a
worker thread for each live-clock rebuild; vectorised, about 2 s for 100,000 markets at start-up); each filtered
ordering is cached (LRU of 64 queries) so a keyset page is a binary search plus a slice; uncached markets/events
of a page are rendered together (numbers formatted by one msgspec call per page, string templates otherwise, texts
memoised as JSON literals) and kept in bounded LRUs (32,768 markets, 32,768 events). Measured on the shared 2-core
dev VM (bench/bench_sandbox_http.py, 100,000 markets, limit=100, ~430 KB per page), p50 inside the server:
2.5-2.7 ms for pages rendered for the first time, 0.35-0.5 ms from the LRU; client-observed (httpx over loopback,
same process): 3.7-5.0 ms and 1.3-2.1 ms depending on the VM's load, against ~0.4 ms for a bare aiohttp /ping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from aiohttp import web
from multidict import MultiMapping

from mca_sandbox.clock import views
from mca_sandbox.render import (
    CATEGORY_TAGS,
    MICRO,
    MULTI_TAG,
    Venue,
    floats_cols,
    fmt_micro,
    iso_arr,
    jstr,
    venue,
)
from mca_sandbox.world import CATEGORIES, RESOLVED_FALSE, RESOLVED_TRUE, UNRESOLVED, VOID_5050

LEGACY_LIMIT_CAP = 100
LEGACY_OFFSET_MAX = 2000
DEFAULT_LIMIT = 20
MARKETS_KEYSET_MAX = 100
EVENTS_KEYSET_MAX = 500
MAX_CONDITION_IDS = 100
MARKET_CACHE = 32_768  # rendered markets kept (each ~2.5 KB as head + tail strings)
EVENT_CACHE = 32_768  # rendered event cores kept (each ~1.3 KB)
FILTERED_CACHE = 64  # filtered orderings kept

_DATE_PARAMS = ("end_date_min", "end_date_max", "start_date_min", "start_date_max")
OFFSET_TOO_LARGE = "offset too large, use /markets/keyset for deeper pagination"
JSON = "application/json"


class Invalid(Exception):
    """A request Gamma answers with 422 ``{"type": "validation error", "error": message}``."""


def _invalid(message: str) -> web.Response:
    body = json.dumps({"type": "validation error", "error": message}, separators=(",", ":"))
    return web.Response(body=body.encode(), status=422, content_type=JSON)


def _not_found() -> web.Response:
    return web.Response(body=b'{"error":"not found"}', status=404, content_type=JSON)


# --- query parsing ------------------------------------------------------------------------------------------------
def _bool(q: MultiMapping[str], name: str) -> bool | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise Invalid(f"invalid boolean value for {name}: {raw!r}")


def _int(q: MultiMapping[str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise Invalid(f"invalid integer value for {name}: {raw!r}") from None


def _float(q: MultiMapping[str], name: str) -> float | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"invalid number for {name}: {raw!r}") from None
    if not np.isfinite(value):
        raise Invalid(f"invalid number for {name}: {raw!r}")
    return value


def _instant_us(q: MultiMapping[str], name: str) -> int | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            if "T" not in text and " " not in text:
                raise ValueError(text)
            moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise Invalid(f"invalid date for {name}: {raw!r} (expected YYYY-MM-DD or RFC3339)") from None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICRO + delta.microseconds


def _values(q: MultiMapping[str], name: str, split: bool = True) -> list[str] | None:
    raw = q.getall(name, [])
    if not raw:
        return None
    out: list[str] = []
    for item in raw:
        parts = item.split(",") if split else [item]
        out.extend(p.strip() for p in parts if p.strip())
    return out


def _ids(q: MultiMapping[str], name: str) -> list[int] | None:
    values = _values(q, name)
    if values is None:
        return None
    try:
        return [int(v, 10) for v in values]
    except ValueError:
        raise Invalid(f"invalid integer value for {name}") from None


# --- tables: filter and order arrays, cached filtered orderings ---------------------------------------------------
class Table:
    """One listable collection (markets or events): filters, orderings and the cache of filtered orderings."""

    def __init__(self, kind: str, size: int, visible: np.ndarray, order_keys: dict[str, Callable[[], np.ndarray]]):
        self.kind = kind
        self.size = size
        self.visible = visible
        self.order_keys = order_keys
        self._orders: dict[tuple[tuple[str, ...], bool], tuple[np.ndarray, np.ndarray]] = {}
        self._filtered: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def ordering(self, fields: tuple[str, ...], ascending: bool) -> tuple[np.ndarray, np.ndarray]:
        """(order, rank): item indices in this ordering, and each item's position in it."""
        key = (fields, ascending)
        found = self._orders.get(key)
        if found is not None:
            return found
        idx = np.arange(self.size, dtype=np.int64)
        if fields == ("id",) or not fields:
            order = idx if ascending else idx[::-1].copy()
        else:
            keys: list[np.ndarray] = [idx]  # tie-break: id ascending
            for name in reversed(fields):
                values = self.order_keys[name]()
                keys.append(values if ascending else -values)
            order = np.lexsort(keys)
        rank = np.empty(self.size, dtype=np.int64)
        rank[order] = idx
        self._orders[key] = (order, rank)
        return order, rank

    def filtered(
        self, key: tuple[Any, ...], mask_fn: Callable[[], np.ndarray], fields: tuple[str, ...], ascending: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(items, their ranks) matching the filters, in the ordering; cached per query."""
        found = self._filtered.get(key)
        if found is not None:
            self._filtered.move_to_end(key)
            return found
        order, rank = self.ordering(fields, ascending)
        mask = mask_fn()
        items = order[mask[order]]
        result = (items, rank[items])
        self._filtered[key] = result
        if len(self._filtered) > FILTERED_CACHE:
            self._filtered.popitem(last=False)
        return result


def _order_spec(q: MultiMapping[str], table: Table) -> tuple[tuple[str, ...], bool]:
    raw = q.get("order")
    fields: tuple[str, ...] = ("id",)
    if raw:
        names = tuple(f.strip() for f in raw.split(",") if f.strip())
        if not names or any(name not in table.order_keys for name in names):
            raise Invalid("order fields are not valid")
        fields = names
    ascending = _bool(q, "ascending")
    return fields, True if ascending is None else ascending


# --- cursors ------------------------------------------------------------------------------------------------------
_CURSOR = struct.Struct(">BQ8s8s")  # version, last rank, query hash, checksum


def _query_hash(canonical: tuple[Any, ...]) -> bytes:
    return hashlib.sha256(repr(canonical).encode()).digest()[:8]


def _checksum(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()[:8]


def encode_cursor(secret: bytes, last_rank: int, qhash: bytes) -> str:
    body = _CURSOR.pack(1, last_rank, qhash, b"\0" * 8)[:-8]
    return base64.urlsafe_b64encode(body + _checksum(secret, body)).rstrip(b"=").decode()


def decode_cursor(secret: bytes, cursor: str, qhash: bytes) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, last_rank, got_hash, check = _CURSOR.unpack(raw)
    except (ValueError, struct.error, UnicodeEncodeError, TypeError):
        raise Invalid("invalid cursor") from None
    if version != 1 or not hmac.compare_digest(check, _checksum(secret, raw[:-8])):
        raise Invalid("invalid cursor")
    if got_hash != qhash:
        raise Invalid("cursor does not match this query: send the same filters, order and ascending on every page")
    return last_rank


# --- the Gamma view ------------------------------------------------------------------------------------------------
_SUBMITTER = "0x91430CaD2d3975766499717fA0D66A78D814E5c5"
_RESOLVER = "0x65070BE91477460D8A7AeEb94ef92fe056C2f2A7"
_IMG = "https://polymarket-upload.s3.us-east-2.amazonaws.com/"
_OUTCOMES = jstr('["Yes", "No"]')
_FEE_SCHEDULE = '{"exponent":1,"rate":0.04,"takerOnly":true,"rebateRate":0.25}'


def _tag_json(tag: tuple[int, str, str]) -> str:
    return f'{{"id":"{tag[0]}","label":{jstr(tag[1])},"slug":"{tag[2]}"}}'


_CATEGORY_TAG_JSON = [_tag_json(t) for t in CATEGORY_TAGS]
_CATEGORY_FIELD = [f',"category":"{t[1]}"' for t in CATEGORY_TAGS]
_STATUSES_NONE = jstr("[]")
_UMA_RESOLVED = (RESOLVED_TRUE, RESOLVED_FALSE, VOID_5050)
_FEES = ',"makerBaseFee":1000,"takerBaseFee":1000'
_REWARDS_FINE = ',"rewardsMinSize":20,"rewardsMaxSpread":3.5'
_REWARDS_COARSE = ',"rewardsMinSize":50,"rewardsMaxSpread":4.5'
_CONSTANT_TAIL = (
    ',"clearBookOnStart":true,"seriesColor":"","showGmpSeries":false,"showGmpOutcome":false'
    ',"manualActivation":false,"negRiskOther":false'
)
_FEE_TYPES = [f',"feeType":"{c}_fees","feeSchedule":{_FEE_SCHEDULE}' for c in CATEGORIES]
_NO_FEE_TYPE = ',"feeType":null'
_AUTO_RESOLVED = ',"automaticallyResolved":true'
_PRICES: dict[tuple[int, int], str] = {}


def _outcome_prices(yes_u: int, no_u: int) -> str:
    """The JSON literal of ``outcomePrices`` (a JSON-encoded string), memoised: prices sit on a small tick grid."""
    text = jstr(f'["{fmt_micro(yes_u)}", "{fmt_micro(no_u)}"]')
    if len(_PRICES) < 100_000:
        _PRICES[(yes_u, no_u)] = text
    return text


_SORT_BY = ',"sortBy":"price"'
_NOT_NEG = ',"negRisk":false'
_STATUSES_PROPOSED = jstr('["proposed"]')
_STATUSES_DISPUTED = jstr('["proposed", "disputed"]')
_MULTI_TAG_JSON = _tag_json(MULTI_TAG)


class Gamma:
    """Filters, orderings and renderers of Gamma objects for one venue."""

    def __init__(self, v: Venue) -> None:
        self.v = v
        self.world = v.world
        self.secret = hashlib.sha256(f"gamma-cursor:{v.seed}".encode()).digest()
        self._market_cache: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._event_cache: OrderedDict[int, str] = OrderedDict()
        n = self.world.n_markets
        ne = self.world.n_events
        market_id = np.arange(n, dtype=np.float64)
        event_id = np.arange(ne, dtype=np.float64)

        def fl(a: np.ndarray) -> Callable[[], np.ndarray]:
            return lambda: np.asarray(a, dtype=np.float64)

        mk: dict[str, Callable[[], np.ndarray]] = {
            "id": fl(market_id),
            "volume": fl(v.volume),
            "volumeNum": fl(v.volume),
            "liquidity": fl(v.liquidity),
            "liquidityNum": fl(v.liquidity),
            "endDate": fl(v.end_us),
            "endDateIso": fl(v.end_us),
            "startDate": fl(v.start_us),
            "startDateIso": fl(v.start_us),
            "createdAt": fl(v.created_us),
            "updatedAt": fl(v.updated_us),
            "closedTime": fl(v.closed_ts),
            "volume24hr": fl(v.windows["24hr"]),
            "volume1wk": fl(v.windows["1wk"]),
            "volume1mo": fl(v.windows["1mo"]),
            "volume1yr": fl(v.windows["1yr"]),
            "lastTradePrice": fl(v.yes_u),
            "oneDayPriceChange": fl(v.day_change),
            "spread": fl(v.spread_u),
        }
        ek: dict[str, Callable[[], np.ndarray]] = {
            "id": fl(event_id),
            "volume": fl(v.ev_volume),
            "liquidity": fl(v.ev_liquidity),
            "openInterest": fl(v.ev_open_interest),
            "endDate": fl(v.ev_end_us),
            "startDate": fl(v.ev_start_us),
            "creationDate": fl(v.ev_creation_us),
            "createdAt": fl(v.ev_created_us),
            "updatedAt": fl(v.ev_updated_us),
            "closedTime": fl(v.ev_closed_ts),
            "volume24hr": fl(v.ev_windows["24hr"]),
            "volume1wk": fl(v.ev_windows["1wk"]),
            "volume1mo": fl(v.ev_windows["1mo"]),
            "volume1yr": fl(v.ev_windows["1yr"]),
            "commentCount": fl(v.ev_comments),
        }
        self.markets = Table("markets", n, v.visible, mk)
        self.events = Table("events", ne, v.ev_visible, ek)
        # Every date string shown, formatted once for the whole world (vectorised; "Z" is added by the templates):
        # rendering a page then only indexes these arrays.
        self.m_end = iso_arr(v.end_us, "s")
        self.m_start = iso_arr(v.start_us, "ms")
        self.m_created = iso_arr(v.created_us, "us")
        self.m_updated = iso_arr(v.updated_us, "us")
        self.m_resolved = iso_arr(v.resolved_s * MICRO, "s")
        self.m_accepting = iso_arr(v.created_s * MICRO, "s")
        self.m_end_day = iso_arr(v.end_s * MICRO, "D")
        self.m_start_day = iso_arr(v.created_s * MICRO, "D")
        self.e_start = iso_arr(v.ev_start_us, "us")
        self.e_creation = iso_arr(v.ev_creation_us, "us")
        self.e_end = iso_arr(v.ev_end_us, "s")
        self.e_created = iso_arr(v.ev_created_us, "us")
        self.e_updated = iso_arr(v.ev_updated_us, "us")
        self.e_resolved = iso_arr(v.ev_resolved_s * MICRO, "s")

    # --- filters -------------------------------------------------------------------------------------------------
    def market_query(self, q: MultiMapping[str]) -> tuple[tuple[Any, ...], Callable[[], np.ndarray]]:
        """Parse market filters: (canonical query, mask builder). Raises Invalid."""
        v = self.v
        closed = _bool(q, "closed")
        active = _bool(q, "active")
        archived = _bool(q, "archived")
        dates = {name: _instant_us(q, name) for name in _DATE_PARAMS}
        tag_id = _int(q, "tag_id")
        ids = _ids(q, "id")
        slugs = _values(q, "slug")
        conditions = _values(q, "condition_ids")
        if conditions is not None and len(conditions) > MAX_CONDITION_IDS:
            raise Invalid(f"too many condition_ids: {len(conditions)} (at most {MAX_CONDITION_IDS} per request)")
        tokens = _values(q, "clob_token_ids", split=False)
        nums = {
            name: _float(q, name)
            for name in ("liquidity_num_min", "liquidity_num_max", "volume_num_min", "volume_num_max")
        }
        canonical = (
            ("closed", closed),
            ("active", active),
            ("archived", archived),
            *sorted(dates.items()),
            ("tag_id", tag_id),
            ("id", tuple(sorted(set(ids))) if ids is not None else None),
            ("slug", tuple(sorted(set(slugs))) if slugs is not None else None),
            ("condition_ids", tuple(sorted({c.lower() for c in conditions})) if conditions is not None else None),
            ("clob_token_ids", tuple(sorted(set(tokens))) if tokens is not None else None),
            *sorted(nums.items()),
        )

        def mask() -> np.ndarray:
            m = v.visible.copy()
            if closed is not None:
                m &= v.closed == closed
            if active is False or archived is True:
                m[:] = False
            for name, arr in (("end_date", v.end_us), ("start_date", v.start_us)):
                lo, hi = dates[f"{name}_min"], dates[f"{name}_max"]
                if lo is not None:
                    m &= arr >= lo
                if hi is not None:
                    m &= arr <= hi
            if tag_id is not None:
                if tag_id == MULTI_TAG[0]:
                    m &= v.neg_risk
                elif 0 <= tag_id < 1 << 31:
                    m &= v.tag_id == tag_id
                else:
                    m[:] = False
            wanted: list[int] = []
            if ids is not None:
                wanted_ids = [i - 500_000 for i in ids]
                m &= np.isin(np.arange(self.world.n_markets), [i for i in wanted_ids if 0 <= i < self.world.n_markets])
            if slugs is not None:
                wanted = [i for i in (v.market_by_slug(s) for s in slugs) if i is not None]
                m &= np.isin(np.arange(self.world.n_markets), wanted)
            if conditions is not None:
                wanted = [i for i in (v.market_by_condition(c) for c in conditions) if i is not None]
                m &= np.isin(np.arange(self.world.n_markets), wanted)
            if tokens is not None:
                found = [v.market_by_token(t) for t in tokens]
                m &= np.isin(np.arange(self.world.n_markets), [f[0] for f in found if f is not None])
            for name, arr in (("liquidity_num", v.liquidity), ("volume_num", v.volume)):
                lo, hi = nums[f"{name}_min"], nums[f"{name}_max"]
                if lo is not None:
                    m &= arr >= lo
                if hi is not None:
                    m &= arr <= hi
            return m

        return canonical, mask

    def event_query(self, q: MultiMapping[str]) -> tuple[tuple[Any, ...], Callable[[], np.ndarray]]:
        v = self.v
        ne = self.world.n_events
        closed = _bool(q, "closed")
        active = _bool(q, "active")
        archived = _bool(q, "archived")
        dates = {name: _instant_us(q, name) for name in _DATE_PARAMS}
        tag_id = _int(q, "tag_id")
        tag_slug = (q.get("tag_slug") or "").strip().lower() or None
        ids = _ids(q, "id")
        slugs = _values(q, "slug")
        nums = {name: _float(q, name) for name in ("liquidity_min", "liquidity_max", "volume_min", "volume_max")}
        canonical = (
            ("closed", closed),
            ("active", active),
            ("archived", archived),
            *sorted(dates.items()),
            ("tag_id", tag_id),
            ("tag_slug", tag_slug),
            ("id", tuple(sorted(set(ids))) if ids is not None else None),
            ("slug", tuple(sorted(set(slugs))) if slugs is not None else None),
            *sorted(nums.items()),
        )

        def tag_mask(tag: tuple[int, str, str] | None) -> np.ndarray:
            if tag is None:
                return np.zeros(ne, dtype=bool)
            if tag == MULTI_TAG:
                return v.ev_neg_risk.copy()
            return v.ev_tag_id == tag[0]

        def mask() -> np.ndarray:
            m = v.ev_visible.copy()
            if closed is not None:
                m &= v.ev_closed == closed
            if active is False or archived is True:
                m[:] = False
            for name, arr in (("end_date", v.ev_end_us), ("start_date", v.ev_start_us)):
                lo, hi = dates[f"{name}_min"], dates[f"{name}_max"]
                if lo is not None:
                    m &= arr >= lo
                if hi is not None:
                    m &= arr <= hi
            all_tags = (*CATEGORY_TAGS, MULTI_TAG)
            if tag_id is not None:
                m &= tag_mask(next((t for t in all_tags if t[0] == tag_id), None))
            if tag_slug is not None:
                m &= tag_mask(next((t for t in all_tags if t[2] == tag_slug), None))
            if ids is not None:
                wanted = [i - 90_000 for i in ids]
                m &= np.isin(np.arange(ne), [i for i in wanted if 0 <= i < ne])
            if slugs is not None:
                found = [v.event_by_slug(s) for s in slugs]
                m &= np.isin(np.arange(ne), [e for e in found if e is not None])
            for name, arr in (("liquidity", v.ev_liquidity), ("volume", v.ev_volume)):
                lo, hi = nums[f"{name}_min"], nums[f"{name}_max"]
                if lo is not None:
                    m &= arr >= lo
                if hi is not None:
                    m &= arr <= hi
            return m

        return canonical, mask

    # --- rendering (vectorised per batch of uncached items, then cached) ------------------------------------------
    def _render_event_cores(self, es: list[int]) -> list[str]:
        """The events' own fields (no braces, no markets/tags/category/closedTime), as nested in markets."""
        v = self.v
        idx = np.asarray(es, dtype=np.int64)
        first = v.ev_first[idx].tolist()
        cat = v.ev_category[idx].tolist()
        neg = v.ev_neg_risk[idx].tolist()
        closed = v.ev_closed[idx].tolist()
        start = self.e_start[idx].tolist()
        creation = self.e_creation[idx].tolist()
        end = self.e_end[idx].tolist()
        created = self.e_created[idx].tolist()
        updated = self.e_updated[idx].tolist()
        comments = v.ev_comments[idx].tolist()
        competitive = np.round(np.maximum(0.0, 1.0 - 4.0 * v.spread_u[v.ev_first[idx]] / MICRO), 6)
        liq, vol, oi, w24, w1w, w1m, w1y, competitive = floats_cols(
            v.ev_liquidity[idx],
            v.ev_volume[idx],
            v.ev_open_interest[idx],
            *(v.ev_windows[k][idx] for k in ("24hr", "1wk", "1mo", "1yr")),
            np.where(v.ev_closed[idx], 0.0, competitive),
        )
        texts = v.catalog.texts
        out = []
        for i, e in enumerate(es):
            eid = 90_000 + e
            category = CATEGORIES[cat[i]]
            slug = f"{category}-event-{eid}"
            title, description = texts.event_json(e)
            source = texts.market_json(first[i])[2]
            neg_fields = f',"negRisk":true,"negRiskMarketID":"{v.neg_risk_market_ids[e]}"' if neg[i] else _NOT_NEG
            out.append(
                f'"id":"{eid}","ticker":"{slug}","slug":"{slug}","title":{title},"description":{description}'
                f',"resolutionSource":"{source}","startDate":"{start[i]}Z","creationDate":"{creation[i]}Z"'
                f',"endDate":"{end[i]}Z","image":"{_IMG}{slug}.png","icon":"{_IMG}{slug}.png"'
                f',"active":true,"closed":{"true" if closed[i] else "false"},"archived":false,"new":false'
                f',"featured":false,"restricted":true,"liquidity":{liq[i]},"volume":{vol[i]},"openInterest":{oi[i]}'
                f"{_SORT_BY if neg[i] else ''}"
                f',"createdAt":"{created[i]}Z","updatedAt":"{updated[i]}Z","competitive":{competitive[i]}'
                f',"volume24hr":{w24[i]},"volume1wk":{w1w[i]},"volume1mo":{w1m[i]},"volume1yr":{w1y[i]}'
                f',"enableOrderBook":true,"liquidityClob":{liq[i]}{neg_fields}'
                f',"commentCount":{comments[i]},"cyom":false,"showAllOutcomes":true,"showMarketImages":true'
                f',"enableNegRisk":{"true" if neg[i] else "false"},"automaticallyActive":true'
                ',"negRiskAugmented":false,"pendingDeployment":false,"deploying":false,"requiresTranslation":false'
            )
        return out

    def _render_markets(self, ms: list[int]) -> list[tuple[str, str]]:
        """(head, tail) per market: the market object is head + [',"events":[...]'] + tail + [tags] + '}'."""
        v, w = self.v, self.world
        idx = np.asarray(ms, dtype=np.int64)
        ev = w.market_event[idx].tolist()
        closed = v.closed[idx].tolist()
        label = v.label[idx].tolist()
        neg = v.neg_risk[idx].tolist()
        position = v.position[idx].tolist()
        dust = v.dust[idx].tolist()
        has_liq = (v.liquidity[idx] > 0).tolist()
        has_cat = v.has_category[idx].tolist()
        cat = v.category[idx].tolist()
        fine = (v.tick[idx] == 0.001).tolist()
        fees = v.fees_enabled[idx].tolist()
        disputed = v.uma_disputed[idx].tolist()
        yes_out = v.outcome_yes_u[idx].tolist()
        no_out = v.outcome_no_u[idx].tolist()
        changed = (v.day_change[idx] != 0).tolist()
        bid_u = v.bid_ticks[idx] * v.tick_u[idx]
        ask_u = v.ask_ticks[idx] * v.tick_u[idx]
        vol, liq, tick, change, last, bid, ask, spread, competitive, w24, w1w, w1m, w1y = floats_cols(
            v.volume[idx],
            v.liquidity[idx],
            v.tick[idx],
            np.round(v.day_change[idx], 6),
            v.yes_u[idx] / MICRO,
            bid_u / MICRO,
            ask_u / MICRO,
            (ask_u - bid_u) / MICRO,
            np.round(np.maximum(0.0, 1.0 - 4.0 * v.spread_u[idx] / MICRO), 6),
            *(v.windows[k][idx] for k in ("24hr", "1wk", "1mo", "1yr")),
        )
        end = self.m_end[idx].tolist()
        start = self.m_start[idx].tolist()
        created = self.m_created[idx].tolist()
        updated = self.m_updated[idx].tolist()
        resolved = self.m_resolved[idx].tolist()
        accepting = self.m_accepting[idx].tolist()
        end_iso = self.m_end_day[idx].tolist()
        start_iso = self.m_start_day[idx].tolist()
        slugs, cond_ids, q_ids, yes_ids, no_ids = v.slugs, v.condition_ids, v.question_ids, v.yes_tokens, v.no_tokens
        neg_market_ids, neg_request_ids = v.neg_risk_market_ids, v.neg_risk_request_ids
        texts = v.catalog.texts
        out = []
        for i, m in enumerate(ms):
            slug = slugs[m]
            lab = label[i]
            resolved_uma = lab in _UMA_RESOLVED
            if resolved_uma:
                status, statuses = ',"umaResolutionStatus":"resolved"', _STATUSES_PROPOSED
            elif lab == UNRESOLVED:
                status = ',"umaResolutionStatus":"disputed"' if disputed[i] else ',"umaResolutionStatus":"proposed"'
                statuses = _STATUSES_DISPUTED if disputed[i] else _STATUSES_PROPOSED
            else:
                status, statuses = "", _STATUSES_NONE
            is_closed, is_neg, has_fees = closed[i], neg[i], fees[i]
            if dust[i]:
                volume = volume_num = volume_wins = volume_clob = last_trade = ""
            else:
                vs = vol[i]
                volume = f',"volume":"{vs}"'
                volume_num = f',"volumeNum":{vs}'
                volume_wins = f',"volume24hr":{w24[i]},"volume1wk":{w1w[i]},"volume1mo":{w1m[i]},"volume1yr":{w1y[i]}'
                volume_clob = (
                    f',"volume24hrClob":{w24[i]},"volume1wkClob":{w1w[i]},"volume1moClob":{w1m[i]}'
                    f',"volume1yrClob":{w1y[i]},"volumeClob":{vs}'
                )
                last_trade = f',"lastTradePrice":{last[i]}'
            if has_liq[i]:
                ls = liq[i]
                liquidity, liquidity_num, liquidity_clob = (
                    f',"liquidity":"{ls}"',
                    f',"liquidityNum":{ls}',
                    f',"liquidityClob":{ls}',
                )
            else:
                liquidity = liquidity_num = liquidity_clob = ""
            mid = 500_000 + m
            prices = _PRICES.get((yes_out[i], no_out[i])) or _outcome_prices(yes_out[i], no_out[i])
            question, description, source = texts.market_json(m)
            if is_neg:
                group = f',"groupItemTitle":"Outcome {position[i] + 1}","groupItemThreshold":"{position[i]}"'
                neg_ids = f',"negRiskMarketID":"{neg_market_ids[ev[i]]}"'
                request_id = neg_request_ids[m]
            else:
                group = neg_ids = request_id = ""
            day_change = f',"oneDayPriceChange":{change[i]}' if changed[i] else ""
            if is_closed:
                closed_fields = f',"closedTime":"{resolved[i].replace("T", " ")}+00"'
                quote = day_change + last_trade
                competitive_s = "0.0"
            else:
                closed_fields = ""
                quote = f',"spread":{spread[i]}{day_change}{last_trade},"bestBid":{bid[i]},"bestAsk":{ask[i]}'
                competitive_s = competitive[i]
            img = f"{_IMG}{slug}.png"
            uma_end = f',"umaEndDate":"{resolved[i]}Z"' if status else ""
            head = (
                f'{{"id":"{mid}","question":{question},"conditionId":"{cond_ids[m]}"'
                f',"slug":"{slug}","resolutionSource":"{source}","endDate":"{end[i]}Z"'
                f"{_CATEGORY_FIELD[cat[i]] if has_cat[i] else ''}{liquidity}"
                f',"startDate":"{start[i]}Z","image":"{img}","icon":"{img}"'
                f',"description":{description},"outcomes":{_OUTCOMES}'
                f',"outcomePrices":{prices}{volume}'
                f',"active":true,"closed":{"true" if is_closed else "false"},"marketMakerAddress":""'
                f',"createdAt":"{created[i]}Z","updatedAt":"{updated[i]}Z"{closed_fields}'
                f',"new":false,"featured":false,"submitted_by":"{_SUBMITTER}","archived":false'
                f',"resolvedBy":"{_RESOLVER}","restricted":true{group},"questionID":"{q_ids[m]}"{uma_end}'
                f',"enableOrderBook":true,"orderPriceMinTickSize":{tick[i]},"orderMinSize":5{status}'
                f'{volume_num}{liquidity_num},"endDateIso":"{end_iso[i]}","startDateIso":"{start_iso[i]}"'
                f',"hasReviewedDates":true{volume_wins}'
                f',"clobTokenIds":"[\\"{yes_ids[m]}\\", \\"{no_ids[m]}\\"]"'
                f',"umaBond":"{500 if fine[i] else 750}","umaReward":"5"{volume_clob}{liquidity_clob}'
                f"{_FEES if has_fees else ''}"
                f',"customLiveness":0,"acceptingOrders":{"false" if is_closed else "true"}'
                f',"negRisk":{"true" if is_neg else "false"}{neg_ids},"negRiskRequestID":"{request_id}"'
            )
            tail = (
                f',"ready":false,"funded":false,"acceptingOrdersTimestamp":"{accepting[i]}Z"'
                f',"cyom":false,"competitive":{competitive_s},"pagerDutyNotificationEnabled":false,"approved":true'
                f"{_REWARDS_FINE if fine[i] else _REWARDS_COARSE}{quote}"
                f',"automaticallyActive":true{_AUTO_RESOLVED if resolved_uma else ""}{_CONSTANT_TAIL}'
                f',"umaResolutionStatuses":{statuses},"pendingDeployment":false,"deploying":false'
                f',"rfqEnabled":false,"holdingRewardsEnabled":{"true" if is_neg else "false"}'
                f',"feesEnabled":{"true" if has_fees else "false"},"requiresTranslation":false'
                f"{_FEE_TYPES[cat[i]] if has_fees else _NO_FEE_TYPE}"
            )
            out.append((head, tail))
        return out

    def _cached(
        self, cache: OrderedDict[int, Any], keys: list[int], render: Callable[[list[int]], list[Any]], cap: int
    ) -> list[Any]:
        missing = sorted({k for k in keys if k not in cache})
        if missing:
            for k, value in zip(missing, render(missing), strict=True):
                cache[k] = value
        out = []
        for k in keys:
            cache.move_to_end(k)
            out.append(cache[k])
        while len(cache) > cap:
            cache.popitem(last=False)
        return out

    def markets_json(self, ms: list[int], include_tag: bool = False, with_events: bool = True) -> list[str]:
        parts = self._cached(self._market_cache, ms, self._render_markets, MARKET_CACHE)
        if with_events:
            events = self.world.market_event[np.asarray(ms, dtype=np.int64)].tolist()
            cores = self._cached(self._event_cache, events, self._render_event_cores, EVENT_CACHE)
        out = []
        for i, m in enumerate(ms):
            head, tail = parts[i]
            nested = f',"events":[{{{cores[i]}}}]' if with_events else ""
            tags = f',"tags":{self.market_tags(m)}' if include_tag else ""
            out.append(f"{head}{nested}{tail}{tags}}}")
        return out

    def market_tags(self, m: int) -> str:
        tags = [_CATEGORY_TAG_JSON[int(self.v.category[m])]]
        if self.v.neg_risk[m]:
            tags.append(_MULTI_TAG_JSON)
        return "[" + ",".join(tags) + "]"

    def event_tags(self, e: int) -> str:
        tags = [_CATEGORY_TAG_JSON[int(self.v.ev_category[e])]]
        if self.v.ev_neg_risk[e]:
            tags.append(_MULTI_TAG_JSON)
        return "[" + ",".join(tags) + "]"

    def events_json(self, es: list[int]) -> list[str]:
        v = self.v
        cores = self._cached(self._event_cache, es, self._render_event_cores, EVENT_CACHE)
        idx = np.asarray(es, dtype=np.int64)
        firsts = v.ev_first[idx].tolist()
        sizes = v.ev_size[idx].tolist()
        all_markets = [m for f, n in zip(firsts, sizes, strict=True) for m in range(f, f + n)]
        rendered = iter(self.markets_json(all_markets, with_events=False))
        closed_time = self.e_resolved[idx].tolist()
        out = []
        for i, e in enumerate(es):
            extra = ""
            if v.ev_has_category[e]:
                extra += _CATEGORY_FIELD[int(v.ev_category[e])]
            if v.ev_closed[e]:
                extra += f',"closedTime":"{closed_time[i].replace("T", " ")}+00"'
                if int(v.label[firsts[i]]) in (RESOLVED_TRUE, RESOLVED_FALSE, VOID_5050):
                    extra += ',"automaticallyResolved":true'
            markets = ",".join(next(rendered) for _ in range(sizes[i]))
            out.append(f'{{{cores[i]}{extra},"markets":[{markets}],"tags":{self.event_tags(e)}}}')
        return out


def _b(flag: bool) -> str:
    return "true" if flag else "false"


def gamma_of(v: Venue) -> Gamma:
    """The Gamma tables of a view, built on first use (``clock.Views`` builds them with each new view)."""
    found = v.cache.get("gamma")
    if found is None:
        found = v.cache["gamma"] = Gamma(v)
    return found


def gamma(app: web.Application) -> Gamma:
    return gamma_of(venue(app))


def _body(text: str, status: int = 200) -> web.Response:
    return web.Response(body=text.encode(), status=status, content_type=JSON)


# --- handlers -----------------------------------------------------------------------------------------------------
def _legacy_page(q: MultiMapping[str]) -> tuple[int, int]:
    limit = _int(q, "limit")
    offset = _int(q, "offset")
    if limit is None:
        limit = DEFAULT_LIMIT
    if limit < 0:
        raise Invalid("limit must be a non-negative integer")
    if offset is None:
        offset = 0
    if offset < 0:
        raise Invalid("offset must be a non-negative integer")
    if offset > LEGACY_OFFSET_MAX:
        raise Invalid(OFFSET_TOO_LARGE)
    return min(limit, LEGACY_LIMIT_CAP), offset


def _keyset_limit(q: MultiMapping[str], cap: int) -> int:
    if "offset" in q:
        raise Invalid("offset is not supported on keyset endpoints; continue with after_cursor=<next_cursor>")
    limit = _int(q, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= cap:
        raise Invalid(f"limit must be between 1 and {cap}")
    return limit


async def markets_legacy(request: web.Request) -> web.Response:
    g = gamma(request.app)
    q = request.query
    try:
        limit, offset = _legacy_page(q)
        canonical, mask = g.market_query(q)
        fields, asc = _order_spec(q, g.markets)
        include_tag = bool(_bool(q, "include_tag"))
    except Invalid as exc:
        return _invalid(str(exc))
    items, _ = g.markets.filtered(("m", canonical, fields, asc), mask, fields, asc)
    page = items[offset : offset + limit].tolist()
    return _body("[" + ",".join(g.markets_json(page, include_tag)) + "]")


async def markets_keyset(request: web.Request) -> web.Response:
    g = gamma(request.app)
    q = request.query
    try:
        limit = _keyset_limit(q, MARKETS_KEYSET_MAX)
        canonical, mask = g.market_query(q)
        fields, asc = _order_spec(q, g.markets)
        include_tag = bool(_bool(q, "include_tag"))
        key = ("m", canonical, fields, asc)
        qhash = _query_hash(key)
        after = q.get("after_cursor")
        last_rank = decode_cursor(g.secret, after, qhash) if after else -1
    except Invalid as exc:
        return _invalid(str(exc))
    items, ranks = g.markets.filtered(key, mask, fields, asc)
    start = int(np.searchsorted(ranks, last_rank, side="right"))
    page = items[start : start + limit].tolist()
    body = '{"markets":[' + ",".join(g.markets_json(page, include_tag)) + "]"
    if start + limit < len(items):
        body += f',"next_cursor":"{encode_cursor(g.secret, int(ranks[start + limit - 1]), qhash)}"'
    return _body(body + "}")


async def market_by_id(request: web.Request) -> web.Response:
    g = gamma(request.app)
    raw = request.match_info["id"]
    if not raw.isdigit():
        return _invalid(f"invalid id: {raw!r}")
    try:
        include_tag = bool(_bool(request.query, "include_tag"))
    except Invalid as exc:
        return _invalid(str(exc))
    m = g.v.market_index(raw)
    if m is None:
        return _not_found()
    return _body(g.markets_json([m], include_tag)[0])


async def market_by_slug(request: web.Request) -> web.Response:
    g = gamma(request.app)
    try:
        include_tag = bool(_bool(request.query, "include_tag"))
    except Invalid as exc:
        return _invalid(str(exc))
    m = g.v.market_by_slug(request.match_info["slug"])
    if m is None:
        return _not_found()
    return _body(g.markets_json([m], include_tag)[0])


async def events_legacy(request: web.Request) -> web.Response:
    g = gamma(request.app)
    q = request.query
    try:
        limit, offset = _legacy_page(q)
        canonical, mask = g.event_query(q)
        fields, asc = _order_spec(q, g.events)
    except Invalid as exc:
        return _invalid(str(exc))
    items, _ = g.events.filtered(("e", canonical, fields, asc), mask, fields, asc)
    page = items[offset : offset + limit].tolist()
    return _body("[" + ",".join(g.events_json(page)) + "]")


async def events_keyset(request: web.Request) -> web.Response:
    g = gamma(request.app)
    q = request.query
    try:
        limit = _keyset_limit(q, EVENTS_KEYSET_MAX)
        canonical, mask = g.event_query(q)
        fields, asc = _order_spec(q, g.events)
        key = ("e", canonical, fields, asc)
        qhash = _query_hash(key)
        after = q.get("after_cursor")
        last_rank = decode_cursor(g.secret, after, qhash) if after else -1
    except Invalid as exc:
        return _invalid(str(exc))
    items, ranks = g.events.filtered(key, mask, fields, asc)
    start = int(np.searchsorted(ranks, last_rank, side="right"))
    page = items[start : start + limit].tolist()
    body = '{"events":[' + ",".join(g.events_json(page)) + "]"
    if start + limit < len(items):
        body += f',"next_cursor":"{encode_cursor(g.secret, int(ranks[start + limit - 1]), qhash)}"'
    return _body(body + "}")


async def event_by_id(request: web.Request) -> web.Response:
    g = gamma(request.app)
    raw = request.match_info["id"]
    if not raw.isdigit():
        return _invalid(f"invalid id: {raw!r}")
    e = g.v.event_index(raw)
    if e is None:
        return _not_found()
    return _body(g.events_json([e])[0])


async def event_by_slug(request: web.Request) -> web.Response:
    g = gamma(request.app)
    e = g.v.event_by_slug(request.match_info["slug"])
    if e is None:
        return _not_found()
    return _body(g.events_json([e])[0])


def setup(app: web.Application) -> None:
    """Register the Gamma routes under /gamma (keyset routes before the /{id} ones); tables built with each view."""
    views(app).warmers.append(gamma_of)
    r = app.router
    r.add_get("/gamma/markets", markets_legacy, name="gamma.markets")
    r.add_get("/gamma/markets/keyset", markets_keyset, name="gamma.markets_keyset")
    r.add_get("/gamma/markets/slug/{slug}", market_by_slug, name="gamma.market_slug")
    r.add_get("/gamma/markets/{id}", market_by_id, name="gamma.market")
    r.add_get("/gamma/events", events_legacy, name="gamma.events")
    r.add_get("/gamma/events/keyset", events_keyset, name="gamma.events_keyset")
    r.add_get("/gamma/events/slug/{slug}", event_by_slug, name="gamma.event_slug")
    r.add_get("/gamma/events/{id}", event_by_id, name="gamma.event")
