"""Pure normalisation of Polymarket REST payloads (Gamma markets/events, CLOB book/market/history).

Promises:

- No function here raises on bad upstream data. A record that fails validation comes back as a
  ``Rejection`` (source, reason naming the field, record id if any, raw excerpt); batch helpers
  collect rejections and carry on, so ``len(records) + len(rejections)`` accounts for every input.
- Validation: required ids present (``id`` and ``conditionId`` for Gamma markets, ``id`` for
  events, ``condition_id`` for CLOB markets, ``asset_id``/``market``/``timestamp`` for books);
  JSON types as upstream documents them (numbers may also be numeric strings); no NaN/inf;
  prices in [0, 1]; sizes/volumes non-negative; ``outcomes``, ``outcomePrices`` and
  ``clobTokenIds`` of equal length when present; parseable dates.
- Legacy shapes are valid: ``outcomePrices`` ``["0", "0"]`` and fractional (scalar) settles parse.
- Token ids stay exact decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple

from mca_core._fields import (
    Invalid,
    check_token_id,
    excerpt,
    opt_bool,
    opt_float,
    opt_id,
    opt_text,
    opt_ts,
    price_list,
    record_id_of,
    req_id,
    str_list,
    tag_names,
    to_float,
    token_id_list,
)
from mca_core.records import (
    Book,
    BookLevel,
    ClobMarket,
    ClobToken,
    Event,
    Market,
    NormalizedBatch,
    PricePoint,
    Rejection,
)

__all__ = [
    "EventResult",
    "normalize_book",
    "normalize_clob_market",
    "normalize_gamma_event",
    "normalize_gamma_events",
    "normalize_gamma_market",
    "normalize_gamma_markets",
    "normalize_price_history",
    "normalize_price_history_batch",
]

_PRICE = attrgetter("price")


class EventResult(NamedTuple):
    """Outcome of normalising one Gamma event.

    ``event`` is None when the event itself is invalid (its rejection is then in ``rejections``).
    Otherwise it holds the valid nested markets, and each invalid nested market is one entry of
    ``rejections``. Unpacks as ``event, rejections = normalize_gamma_event(raw)``.
    """

    event: Event | None
    rejections: list[Rejection]


def _reject(source: str, reason: str, raw: object, *id_keys: str) -> Rejection:
    return Rejection(source=source, reason=reason, record_id=record_id_of(raw, *id_keys), raw_excerpt=excerpt(raw))


def _not_object(source: str, raw: object) -> Rejection:
    return _reject(source, f"expected a JSON object, got {type(raw).__name__}", raw)


def _non_negative(value: float | None, key: str) -> float | None:
    if value is not None and value < 0:
        raise Invalid(f"field {key!r}: negative value {value!r}")
    return value


def _first_present(raw: Mapping[str, Any], *keys: str) -> float | None:
    """First present number among ``keys`` (all are validated), non-negative."""
    found: float | None = None
    for key in keys:
        value = _non_negative(opt_float(raw, key), key)
        if found is None:
            found = value
    return found


# --------------------------------------------------------------------------------------- Gamma


def _first_event_id(raw: Mapping[str, Any]) -> str | None:
    events = raw.get("events")
    if events is None:
        return None
    if not isinstance(events, list):
        raise Invalid(f"field 'events': expected array, got {type(events).__name__}")
    if events and isinstance(events[0], Mapping):
        return opt_id(events[0], "id")
    return None


def _build_market(raw: Mapping[str, Any], parent_event_id: str | None) -> Market:
    market_id = req_id(raw, "id")
    condition_id = req_id(raw, "conditionId")
    outcomes = str_list(raw, "outcomes") or []
    prices = price_list(raw, "outcomePrices")
    tokens = token_id_list(raw, "clobTokenIds") or []
    n_outcomes = len(outcomes)
    if prices is not None and outcomes and len(prices) != n_outcomes:
        raise Invalid(f"outcomePrices has {len(prices)} entries but outcomes has {n_outcomes}")
    if tokens and outcomes and len(tokens) != n_outcomes:
        raise Invalid(f"clobTokenIds has {len(tokens)} entries but outcomes has {n_outcomes}")
    if tokens and prices and len(tokens) != len(prices):
        raise Invalid(f"clobTokenIds has {len(tokens)} entries but outcomePrices has {len(prices)}")
    statuses = str_list(raw, "umaResolutionStatuses") or []
    return Market(
        market_id=market_id,
        condition_id=condition_id,
        question_id=opt_id(raw, "questionID"),
        event_id=_first_event_id(raw) or parent_event_id,
        question=opt_text(raw, "question"),
        description=opt_text(raw, "description"),
        resolution_source=opt_text(raw, "resolutionSource"),
        slug=opt_text(raw, "slug"),
        category=opt_text(raw, "category"),
        tags=tag_names(raw),
        group_item_title=opt_text(raw, "groupItemTitle"),
        outcomes=outcomes,
        outcome_prices=prices,
        clob_token_ids=tokens,
        yes_token_id=tokens[0] if tokens else None,
        no_token_id=tokens[1] if len(tokens) > 1 else None,
        start_ts=opt_ts(raw, "startDate") or opt_ts(raw, "startDateIso"),
        end_ts=opt_ts(raw, "endDate") or opt_ts(raw, "endDateIso"),
        closed_ts=opt_ts(raw, "closedTime"),
        created_ts=opt_ts(raw, "createdAt"),
        updated_ts=opt_ts(raw, "updatedAt"),
        active=opt_bool(raw, "active") or False,
        closed=opt_bool(raw, "closed") or False,
        archived=opt_bool(raw, "archived") or False,
        accepting_orders=opt_bool(raw, "acceptingOrders"),
        neg_risk=opt_bool(raw, "negRisk") or False,
        neg_risk_market_id=opt_id(raw, "negRiskMarketID"),
        volume_usd=_first_present(raw, "volumeNum", "volume"),
        liquidity_usd=_first_present(raw, "liquidityNum", "liquidity"),
        volume_24h=_non_negative(opt_float(raw, "volume24hr"), "volume24hr"),
        best_bid=opt_float(raw, "bestBid", prob=True),
        best_ask=opt_float(raw, "bestAsk", prob=True),
        last_trade_price=opt_float(raw, "lastTradePrice", prob=True),
        spread=opt_float(raw, "spread", prob=True),
        uma_resolution_status=opt_text(raw, "umaResolutionStatus"),
        uma_resolution_statuses=statuses,
        uma_bond=_non_negative(opt_float(raw, "umaBond"), "umaBond"),
        uma_reward=_non_negative(opt_float(raw, "umaReward"), "umaReward"),
        order_price_min_tick_size=opt_float(raw, "orderPriceMinTickSize", prob=True),
        order_min_size=_non_negative(opt_float(raw, "orderMinSize"), "orderMinSize"),
        p_yes=prices[0] if prices else None,
    )


def _gamma_market(raw: object, parent_event_id: str | None) -> Market | Rejection:
    if not isinstance(raw, Mapping):
        return _not_object("gamma.market", raw)
    try:
        return _build_market(raw, parent_event_id)
    except Invalid as exc:
        return _reject("gamma.market", exc.reason, raw, "id", "conditionId")


def normalize_gamma_market(raw: Mapping[str, Any]) -> Market | Rejection:
    """Normalise one Gamma market object (``/markets`` item, ``/markets/{id}``)."""
    return _gamma_market(raw, None)


def _pages(page: Iterable[Any] | Mapping[str, Any], key: str) -> Iterable[Any]:
    # Keyset responses wrap the list: {"markets": [...], "next_cursor": ...}.
    if isinstance(page, Mapping):
        inner = page.get(key)
        return inner if isinstance(inner, list) else [page]
    return page


def normalize_gamma_markets(page: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> NormalizedBatch[Market]:
    """Normalise a page of Gamma markets (bare list, or a keyset ``{"markets": [...]}`` object)."""
    records: list[Market] = []
    rejections: list[Rejection] = []
    for raw in _pages(page, "markets"):
        result = _gamma_market(raw, None)
        if isinstance(result, Rejection):
            rejections.append(result)
        else:
            records.append(result)
    return NormalizedBatch(records=records, rejections=rejections)


def _build_event(raw: Mapping[str, Any]) -> EventResult:
    event_id = req_id(raw, "id")
    nested = raw.get("markets")
    if nested is None:
        nested = []
    if not isinstance(nested, list):
        raise Invalid(f"field 'markets': expected array, got {type(nested).__name__}")
    markets: list[Market] = []
    market_ids: list[str] = []
    rejections: list[Rejection] = []
    for item in nested:
        result = _gamma_market(item, event_id)
        if isinstance(result, Rejection):
            rejections.append(result)
            member_id = record_id_of(item, "id")
            if member_id is not None:
                market_ids.append(member_id)
        else:
            markets.append(result)
            market_ids.append(result.market_id)
    event = Event(
        event_id=event_id,
        slug=opt_text(raw, "slug"),
        title=opt_text(raw, "title"),
        category=opt_text(raw, "category"),
        tags=tag_names(raw),
        active=opt_bool(raw, "active") or False,
        closed=opt_bool(raw, "closed") or False,
        archived=opt_bool(raw, "archived") or False,
        neg_risk=opt_bool(raw, "negRisk") or False,
        neg_risk_market_id=opt_id(raw, "negRiskMarketID"),
        start_ts=opt_ts(raw, "startDate"),
        end_ts=opt_ts(raw, "endDate"),
        closed_ts=opt_ts(raw, "closedTime"),
        created_ts=opt_ts(raw, "createdAt") or opt_ts(raw, "creationDate"),
        volume_usd=_non_negative(opt_float(raw, "volume"), "volume"),
        liquidity_usd=_non_negative(opt_float(raw, "liquidity"), "liquidity"),
        open_interest=_non_negative(opt_float(raw, "openInterest"), "openInterest"),
        market_ids=market_ids,
        markets=markets,
    )
    return EventResult(event, rejections)


def normalize_gamma_event(raw: Mapping[str, Any]) -> EventResult:
    """Normalise one Gamma event with its nested markets; see ``EventResult`` for the shape.

    Nested markets inherit the event's id as ``event_id`` when they carry no ``events[]``.
    """
    if not isinstance(raw, Mapping):
        return EventResult(None, [_not_object("gamma.event", raw)])
    try:
        return _build_event(raw)
    except Invalid as exc:
        return EventResult(None, [_reject("gamma.event", exc.reason, raw, "id", "slug")])


def normalize_gamma_events(page: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> NormalizedBatch[Event]:
    """Normalise a page of Gamma events; rejections include bad events and bad nested markets."""
    records: list[Event] = []
    rejections: list[Rejection] = []
    for raw in _pages(page, "events"):
        event, bad = normalize_gamma_event(raw)
        rejections.extend(bad)
        if event is not None:
            records.append(event)
    return NormalizedBatch(records=records, rejections=rejections)


# ---------------------------------------------------------------------------------------- CLOB


def _levels(raw: Mapping[str, Any], key: str) -> list[BookLevel]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"field {key!r}: expected array, got {type(value).__name__}")
    levels: list[BookLevel] = []
    for i, level in enumerate(value):
        if not isinstance(level, Mapping):
            raise Invalid(f"field {key!r}[{i}]: expected object, got {type(level).__name__}")
        price = to_float(level.get("price"), f"field {key!r}[{i}].price", prob=True)
        size = to_float(level.get("size"), f"field {key!r}[{i}].size")
        if size < 0:
            raise Invalid(f"field {key!r}[{i}].size: negative size {size!r}")
        levels.append(BookLevel(price, size))
    return levels


def _build_book(raw: Mapping[str, Any]) -> Book:
    asset_id = check_token_id(req_id(raw, "asset_id"), "field 'asset_id'")
    market = req_id(raw, "market")
    ts = opt_ts(raw, "timestamp")
    if ts is None:
        raise Invalid("missing required field 'timestamp'")
    bids = _levels(raw, "bids")
    asks = _levels(raw, "asks")
    bids.sort(key=_PRICE, reverse=True)
    asks.sort(key=_PRICE)
    return Book(
        market=market,
        asset_id=asset_id,
        ts=ts,
        hash=opt_text(raw, "hash"),
        bids=bids,
        asks=asks,
        tick_size=opt_float(raw, "tick_size", prob=True),
        min_order_size=_non_negative(opt_float(raw, "min_order_size"), "min_order_size"),
        neg_risk=opt_bool(raw, "neg_risk"),
        last_trade_price=opt_float(raw, "last_trade_price", prob=True),
    )


def normalize_book(raw: Mapping[str, Any]) -> Book | Rejection:
    """Normalise a CLOB ``/book`` response (also accepts a WS ``book`` event object).

    Bids come back sorted descending and asks ascending (best first) whatever order upstream used.
    """
    if not isinstance(raw, Mapping):
        return _not_object("clob.book", raw)
    try:
        return _build_book(raw)
    except Invalid as exc:
        return _reject("clob.book", exc.reason, raw, "asset_id", "market")


def _clob_tokens(raw: Mapping[str, Any]) -> list[ClobToken]:
    value = raw.get("tokens")
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"field 'tokens': expected array, got {type(value).__name__}")
    tokens: list[ClobToken] = []
    for i, token in enumerate(value):
        if not isinstance(token, Mapping):
            raise Invalid(f"field 'tokens'[{i}]: expected object, got {type(token).__name__}")
        what = f"field 'tokens'[{i}]"
        token_id = check_token_id(req_id(token, "token_id"), f"{what}.token_id")
        tokens.append(
            ClobToken(
                token_id=token_id,
                outcome=opt_text(token, "outcome") or "",
                price=to_float(token.get("price", 0.0), f"{what}.price", prob=True),
                winner=opt_bool(token, "winner") or False,
            )
        )
    return tokens


def normalize_clob_market(raw: Mapping[str, Any]) -> ClobMarket | Rejection:
    """Normalise a CLOB ``/markets/{condition_id}`` object (or one item of ``/markets`` data)."""
    if not isinstance(raw, Mapping):
        return _not_object("clob.market", raw)
    try:
        tags = str_list(raw, "tags") or []
        return ClobMarket(
            condition_id=req_id(raw, "condition_id"),
            question_id=opt_id(raw, "question_id"),
            question=opt_text(raw, "question"),
            market_slug=opt_text(raw, "market_slug"),
            active=opt_bool(raw, "active") or False,
            closed=opt_bool(raw, "closed") or False,
            archived=opt_bool(raw, "archived") or False,
            neg_risk=opt_bool(raw, "neg_risk"),
            end_ts=opt_ts(raw, "end_date_iso"),
            tags=tags,
            tokens=_clob_tokens(raw),
            minimum_tick_size=opt_float(raw, "minimum_tick_size", prob=True),
            minimum_order_size=_non_negative(opt_float(raw, "minimum_order_size"), "minimum_order_size"),
            is_50_50_outcome=opt_bool(raw, "is_50_50_outcome"),
        )
    except Invalid as exc:
        return _reject("clob.market", exc.reason, raw, "condition_id", "market_slug")


def normalize_price_history_batch(
    raw: Mapping[str, Any] | list[Any], *, token_id: str | None = None
) -> NormalizedBatch[PricePoint]:
    """Normalise CLOB ``/prices-history`` (``{"history": [{"t": s, "p": x}, ...]}`` or the bare list).

    Points with a bad ``t`` or a ``p`` that is non-finite or outside [0, 1] become rejections
    (``record_id`` = ``token_id``). Records are sorted by time; for duplicate times the LAST point
    in the response wins. ``t`` is unix seconds (ms values are recognised by magnitude).
    """
    source = "clob.prices_history"
    if isinstance(raw, Mapping):
        history = raw.get("history")
        if not isinstance(history, list):
            reason = "missing field 'history'" if history is None else "field 'history': expected array"
            rejection = Rejection(source=source, reason=reason, record_id=token_id, raw_excerpt=excerpt(raw))
            return NormalizedBatch(records=[], rejections=[rejection])
    elif isinstance(raw, list):
        history = raw
    else:
        rejection = _not_object(source, raw)
        return NormalizedBatch(records=[], rejections=[rejection])
    by_ts: dict[datetime, PricePoint] = {}
    rejections: list[Rejection] = []
    for point in history:
        try:
            if not isinstance(point, Mapping):
                raise Invalid(f"expected point object, got {type(point).__name__}")
            ts = opt_ts(point, "t")
            if ts is None:
                raise Invalid("missing required field 't'")
            by_ts[ts] = PricePoint(ts=ts, p=to_float(point.get("p"), "field 'p'", prob=True))
        except Invalid as exc:
            rejections.append(
                Rejection(source=source, reason=exc.reason, record_id=token_id, raw_excerpt=excerpt(point))
            )
    records = [by_ts[ts] for ts in sorted(by_ts)]
    return NormalizedBatch(records=records, rejections=rejections)


def normalize_price_history(raw: Mapping[str, Any] | list[Any]) -> list[PricePoint]:
    """Valid price points only, sorted by time and unique per time; bad points are dropped.

    Use ``normalize_price_history_batch`` to see (and count) what was dropped and why.
    """
    return normalize_price_history_batch(raw).records
